"""/scorecard: departments side by side, worst first, and its ‹ › page buttons.

What it shows depends on where it is asked: in a group bound to a department, that
department's row; in the whole-plan group or an admin's private chat, every department; in a
member's private chat, the rows of their departments. :func:`bot.permissions.decide` says who
may see which, for the command and every page button alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update

from bot import callbacks
from bot.context import BotContext
from bot.i18n import plain, t
from bot.permissions import Action, Decision, allow, decide
from bot.render.rounds import Rendered
from bot.render.scorecard import scorecard_page
from bot.rounds import local_date
from bot.scorecard import scorecard
from handlers.common import Caller, caller, command_words, edit, read_tap, refusal, reply
from storage.people import WHOLE_PLAN

MINE = callbacks.SCORECARD_MINE


def scope_here(who: Caller) -> str:
    """What /scorecard shows here: the bound department's row, every department
    (``WHOLE_PLAN``), or the asker's own departments (``MINE``)."""
    chat = who.chat
    if chat.is_group and chat.binding:
        return chat.binding
    if who.actor.is_admin or not who.actor.roles:
        return WHOLE_PLAN  # someone in no department asks for it all, and is told why not
    return MINE


@dataclass(frozen=True)
class Visible:
    decision: Decision
    depts: list[str] | None
    """The departments whose rows are shown; ``None``: every department."""


def visible(who: Caller, scope: str, context: BotContext) -> Visible:
    """Whether ``who`` may see ``scope`` here, and which rows it is: every department's rows,
    one department's, or each of the asker's own departments (each one asked of ``decide``)."""
    if scope == MINE:
        depts = [code for code in who.actor.roles if code in context.plan.department_by_code]
        if not depts:
            return visible(who, WHOLE_PLAN, context)
        for dept in depts:
            decision = decide(who.actor, Action.SEE_SCORECARD, dept=dept, chat=who.chat)
            if not decision.allowed:
                return Visible(decision, None)
        return Visible(allow(), depts)
    decision = decide(who.actor, Action.SEE_SCORECARD, dept=scope, chat=who.chat)
    return Visible(decision, None if scope == WHOLE_PLAN else [scope])


async def render(
    context: BotContext, who: Caller, scope: str, shown: Visible, page: int
) -> Rendered:
    plan, now = context.plan, context.storage.db.clock()
    card = await scorecard(context.storage, plan, today=local_date(now, context.settings.timezone))
    rows = card.rows if shown.depts is None else card.of(shown.depts)
    return scorecard_page(card, plan, rows, scope=scope, page=page, now=now, lang=who.lang)


async def scorecard_command(update: Update, context: BotContext) -> None:
    """/scorecard: the departments this chat may see, worst first, ten a page."""
    who = await caller(update, context)
    if command_words(update):
        await reply(update, t(who.lang, "usage.scorecard"))
        return
    scope = scope_here(who)
    shown = visible(who, scope, context)
    if not shown.decision.allowed:
        await reply(update, refusal(shown.decision, who.lang, context))
        return
    page = await render(context, who, scope, shown, 1)
    await reply(update, page.text, page.keyboard)


async def page_tap(update: Update, context: BotContext) -> None:
    """‹ / › under the scorecard: checked again (roles and bindings may have changed since),
    then the page edited in place."""

    def known(tap: callbacks.ScorecardPage) -> bool:
        return tap.scope in (WHOLE_PLAN, MINE) or tap.scope in context.plan.department_by_code

    pressed = await read_tap(update, context, callbacks.parse_scorecard, known)
    if pressed is None:
        return
    query, who, tap = pressed.query, pressed.who, pressed.data
    shown = visible(who, tap.scope, context)
    if not shown.decision.allowed:
        await query.answer(plain(refusal(shown.decision, who.lang, context)), show_alert=True)
        return
    page = await render(context, who, tap.scope, shown, tap.page)
    await query.answer()
    await edit(pressed.message, page.text, page.keyboard)
