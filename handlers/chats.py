"""Changes to the chat itself: upgraded to a supergroup, or the bot blocked, removed, re-added."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update

from bot.context import BotContext

log = logging.getLogger(__name__)

GONE = (ChatMember.BANNED, ChatMember.LEFT)


async def migrated(update: Update, context: BotContext) -> None:
    """The service message of a group's upgrade: follow it to its new id."""
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return  # the supergroup's own 'migrated from' message: the old id reported it already
    await context.storage.chats.migrate(message.chat_id, message.migrate_to_chat_id)
    log.info("chat %s became supergroup %s", message.chat_id, message.migrate_to_chat_id)


async def bot_membership(update: Update, context: BotContext) -> None:
    """Blocked or removed: send nothing more; unblocked or added back: send again."""
    change = update.my_chat_member
    if change is None:
        return
    active = change.new_chat_member.status not in GONE
    reason = None if active else f"bot {change.new_chat_member.status}"
    await context.storage.chats.set_active(change.chat.id, active, reason=reason)
    log.info("chat %s %s", change.chat.id, "active again" if active else reason)
