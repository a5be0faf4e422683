"""Taking access back: /members, /remove, /leave, /invites and its revoke and page buttons.

Every check asks :func:`bot.permissions.decide`, for commands and buttons alike. Roles are read
from the database on every update, so a membership ended here ends with the person's next
command or tap.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot import callbacks
from bot.context import BotContext
from bot.i18n import Language, Markup, join, plain, t
from bot.parsing import token
from bot.permissions import Action, decide
from bot.render.paging import nav_buttons, pages_of
from bot.render.text import shorten, split_lines
from handlers.common import (
    Caller,
    caller,
    command_words,
    edit,
    read_tap,
    refusal,
    reply,
    stale,
)
from handlers.departments import answer_unresolved
from handlers.membership import invite_link
from handlers.menus import refresh_chat_menu
from storage.people import Invite, Revoked, Role

log = logging.getLogger(__name__)

ALL = "*"
"""The scope of ``/invites`` alone: every department whose links the person may see."""
INVITES_PER_PAGE = 8
"""Department-choice buttons of these commands (``bot.callbacks.dept`` actions)."""
_USERNAME = re.compile(r"^@([A-Za-z0-9_]{1,32})$")
_USER_ID = re.compile(r"^[1-9]\d{0,15}$")


def _local(context: BotContext, moment: datetime, layout: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(context.settings.timezone).strftime(layout)


def person_name(full_name: str, username: str | None, user_id: int) -> str:
    """'Li Wei @liwei', or whichever of them is known, or the id."""
    name = shorten(full_name, 40) if full_name.strip() else ""
    if username:
        name = f"{name} @{username}".strip()
    return name or str(user_id)


def only_department(who: Caller) -> str | None:
    """The department meant when none is named: the person's, if they are in exactly one."""
    return next(iter(who.actor.roles)) if len(who.actor.roles) == 1 else None


async def _department(
    update: Update, context: BotContext, who: Caller, words: list[str], action: str, arg: str = ""
) -> str | None:
    """The department the words name; otherwise the choices or a hint are the answer."""
    resolution = context.resolver.resolve(" ".join(words))
    if resolution.department is None:
        await answer_unresolved(update, who, resolution, action, arg)
        return None
    return resolution.department.code


async def own_or_named_department(
    update: Update, context: BotContext, who: Caller, action: str
) -> str | None:
    """The department the command names, or, with no words, the only one the person is in;
    otherwise the usage, the choices or a hint are the answer and this is ``None``."""
    words = command_words(update)
    if words:
        return await _department(update, context, who, words, action)
    dept = only_department(who)
    if dept is None:
        command = {"mem": "members", "lv": "leave"}[action]
        await reply(update, t(who.lang, f"usage.{command}"))
    return dept


async def refresh_menu(context: BotContext, user_id: int) -> None:
    """Best effort: the person's own menu follows their role; a failure must not stop the answer."""
    try:
        await refresh_chat_menu(context, user_id)
    except TelegramError as exc:
        log.warning("menu of %s not refreshed after a membership change: %s", user_id, exc)


# --- /members -----------------------------------------------------------------------------------


async def roster(context: BotContext, who: Caller, dept: str) -> tuple[bool, list[Markup]]:
    """The department's people as messages, if this person may see them; else why not."""
    decision = decide(who.actor, Action.LIST_MEMBERS, dept=dept, chat=who.chat)
    if not decision.allowed:
        return False, [refusal(decision, who.lang, context)]
    lang = who.lang
    name = context.plan.department(dept).display(lang)
    people = await context.storage.memberships.roster(dept)
    if not people:
        return True, [t(lang, "members.none", dept=name, code=dept)]
    lines = [t(lang, "members.title", dept=name, count=len(people))]
    for person in people:
        last = person.last_report
        lines.append(
            t(
                lang,
                "members.line",
                name=person_name(person.full_name, person.username, person.user_id),
                user_id=person.user_id,
                role=t(lang, f"people.role.{person.role.value}"),
                joined=_local(context, person.joined_at, "%Y-%m-%d"),
                last=_local(context, last) if last else t(lang, "members.never"),
            )
        )
    if decide(who.actor, Action.REMOVE_MEMBER, dept=dept, chat=who.chat).allowed:
        lines.append(Markup("\n") + t(lang, "members.hint", code=dept))
    return True, split_lines(lines)


async def members_command(update: Update, context: BotContext) -> None:
    """/members <dept>: who is in a department, with role, joined date and last report."""
    who = await caller(update, context)
    dept = await own_or_named_department(update, context, who, "mem")
    if dept is None:
        return
    for text in (await roster(context, who, dept))[1]:
        await reply(update, text)


# --- /remove and /leave ----------------------------------------------------------------------


async def remove_from(
    context: BotContext, who: Caller, dept: str, user_id: int, typed: str, *, by_reply: bool = False
) -> tuple[bool, Markup]:
    """End someone's membership if this person may: (True, what was done) or (False, why not).

    ``typed`` is how the person was named (their name, when chosen by replying to them).
    """
    if not (decision := decide(who.actor, Action.REMOVE_MEMBER, dept=dept, chat=who.chat)).allowed:
        return False, refusal(decision, who.lang, context)
    department = context.plan.department(dept).display(who.lang)
    user = await context.storage.users.get(user_id)
    if user is None and not by_reply:
        return False, t(who.lang, "error.user_unknown", given=typed[:40])
    name = person_name(user.full_name, user.username, user_id) if user else shorten(typed, 40)
    membership = await context.storage.memberships.get(user_id, dept)
    if membership is None:
        return False, t(who.lang, "error.not_a_member", name=name, dept=department)
    if membership.role is Role.MANAGER:
        decision = decide(who.actor, Action.REMOVE_MANAGER, dept=dept, chat=who.chat)
        if not decision.allowed:
            return False, refusal(decision, who.lang, context)
    # Only the role that was allowed: a promotion made meanwhile is not undone by this.
    if not await context.storage.memberships.remove(user_id, dept, role=membership.role):
        return await remove_from(context, who, dept, user_id, typed, by_reply=by_reply)
    log.info("user %s removed %s from %s", who.user_id, user_id, dept)
    return True, t(who.lang, "remove.done", name=name, dept=department)


def _named_user(word: str) -> tuple[str | None, int | None]:
    """(username, None) for ``@name``, (None, id) for digits, (None, None) otherwise."""
    folded = unicodedata.normalize("NFKC", token(word))
    if match := _USERNAME.match(folded):
        return match.group(1), None
    if _USER_ID.match(folded):
        return None, int(folded)
    return None, None


async def remove_command(update: Update, context: BotContext) -> None:
    """/remove <dept> <@username|user id>, or /remove <dept> replying to the person's message."""
    who = await caller(update, context)
    message = update.effective_message
    assert message is not None
    words = command_words(update)
    username, user_id = _named_user(words[-1]) if len(words) >= 2 else (None, None)
    typed = words[-1] if words else ""
    by_reply = False
    if username is not None or user_id is not None:
        words = words[:-1]
    elif message.reply_to_message is not None and words:
        replied = message.reply_to_message.from_user
        if replied is None or replied.is_bot:
            await reply(update, t(who.lang, "error.reply_to_person"))
            return
        user_id, typed, by_reply = replied.id, replied.full_name, True
    else:
        key = "error.user_form" if len(words) >= 2 else "usage.remove"
        await reply(update, t(who.lang, key, given=typed[:40]))
        return
    resolution = context.resolver.resolve(" ".join(words))
    if resolution.department is not None:  # who may, before anything is said about the person
        dept = resolution.department.code
        decision = decide(who.actor, Action.REMOVE_MEMBER, dept=dept, chat=who.chat)
        if not decision.allowed:
            await reply(update, refusal(decision, who.lang, context))
            return
    if username is not None:
        user = await context.storage.users.by_username(username)
        if user is None:
            await reply(update, t(who.lang, "error.user_unknown", given=typed[:40]))
            return
        user_id = user.user_id
    assert user_id is not None
    if resolution.department is None:
        await answer_unresolved(update, who, resolution, "rm", str(user_id))
        return
    dept = resolution.department.code
    done, text = await remove_from(context, who, dept, user_id, typed, by_reply=by_reply)
    await reply(update, text)
    if done:
        await refresh_menu(context, user_id)


async def leave(context: BotContext, who: Caller, dept: str) -> tuple[bool, Markup]:
    """End one's own membership: (True, done) or (False, why not)."""
    decision = decide(who.actor, Action.LEAVE, dept=dept, chat=who.chat)
    if not decision.allowed:
        return False, refusal(decision, who.lang, context)
    if not await context.storage.memberships.remove(who.user_id, dept):
        return False, t(
            who.lang, "refused.leave", dept=context.plan.department(dept).display(who.lang)
        )
    log.info("user %s left %s", who.user_id, dept)
    return True, t(who.lang, "leave.done", dept=context.plan.department(dept).display(who.lang))


async def leave_command(update: Update, context: BotContext) -> None:
    """/leave <dept> (or /leave alone, for someone in exactly one department)."""
    who = await caller(update, context)
    dept = await own_or_named_department(update, context, who, "lv")
    if dept is None:
        return
    done, text = await leave(context, who, dept)
    await reply(update, text)
    if done:
        await refresh_menu(context, who.user_id)


# --- /invites -------------------------------------------------------------------------------------


async def invites_listing(
    context: BotContext, who: Caller, scope: str, page: int = 1
) -> tuple[bool, Markup, InlineKeyboardMarkup | None]:
    """A page of the open invite links this person may see in ``scope`` (a department or
    :data:`ALL`), each with a revoke button; or (False, why not, None)."""
    lang = who.lang
    decision = decide(
        who.actor, Action.MANAGE_INVITES, dept=None if scope == ALL else scope, chat=who.chat
    )
    if not decision.allowed:
        return False, refusal(decision, lang, context), None
    depts = [scope] if scope != ALL else None if who.actor.is_admin else list(who.actor.roles)
    invites = [
        invite
        for invite in await context.storage.invites.outstanding(depts)
        if decide(
            who.actor, Action.MANAGE_INVITES, dept=invite.dept, chat=who.chat,
            manager_invite=invite.role is Role.MANAGER,
        ).allowed
    ]  # fmt: skip
    if not invites:
        return True, t(lang, "invites.none"), None
    page, pages = pages_of(len(invites), INVITES_PER_PAGE, page)
    first = (page - 1) * INVITES_PER_PAGE
    shown = invites[first : first + INVITES_PER_PAGE]
    lines = [t(lang, "invites.title", count=len(invites))]
    if pages > 1:
        lines.append(t(lang, "list.page", page=page, pages=pages))
    buttons: list[InlineKeyboardButton] = []
    for n, invite in enumerate(shown, start=first + 1):
        lines.append(Markup("\n") + await _invite_line(context, invite, n, lang))
        label = plain(t(lang, "button.revoke", n=n), 40)
        data = callbacks.revoke(invite.code, scope, page)
        buttons.append(InlineKeyboardButton(label, callback_data=data))
    rows = [buttons[i : i + 4] for i in range(0, len(buttons), 4)]
    nav = nav_buttons(page, pages, lang, lambda n: callbacks.invites_page(scope, n))
    return True, join(lines), InlineKeyboardMarkup([*rows, nav] if nav else rows)


async def _invite_line(context: BotContext, invite: Invite, n: int, lang: Language) -> Markup:
    creator = await context.storage.users.get(invite.created_by)
    by = (
        person_name(creator.full_name, creator.username, creator.user_id)
        if creator
        else str(invite.created_by)
    )
    return t(
        lang,
        "invites.line",
        n=n,
        dept=context.plan.department(invite.dept).display(lang),
        role=t(lang, f"people.role.{invite.role.value}"),
        by=by,
        expires=_local(context, invite.expires_at),
        link=invite_link(context, invite.code),
    )


async def invites_command(update: Update, context: BotContext) -> None:
    """/invites [dept]: the open invite links, each with a revoke button."""
    who = await caller(update, context)
    words = command_words(update)
    scope = ALL if not words else await _department(update, context, who, words, "ivs")
    if scope is None:
        return
    _, text, keyboard = await invites_listing(context, who, scope)
    await reply(update, text, keyboard)


def _known_scope(context: BotContext, scope: str) -> bool:
    return scope == ALL or scope in context.plan.department_by_code


async def invites_tap(update: Update, context: BotContext) -> None:
    """‹ / › under /invites: the page, permission checked again."""
    pressed = await read_tap(
        update, context, callbacks.parse_invites_page, lambda d: _known_scope(context, d.scope)
    )
    if pressed is None:
        return
    query, who, tap = pressed.query, pressed.who, pressed.data
    allowed, text, keyboard = await invites_listing(context, who, tap.scope, tap.page)
    if not allowed:
        await query.answer(plain(text), show_alert=True)
        return
    await query.answer()
    await edit(pressed.message, text, keyboard)


async def revoke_tap(update: Update, context: BotContext) -> None:
    """A revoke button: the invite's own department decides, then the list is shown again."""
    pressed = await read_tap(
        update, context, callbacks.parse_revoke, lambda d: _known_scope(context, d.scope)
    )
    if pressed is None:
        return
    query, who, tap = pressed.query, pressed.who, pressed.data
    invite = await context.storage.invites.get(tap.code)
    if invite is None:
        await stale(query, who)
        return
    decision = decide(
        who.actor, Action.MANAGE_INVITES, dept=invite.dept, chat=who.chat,
        manager_invite=invite.role is Role.MANAGER,
    )  # fmt: skip
    if not decision.allowed:
        await query.answer(plain(refusal(decision, who.lang, context)), show_alert=True)
        return
    outcome = await context.storage.invites.revoke(invite.code, by=who.user_id)
    if outcome is Revoked.REVOKED:
        log.info("user %s revoked an invite to %s", who.user_id, invite.dept)
    text = t(
        who.lang,
        f"revoke.{outcome.value}",
        dept=context.plan.department(invite.dept).display(who.lang),
        role=t(who.lang, f"people.role.{invite.role.value}"),
    )
    await query.answer(plain(text))
    allowed, listing, keyboard = await invites_listing(context, who, tap.scope, tap.page)
    if allowed:
        await edit(pressed.message, listing, keyboard)


# --- department-choice buttons -----------------------------------------------------------------


async def dept_tap(update: Update, context: BotContext) -> None:
    """A department chosen from the buttons of an ambiguous /members, /remove, /leave, /invites:
    the same checks as the command; a refusal is the toast and the message stays."""
    pressed = await read_tap(
        update, context, callbacks.parse_dept, lambda d: d.dept in context.plan.department_by_code
    )
    if pressed is None:
        return
    query, message, who, tap = pressed.query, pressed.message, pressed.who, pressed.data
    keyboard: InlineKeyboardMarkup | None = None
    more: list[Markup] = []
    if tap.action == "mem":
        done, (text, *more) = await roster(context, who, tap.dept)
    elif tap.action == "rm" and _USER_ID.match(tap.arg):
        done, text = await remove_from(context, who, tap.dept, int(tap.arg), tap.arg)
    elif tap.action == "lv":
        done, text = await leave(context, who, tap.dept)
    elif tap.action == "ivs":
        done, text, keyboard = await invites_listing(context, who, tap.dept)
    else:
        await stale(query, who)
        return
    if not done:
        await query.answer(plain(text), show_alert=True)
        return
    await query.answer()
    await edit(message, text, keyboard)
    for extra in more:
        await context.bot.send_message(message.chat_id, extra, disable_web_page_preview=True)
    if tap.action in ("rm", "lv"):
        await refresh_menu(context, int(tap.arg) if tap.action == "rm" else who.user_id)
