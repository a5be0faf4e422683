"""What every handler needs first: who is asking, where, in which language; and how to answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot.context import BotContext
from bot.i18n import Language, Markup, pick_language, plain, t
from bot.parsing import ArgumentError, clean
from bot.permissions import Action, Actor, Decision, decide
from bot.plan import Task
from storage.people import Chat

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """The person behind an update, as the database knows them, and the chat they are in."""

    user_id: int
    name: str
    actor: Actor
    chat: Chat
    lang: Language
    update_id: int
    """The Telegram update being handled: writes carry it, so handling it twice writes once."""


async def remember(update: Update, context: BotContext) -> None:
    """Record the user and the chat, writing only when Telegram describes them differently."""
    user, chat = update.effective_user, update.effective_chat
    seen = context.bot_data.seen
    if user is not None and not user.is_bot:
        profile = (user.full_name, user.username, user.language_code)
        if seen.get(("user", user.id)) != profile:
            await context.storage.users.seen(
                user.id,
                full_name=user.full_name,
                username=user.username,
                language=user.language_code,
            )
            seen[("user", user.id)] = profile
    if chat is not None:
        described = (chat.type, chat.title or "")
        if seen.get(("chat", chat.id)) != described:
            await context.storage.chats.seen(chat.id, type=chat.type, title=chat.title or "")
            seen[("chat", chat.id)] = described


async def caller(update: Update, context: BotContext) -> Caller:
    user, tg_chat = update.effective_user, update.effective_chat
    assert user is not None and tg_chat is not None, "handlers are registered for user updates"
    chat = await context.storage.chats.get(tg_chat.id)
    if chat is None:  # `remember` runs first; this only happens if the row was removed meanwhile
        await context.storage.chats.seen(tg_chat.id, type=tg_chat.type, title=tg_chat.title or "")
        chat = await context.storage.chats.get(tg_chat.id)
        assert chat is not None
    memberships = await context.storage.memberships.of_user(user.id)
    actor = Actor(
        user_id=user.id,
        is_admin=context.settings.is_admin(user.id),
        roles={m.dept: m.role for m in memberships},
    )
    lang = pick_language(chat.language, user.language_code, context.settings.bot_language)
    return Caller(user.id, user.full_name, actor, chat, lang, update.update_id)


def command_text(update: Update) -> str:
    """What follows the command, spacing kept (``context.args`` would lose a note's line breaks)."""
    message = update.effective_message
    assert message is not None, "commands come in messages"
    text = message.text or ""
    entity = next((e for e in message.entities if e.type == "bot_command" and e.offset == 0), None)
    if entity is None:
        return text
    # Entity offsets are in UTF-16 units; the command itself is ASCII, so units equal characters.
    return text[entity.length :]


async def reply(
    update: Update, text: Markup, keyboard: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Answer in the chat of the update; in groups, as a reply, so it is clear who was answered."""
    message = update.effective_message
    if message is None:
        return None
    chat = update.effective_chat
    quote = chat is not None and chat.type != "private"
    return await message.reply_text(
        text, reply_markup=keyboard, do_quote=quote, disable_web_page_preview=True
    )


async def edit(message: Message, text: Markup, keyboard: InlineKeyboardMarkup | None) -> bool:
    """Edit in place; ``False`` when the content was already this (Telegram refuses such edits)."""
    if message.text_html == text and message.reply_markup == keyboard:
        return False
    try:
        await message.edit_text(text, reply_markup=keyboard, disable_web_page_preview=True)
    except BadRequest as exc:
        if "message is not modified" not in exc.message.lower():
            raise
        return False
    return True


async def check(
    update: Update,
    who: Caller,
    context: BotContext,
    action: Action,
    *,
    task: Task | None = None,
    dept: str | None = None,
    manager_invite: bool = False,
    closed: bool = False,
) -> Decision:
    """Ask :func:`bot.permissions.decide`; on a refusal, tell the person why and return it."""
    decision = decide(
        who.actor, action, task=task, dept=dept, chat=who.chat, manager_invite=manager_invite,
        closed=closed,
    )  # fmt: skip
    if not decision.allowed:
        await reply(update, refusal(decision, who.lang, context))
    return decision


def refusal(decision: Decision, lang: Language, context: BotContext) -> Markup:
    dept = context.plan.department(decision.dept).display(lang) if decision.dept else ""
    return t(lang, decision.reason, dept=dept)


async def check_tap(
    query: CallbackQuery,
    who: Caller,
    context: BotContext,
    action: Action,
    *,
    task: Task,
    closed: bool = False,
) -> Decision:
    """:func:`check` for buttons: a refusal is the tap's toast, shown as an alert."""
    decision = decide(who.actor, action, task=task, chat=who.chat, closed=closed)
    if not decision.allowed:
        await query.answer(plain(refusal(decision, who.lang, context)), show_alert=True)
    return decision


async def stale(query: CallbackQuery, who: Caller) -> None:
    """A button that no longer means anything (forged, outdated, or its message gone)."""
    await query.answer(plain(t(who.lang, "button.stale")))


async def read_args(update: Update, who: Caller, parse: Callable[[], T]) -> T | None:
    """``parse()``; when the arguments are wrong, tell the person how, and return ``None``."""
    try:
        return parse()
    except ArgumentError as exc:
        await reply(update, t(who.lang, exc.key, **exc.fields))
        return None


@dataclass(frozen=True)
class Tap(Generic[T]):
    """A button press whose data parsed: the query, the message it is under, who pressed it."""

    query: CallbackQuery
    message: Message
    who: Caller
    data: T


async def read_tap(
    update: Update,
    context: BotContext,
    parse: Callable[[str], T | None],
    valid: Callable[[T], bool] = lambda _: True,
) -> Tap[T] | None:
    """The preamble of every button: who pressed it, and what its data say; data that do not
    parse, or name nothing that exists, or a message Telegram no longer shows, get the
    'button is stale' toast and ``None``."""
    query = update.callback_query
    assert query is not None and query.data is not None, "registered for callback queries"
    who = await caller(update, context)
    data = parse(query.data)
    if data is None or not isinstance(query.message, Message) or not valid(data):
        await stale(query, who)
        return None
    return Tap(query, query.message, who, data)


async def chat_language(update: Update, context: BotContext) -> Language:
    """The language to answer in before (or without) knowing the caller: the chat's choice,
    else the person's client, else the bot's default."""
    chat, user = update.effective_chat, update.effective_user
    stored = await context.storage.chats.get(chat.id) if chat is not None else None
    return pick_language(
        stored.language if stored else None,
        user.language_code if user else None,
        context.settings.bot_language,
    )


def known(context: BotContext, number: int) -> bool:
    """Whether the plan has a task of this number (a button may carry any)."""
    return context.plan.task(number) is not None


def command_words(update: Update) -> list[str]:
    """What follows the command, as words (trimmed of invisible characters around it)."""
    return clean(command_text(update)).split()
