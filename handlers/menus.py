"""Telegram's command menus (setMyCommands), in Chinese and English, per kind of chat and role."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.commands import Audience, Command, available, level
from bot.context import BotContext
from bot.i18n import LANGUAGES, Language, plain, t
from bot.permissions import Actor

log = logging.getLogger(__name__)


def menu(
    commands: Sequence[Command], audience: Audience, in_group: bool, lang: Language
) -> list[BotCommand]:
    shown = available(commands, audience, in_group)
    if in_group:  # admin-only commands stay in admins' own chats
        shown = [c for c in shown if c.audience < Audience.ADMIN]
    return [BotCommand(c.name, plain(t(lang, c.menu_key), 256)) for c in shown]


async def register_menus(bot: Bot, commands: Sequence[Command], default: Language) -> None:
    """The everyone-menus, per chat kind, in the default language and in each language.

    A person's own menu (admins, managers, members) is set when they start or join: Telegram
    refuses a chat-scoped menu for someone who has not opened a chat with the bot.
    """
    for code in ("", *LANGUAGES):
        lang: Language = default if code == "" else code  # type: ignore[assignment]
        await bot.set_my_commands(
            menu(commands, Audience.ANYONE, False, lang),
            scope=BotCommandScopeAllPrivateChats(),
            language_code=code or None,
        )
        await bot.set_my_commands(
            menu(commands, Audience.MANAGER, True, lang),
            scope=BotCommandScopeAllGroupChats(),
            language_code=code or None,
        )


async def set_chat_menu(
    bot: Bot, commands: Sequence[Command], chat_id: int, audience: Audience, default: Language
) -> None:
    """A person's own menu in their private chat, with the commands of their role.

    Best-effort: the answer it follows has been sent, and a menu that fails now is set again at
    the next /start; a failure is logged, never raised into the handler."""
    try:
        for code in ("", *LANGUAGES):
            lang: Language = default if code == "" else code  # type: ignore[assignment]
            await bot.set_my_commands(
                menu(commands, audience, False, lang),
                scope=BotCommandScopeChat(chat_id),
                language_code=code or None,
            )
    except (BadRequest, Forbidden) as exc:
        # Telegram knows a private chat only once the person has started the bot.
        log.info("menu for chat %s not set yet: %s", chat_id, exc.message)
    except TelegramError as exc:
        log.warning("menu for chat %s not set: %s", chat_id, exc.message)


async def refresh_chat_menu(context: BotContext, user_id: int) -> None:
    """After joining or at /start: give the person the menu of their current role."""
    memberships = await context.storage.memberships.of_user(user_id)
    actor = Actor(
        user_id, context.settings.is_admin(user_id), {m.dept: m.role for m in memberships}
    )
    await set_chat_menu(
        context.bot, context.commands, user_id, level(actor), context.settings.bot_language
    )
