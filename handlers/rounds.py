"""The supervision round: /round to see it; the office's /round new, /round close and
/round export; the page buttons of its lists.

What /round shows depends on where it is asked: in a group bound to a department, that
department's own list; in the whole-plan group or an admin's private chat, the office's summary;
in a member's private chat, the lists of their departments. :func:`bot.permissions.decide`
says who may see which, for the command and every page button alike.
"""

from __future__ import annotations

import logging

from telegram import Update

from bot import callbacks
from bot.context import BotContext
from bot.i18n import join, plain, t
from bot.parsing import ArgumentError, clean, parse_date, split_first
from bot.permissions import Action, decide
from bot.plan import Plan
from bot.render.rounds import Rendered, RoundView
from bot.rounds import (
    EXPORT_FORMATS,
    Format,
    department_view,
    export_round,
    local_date,
    missing_view,
    office_view,
    owed_statements,
    view_of,
)
from bot.statuses import fold
from handlers.common import (
    Caller,
    caller,
    check,
    command_text,
    edit,
    read_tap,
    refusal,
    reply,
    stale,
)
from storage.people import WHOLE_PLAN
from storage.rounds import Opened, Round

log = logging.getLogger(__name__)

NEW_WORDS = {"new", "open", "start", "新建", "发起", "开始"}
CLOSE_WORDS = {"close", "end", "结束", "关闭"}
EXPORT_WORDS = {"export", "导出"}
TITLE_LIMIT = 200


def _view(context: BotContext, round_: Round) -> RoundView | None:
    plan = context.plans.get(round_.plan_year)
    if plan is None:
        return None
    return view_of(round_, plan, context.storage.db.clock(), context.settings.timezone)


async def round_command(update: Update, context: BotContext) -> None:
    """/round [new <due> <title>|close|export [docx|xlsx]]."""
    who = await caller(update, context)
    first, rest = split_first(command_text(update))
    word = fold(first)
    if not first:
        await show(update, context, who)
    elif word in NEW_WORDS:
        await open_round(update, context, who, rest)
    elif word in CLOSE_WORDS and not rest:
        await close_round(update, context, who)
    elif word in EXPORT_WORDS and fold(rest) in ("", *EXPORT_FORMATS):
        await export(update, context, who, EXPORT_FORMATS.get(fold(rest), "docx"))
    else:
        await reply(update, t(who.lang, "usage.round"))


# --- seeing it ---------------------------------------------------------------------------------


async def render(
    context: BotContext, who: Caller, view: RoundView, scope: str, page: int = 1
) -> Rendered:
    """A page of the list ``scope`` names: a department's, the office's, or what is missing."""
    storage, lang = context.storage, who.lang
    if scope == callbacks.ROUND_OFFICE:
        return await office_view(storage, view, page=page, lang=lang)
    if scope == callbacks.ROUND_MISSING:
        return await missing_view(storage, view, page=page, lang=lang)
    return await department_view(storage, view, scope, page=page, lang=lang)


async def show(update: Update, context: BotContext, who: Caller) -> None:
    """/round: the open round (else the last one), as this chat may see it."""
    round_ = await context.storage.rounds.latest()
    view = _view(context, round_) if round_ is not None else None
    if view is None:
        await reply(update, t(who.lang, "round.none"))
        return
    chat = who.chat
    if chat.is_group:
        scope = chat.binding or (WHOLE_PLAN if who.actor.is_admin else None)
        if scope is None:
            await reply(update, t(who.lang, "round.unbound_group"))
            return
        scopes = [scope]
    elif who.actor.is_admin:
        scopes = [WHOLE_PLAN]
    else:
        scopes = [code for code in who.actor.roles if code in view.plan.department_by_code]
        scopes = scopes or [WHOLE_PLAN]  # someone in no department: told who may see it
    for scope in scopes:
        if not (await check(update, who, context, Action.VIEW_ROUND, dept=scope)).allowed:
            return
        if scope != WHOLE_PLAN and scope not in view.plan.department_by_code:
            await reply(update, t(who.lang, "round.dept_nothing"))
            continue
        shown = await render(context, who, view, _scope(scope))
        await reply(update, shown.text, shown.keyboard)


def _scope(dept: str) -> str:
    """The page scope of a permission's department (the office's summary for the whole plan)."""
    return callbacks.ROUND_OFFICE if dept == WHOLE_PLAN else dept


async def page_tap(update: Update, context: BotContext) -> None:
    """‹ / › and the other buttons between a round's lists: checked again, edited in place."""
    pressed = await read_tap(update, context, callbacks.parse_round_page)
    if pressed is None:
        return
    query, who, tap = pressed.query, pressed.who, pressed.data
    round_ = await context.storage.rounds.get(tap.round_id)
    view = _view(context, round_) if round_ is not None else None
    office = tap.scope in (callbacks.ROUND_OFFICE, callbacks.ROUND_MISSING)
    if view is None or not (office or tap.scope in view.plan.department_by_code):
        await stale(query, who)
        return
    dept = WHOLE_PLAN if office else tap.scope
    decision = decide(who.actor, Action.VIEW_ROUND, dept=dept, chat=who.chat)
    if not decision.allowed:
        await query.answer(plain(refusal(decision, who.lang, context)), show_alert=True)
        return
    shown = await render(context, who, view, tap.scope, tap.page)
    await query.answer()
    await edit(pressed.message, shown.text, shown.keyboard)


# --- the office's commands -------------------------------------------------------------------


async def open_round(update: Update, context: BotContext, who: Caller, rest: str) -> None:
    """/round new <due> <title>: the round, its slots and every request, in one transaction."""
    if not (await check(update, who, context, Action.MANAGE_ROUND)).allowed:
        return
    word, title = split_first(rest)
    title = clean(title)
    if not word or not title:
        await reply(update, t(who.lang, "usage.round"))
        return
    zone = context.settings.timezone
    today = local_date(context.storage.db.clock(), zone)
    try:
        due = parse_date(word, today)
    except ArgumentError as exc:
        await reply(update, t(who.lang, exc.key, **exc.fields))
        return
    if due < today:
        await reply(update, t(who.lang, "error.date_past", given=due.isoformat()))
        return
    if len(title) > TITLE_LIMIT:
        await reply(update, t(who.lang, "error.round_title", length=len(title), limit=TITLE_LIMIT))
        return
    plan = context.plan
    owed = owed_statements(plan)
    opening = await context.storage.rounds.open(
        title, due, opened_by=who.user_id, owed=owed, source_update=who.update_id
    )
    round_, lang = opening.round, who.lang
    if opening.outcome is Opened.ALREADY_OPEN:
        text = t(lang, "round.already_open", title=round_.title, due=round_.due.isoformat())
        await reply(update, text)
        return
    log.info("round %d opened by %s: %d requests", round_.id, who.user_id, opening.requests)
    lines = [
        t(lang, "round.opened", title=round_.title, due=round_.due.isoformat(),
          weekday=t(lang, f"weekday.{round_.due.isoweekday()}"),
          depts=len({o.dept for o in owed}), count=len(owed), chats=opening.requests)
    ]  # fmt: skip
    if opening.unreached:
        names = _names(plan, opening.unreached, who)
        lines.append(t(lang, "round.unreached", n=len(opening.unreached), names=names))
    await reply(update, join(lines, "\n\n"))
    await context.round_keeper.owe_due()  # a reminder whose moment has passed goes at once
    context.wake_sender()


NAMES_SHOWN = 8
"""Departments named in the answer to /round new when no request could reach them."""


def _names(plan: Plan, codes: tuple[str, ...], who: Caller) -> str:
    """The first few departments' names, and that there are more ('…等', ', …')."""
    separator = "、" if who.lang == "zh" else ", "
    names = separator.join(plan.department(code).display(who.lang) for code in codes[:NAMES_SHOWN])
    if len(codes) > NAMES_SHOWN:
        names += "等" if who.lang == "zh" else ", …"
    return names


async def close_round(update: Update, context: BotContext, who: Caller) -> None:
    """/round close: statements are refused from now on; the round shows as closed."""
    if not (await check(update, who, context, Action.MANAGE_ROUND)).allowed:
        return
    current = await context.storage.rounds.current()
    closed = None
    if current is not None:
        closed = await context.storage.rounds.close(
            current.id, by=who.user_id, source_update=who.update_id
        )
    if closed is None:
        await reply(update, t(who.lang, "round.no_open"))
        return
    tallies = await context.storage.rounds.tally(closed.id)
    owed = sum(x.owed for x in tallies)
    late = sum(x.late for x in tallies)
    missing = sum(x.missing for x in tallies)
    log.info("round %d closed by %s", closed.id, who.user_id)
    await reply(
        update,
        t(who.lang, "round.closed", title=closed.title, count=owed, done=owed - missing,
          late=late, missing=missing),
    )  # fmt: skip


async def export(update: Update, context: BotContext, who: Caller, fmt: Format) -> None:
    """/round export [docx|xlsx]: the compiled round as the office's document."""
    if not (await check(update, who, context, Action.MANAGE_ROUND)).allowed:
        return
    round_ = await context.storage.rounds.latest()
    plan = context.plans.get(round_.plan_year) if round_ is not None else None
    if round_ is None or plan is None:
        await reply(update, t(who.lang, "round.none"))
        return
    made = await export_round(
        context.storage, plan, round_, fmt=fmt, lang=who.lang, zone=context.settings.timezone
    )
    message = update.effective_message
    assert message is not None
    await message.reply_document(
        made.data, filename=made.filename, caption=made.caption, do_quote=who.chat.is_group
    )
