"""Unexpected errors, unknown commands and stray text: always a short, clear answer."""

from __future__ import annotations

import logging
import secrets

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.i18n import Language, pick_language, plain, t
from handlers.common import chat_language, reply
from storage.db import DatabaseUnusable, WriteFailed

log = logging.getLogger(__name__)


async def error_handler(update: object, context: BotContext) -> None:
    """Log first, with an id; then tell the person briefly, quoting the id.

    A write that failed is answered as not recorded, never as done; once the database has
    failed, the rest of the update's handlers are skipped, so that it gets one answer.
    """
    error_id = secrets.token_hex(4)
    where = update.to_dict() if isinstance(update, Update) else repr(update)
    log.error("error %s handling update %s", error_id, where, exc_info=context.error)
    if not isinstance(update, Update):
        return
    key = "error.unexpected"
    if isinstance(context.error, WriteFailed):
        key = "error.not_recorded"
    elif isinstance(context.error, DatabaseUnusable):
        key = "error.database_unavailable"
    text = t(await _language(update, context), key, error_id=error_id)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(plain(text), show_alert=True)
        elif update.effective_message is not None:
            await reply(update, text)
    except TelegramError as exc:
        log.warning("could not tell the user about error %s: %s", error_id, exc)
    if isinstance(context.error, DatabaseUnusable):
        raise ApplicationHandlerStop


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command we do not have: answer in private chats, or when addressed to us by name."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or message.text is None or chat is None:
        return
    command = message.text.split(maxsplit=1)[0]
    name, _, addressee = command.partition("@")
    if chat.type != "private" and addressee.lower() != (context.bot.username or "").lower():
        return  # in a group, another bot's command or a typo meant for nobody
    lang = await chat_language(update, context)
    await reply(update, t(lang, "error.unknown_command", command=name[:40]))


async def private_text(update: Update, context: BotContext) -> None:
    """Text that is not a command, in a private chat: say what the bot understands."""
    await reply(update, t(await chat_language(update, context), "error.text_hint"))


async def _language(update: Update, context: BotContext) -> Language:
    """The chat's language if the database still answers (it may be what failed), else the
    person's client language."""
    try:
        return await chat_language(update, context)
    except Exception:
        user = update.effective_user
        client = user.language_code if user else None
        return pick_language(None, client, context.settings.bot_language)
