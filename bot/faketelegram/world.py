"""The fake's state: users, chats, messages, queued updates, and who may write where."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.faketelegram.activity import Activity
from bot.faketelegram.errors import ApiError, bad_request, forbidden
from bot.faketelegram.files import FileStore
from bot.faketelegram.limits import RateLimiter
from bot.faketelegram.models import (
    CallbackAnswer,
    FakeCallbackQuery,
    FakeChat,
    FakeMessage,
    FakeUser,
    Rejection,
    member_json,
)
from bot.faketelegram.updates import UpdateQueue


@dataclass(frozen=True)
class BotEvent:
    """Something the bot did, pushed to subscribers (e.g. the terminal sandbox)."""

    kind: str  # "message", "edit", "delete", "answer" or "rejection"
    chat: FakeChat | None
    message: FakeMessage | None = None
    detail: str | None = None


class World:
    """Everything a request may read or change; handlers and the test API share it."""

    def __init__(
        self, bot: FakeUser, *, privacy_mode: bool, callback_ttl: float, first_update_id: int = 1
    ) -> None:
        self.bot = bot
        self.privacy_mode = privacy_mode
        self.callback_ttl = callback_ttl
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self.chat_usernames: dict[str, FakeChat] = {}
        self.updates = UpdateQueue(self._delivered, first_id=first_update_id)
        self.files = FileStore()
        self.queries: dict[str, FakeCallbackQuery] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.webhook_url = ""
        self.callback_answers: list[CallbackAnswer] = []
        self.rejections: list[Rejection] = []
        self.limiter: RateLimiter | None = None
        self.activity = Activity()
        self.listeners: list[Callable[[BotEvent], object]] = []
        self._query_seq = 0

    def _delivered(self, chat_ids: Iterable[int | None]) -> None:
        for chat_id in chat_ids:
            chat = self.chats.get(chat_id) if chat_id is not None else None
            if chat is not None:
                chat.activity.touch()
        self.activity.touch()

    def emit(self, event: BotEvent) -> None:
        """Tell subscribers; a failing subscriber must not break the request."""
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a subscriber's bug must not fail the bot's request
                continue

    def lookup_chat(self, ref: Any) -> FakeChat | None:
        """The chat a ``chat_id`` parameter names (an id or ``@username``), or None."""
        if isinstance(ref, bool) or ref is None:
            return None
        if isinstance(ref, int):
            return self.chats.get(ref)
        if isinstance(ref, str):
            text = ref.strip()
            if text.startswith("@"):
                return self.chat_usernames.get(text[1:].lower())
            if text.lstrip("-").isdigit():
                return self.chats.get(int(text))
        return None

    def find_chat(self, ref: Any) -> FakeChat:
        """Like ``lookup_chat`` but answering Telegram's errors."""
        if ref is None or ref == "":
            raise bad_request("chat_id is empty")
        chat = self.lookup_chat(ref)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def check_access(self, chat: FakeChat, *, write: bool) -> None:
        """Refuse like Telegram when the bot cannot use this chat any more."""
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.is_group:
            kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
            if chat.bot_status == "kicked":
                raise forbidden(f"bot was kicked from the {kind}")
            if chat.bot_status == "left":
                raise forbidden(f"bot is not a member of the {kind}")
        elif write and chat.user is not None:
            if chat.user.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.user.started:
                raise forbidden("bot can't initiate conversation with a user")

    def writable_chat(self, ref: Any) -> FakeChat:
        """The chat to send into, after every access check."""
        chat = self.find_chat(ref)
        self.check_access(chat, write=True)
        return chat

    def new_message(self, chat: FakeChat, sender: FakeUser, **fields: Any) -> FakeMessage:
        """Create and store the next message of a chat."""
        message = FakeMessage(
            message_id=chat.next_message_id,
            chat=chat,
            sender=sender,
            date=int(time.time()),
            **fields,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        return message

    def bot_changed(self, message: FakeMessage, kind: str) -> None:
        """Record a message the bot sent or edited, for ``replies`` and subscribers."""
        message.chat.outbox.append(message)
        self.emit(BotEvent(kind, message.chat, message))

    def enqueue(self, kind: str, payload: dict[str, Any], chat: FakeChat | None) -> int:
        """Queue an update for getUpdates."""
        return self.updates.put(kind, payload, chat.id if chat is not None else None)

    def new_query_id(self) -> str:
        """Callback query ids look like Telegram's long numeric strings."""
        self._query_seq += 1
        return str(4_000_000_000_000_000_000 + self._query_seq)

    def chat_instance(self, chat: FakeChat) -> str:
        """A stable opaque id per chat, as Telegram sends in callback queries."""
        return str(abs(chat.id) * 7919 + 104729)

    def known_user(self, user_id: int) -> FakeUser | None:
        """A user by id, including the bot itself."""
        return self.bot if user_id == self.bot.id else self.users.get(user_id)

    def member_status(self, chat: FakeChat, user: FakeUser) -> str | None:
        """ChatMember status of a user (or the bot) in a chat; None if Telegram knows no such."""
        if user.id == self.bot.id:
            if chat.is_group:
                return chat.bot_status
            return "kicked" if chat.user is not None and chat.user.blocked else "member"
        if not chat.is_group:
            return "member" if chat.user is user else None
        if user.id == chat.owner_id:
            return "creator"
        if user.id in chat.admins:
            return "administrator"
        return "member" if user.id in chat.members else "left"

    def enqueue_member_change(self, chat: FakeChat, actor: FakeUser, old: str, new: str) -> None:
        """Queue the my_chat_member update Telegram sends when the bot's status changes."""
        payload = {
            "chat": chat.to_api(),
            "from": actor.to_api(),
            "date": int(time.time()),
            "old_chat_member": member_json(self.bot, old),
            "new_chat_member": member_json(self.bot, new),
        }
        self.enqueue("my_chat_member", payload, chat)
