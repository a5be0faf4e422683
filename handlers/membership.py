"""Joining and belonging: /start (with join-<code> and task-<n>), /help, /invite, /bind, /unbind,
the department choice buttons, and /lang."""

from __future__ import annotations

import logging

from telegram import Update

from bot import callbacks
from bot.commands import available, level
from bot.context import BotContext
from bot.i18n import Language, Markup, join, plain, t
from bot.parsing import clean, parse_task_number
from bot.permissions import Action, decide
from bot.statuses import fold
from handlers.cards import send_card
from handlers.common import (
    Caller,
    caller,
    check,
    command_text,
    command_words,
    edit,
    read_args,
    read_tap,
    refusal,
    reply,
    stale,
)
from handlers.departments import answer_unresolved
from handlers.menus import refresh_chat_menu
from handlers.subscriptions import change
from storage.people import WHOLE_PLAN, Redeemed, Role
from storage.subscriptions import Follow

log = logging.getLogger(__name__)

MANAGER_WORDS = {"manager", "mgr", "管理者", "负责人", "经理"}
WHOLE_PLAN_WORDS = {"all", "*", "全部", "整体", "全局", "所有"}
LANGUAGE_WORDS: dict[str, Language] = {
    "zh": "zh", "cn": "zh", "中文": "zh", "chinese": "zh", "汉语": "zh",
    "en": "en", "english": "en", "英文": "en", "英语": "en",
}  # fmt: skip


# --- /start and /help -------------------------------------------------------------------------


async def start_command(update: Update, context: BotContext) -> None:
    """/start, /start join-<code>, /start task-<n>."""
    who = await caller(update, context)
    payload = clean(command_text(update))
    if payload.startswith("join-"):
        await join_department(update, context, who, payload.removeprefix("join-"))
        return
    if payload.startswith("task-"):
        word, count = payload.removeprefix("task-"), len(context.plan.tasks)
        number = await read_args(update, who, lambda: parse_task_number(word, count))
        if number is not None:
            await send_card(update, context, who, number)
        return
    lines = [t(who.lang, "start.hello", name=who.name, title=context.plan.title)]
    if payload:
        lines.append(t(who.lang, "start.unknown_payload"))
    lines.append(role_line(context, who))
    lines.append(t(who.lang, f"start.next.{level(who.actor).name.lower()}"))
    await reply(update, join(lines, "\n\n"))
    if not who.actor.is_stranger and not who.chat.is_group:
        await refresh_chat_menu(context, who.user_id)


def role_line(context: BotContext, who: Caller) -> Markup:
    parts = []
    if who.actor.is_admin:
        parts.append(t(who.lang, "role.admin"))
    for dept, role in who.actor.roles.items():
        name = context.plan.department(dept).display(who.lang)
        parts.append(t(who.lang, f"role.{role.value}", dept=name))
    if not parts:
        parts.append(t(who.lang, "role.anyone"))
    return t(
        who.lang,
        "role.line",
        roles=Markup("；".join(parts) if who.lang == "zh" else "; ".join(parts)),
    )


async def join_department(update: Update, context: BotContext, who: Caller, code: str) -> None:
    if who.chat.is_group:
        await reply(update, t(who.lang, "join.private_only"))
        return
    redemption = await context.storage.invites.redeem(
        code, who.user_id, source_update=who.update_id
    )
    if redemption.outcome is not Redeemed.JOINED or redemption.invite is None:
        await reply(update, t(who.lang, f"join.{redemption.outcome.value}"))
        return
    invite = redemption.invite
    dept = context.plan.department(invite.dept)
    led = len(context.plan.tasks_of(dept.code, lead_only=True))
    total = len(context.plan.tasks_of(dept.code))
    lines = [
        t(who.lang, f"join.joined.{invite.role.value}", dept=dept.display(who.lang)),
        t(who.lang, "join.tasks", led=led, joined=total - led),
        t(who.lang, "join.next"),
    ]
    if invite.role is Role.MANAGER:
        lines.append(t(who.lang, "join.manager_next", code=dept.code))
    await reply(update, join(lines, "\n"))  # first: the invite is spent, the menu is extra
    await refresh_chat_menu(context, who.user_id)


async def help_command(update: Update, context: BotContext) -> None:
    """/help: the commands this person may use here, one example each."""
    who = await caller(update, context)
    commands = available(context.commands, level(who.actor), who.chat.is_group)
    if who.chat.is_group and not decide(who.actor, Action.CHAT_SETTINGS, chat=who.chat).allowed:
        commands = [c for c in commands if c.name != "lang"]
    lines = [t(who.lang, "help.title"), role_line(context, who), Markup("")]
    lines += [t(who.lang, c.help_key) for c in commands]
    if who.chat.is_group:
        binding = who.chat.binding
        if binding == WHOLE_PLAN:
            lines.append(Markup("\n") + t(who.lang, "help.bound_all"))
        elif binding:
            name = context.plan.department(binding).display(who.lang)
            lines.append(Markup("\n") + t(who.lang, "help.bound", dept=name))
    await reply(update, join(lines))


# --- /invite ------------------------------------------------------------------------------------


async def invite_command(update: Update, context: BotContext) -> None:
    """/invite <dept> [manager]: a single-use link, valid 7 days."""
    who = await caller(update, context)
    words = command_words(update)
    manager = bool(words) and fold(words[-1]) in MANAGER_WORDS
    if manager:
        words = words[:-1]
    if not words:
        await reply(update, t(who.lang, "usage.invite"))
        return
    if not (await check(update, who, context, Action.INVITE, manager_invite=manager)).allowed:
        return
    resolution = context.resolver.resolve(" ".join(words))
    if resolution.department is None:
        await answer_unresolved(update, who, resolution, "inv", "m" if manager else "")
        return
    _, text = await invite_for(context, who, resolution.department.code, manager)
    await reply(update, text)


async def invite_for(
    context: BotContext, who: Caller, dept: str, manager: bool
) -> tuple[bool, Markup]:
    """Create the invite if allowed: (True, the link) or (False, why not)."""
    decision = decide(who.actor, Action.INVITE, dept=dept, chat=who.chat, manager_invite=manager)
    if not decision.allowed:
        return False, refusal(decision, who.lang, context)
    role = Role.MANAGER if manager else Role.MEMBER
    invite = await context.storage.invites.create(dept, role, created_by=who.user_id)
    link = invite_link(context, invite.code)
    name = context.plan.department(dept).display(who.lang)
    expires = invite.expires_at.astimezone(context.settings.timezone).strftime("%Y-%m-%d %H:%M")
    return True, t(who.lang, f"invite.link.{role.value}", dept=name, link=link, expires=expires)


def invite_link(context: BotContext, code: str) -> str:
    """The deep link that opens ``/start join-<code>`` with this bot."""
    return f"https://t.me/{context.bot.username}?start=join-{code}"


# --- /bind and /unbind --------------------------------------------------------------------------


async def bind_command(update: Update, context: BotContext) -> None:
    """/bind <dept|all>: tie this group to a department, or to the whole plan."""
    who = await caller(update, context)
    query = " ".join(command_words(update))
    if not who.chat.is_group:
        await reply(update, t(who.lang, "refused.group_only"))
        return
    if not query:
        await reply(update, t(who.lang, "usage.bind"))
        return
    if fold(query) in WHOLE_PLAN_WORDS:
        await reply(update, (await bind_to(context, who, WHOLE_PLAN))[1])
        return
    resolution = context.resolver.resolve(query)
    if resolution.department is None:
        await answer_unresolved(update, who, resolution, "bind")
        return
    await reply(update, (await bind_to(context, who, resolution.department.code))[1])


async def bind_to(context: BotContext, who: Caller, binding: str) -> tuple[bool, Markup]:
    """Bind if allowed: (True, what it means) or (False, why not)."""
    decision = decide(who.actor, Action.BIND, dept=binding, chat=who.chat)
    if not decision.allowed:
        return False, refusal(decision, who.lang, context)
    await context.storage.chats.bind(who.chat.chat_id, binding, by=who.user_id)
    if binding == WHOLE_PLAN:
        return True, t(who.lang, "bind.all", count=len(context.plan.tasks))
    dept = context.plan.department(binding)
    led = len(context.plan.tasks_of(binding, lead_only=True))
    return True, t(
        who.lang,
        "bind.dept",
        dept=dept.display(who.lang),
        count=len(context.plan.tasks_of(binding)),
        led=led,
    )


async def unbind_command(update: Update, context: BotContext) -> None:
    """/unbind: untie this group."""
    who = await caller(update, context)
    if who.chat.is_group and who.chat.binding is None:
        await reply(update, t(who.lang, "unbind.none"))
        return
    if not (await check(update, who, context, Action.UNBIND)).allowed:
        return
    previous = await context.storage.chats.unbind(who.chat.chat_id)
    if previous == WHOLE_PLAN or previous is None:
        await reply(update, t(who.lang, "unbind.done_all"))
    else:
        await reply(
            update,
            t(who.lang, "unbind.done", dept=context.plan.department(previous).display(who.lang)),
        )


async def dept_tap(update: Update, context: BotContext) -> None:
    """A department chosen from the buttons of an ambiguous /bind or /invite."""
    pressed = await read_tap(
        update,
        context,
        callbacks.parse_dept,
        lambda d: (
            d.dept in context.plan.department_by_code
            or (d.dept == WHOLE_PLAN and d.action == "bind")
        ),
    )
    if pressed is None:
        return
    query, who, tap = pressed.query, pressed.who, pressed.data
    if tap.action == "bind" and who.chat.is_group:
        done, text = await bind_to(context, who, tap.dept)
    elif tap.action == "inv" and tap.arg in ("", "m"):
        done, text = await invite_for(context, who, tap.dept, tap.arg == "m")
    elif tap.action in ("sub", "uns") and tap.dept != WHOLE_PLAN:
        done, text = await change(context, who, Follow.DEPT, tap.dept, tap.action == "sub")
    else:
        await stale(query, who)
        return
    if not done:  # a refusal goes in the toast; the message stays as it was
        await query.answer(plain(text), show_alert=True)
        return
    await query.answer()
    await edit(pressed.message, text, None)


# --- /lang --------------------------------------------------------------------------------------


async def lang_command(update: Update, context: BotContext) -> None:
    """/lang <zh|en>: the language of this chat."""
    who = await caller(update, context)
    words = command_words(update)
    choice = LANGUAGE_WORDS.get(fold(words[0])) if len(words) == 1 else None
    if choice is None:
        await reply(update, t(who.lang, "usage.lang"))
        return
    if not (await check(update, who, context, Action.CHAT_SETTINGS)).allowed:
        return
    await context.storage.chats.set_language(who.chat.chat_id, choice)
    await reply(update, t(choice, "lang.set"))
