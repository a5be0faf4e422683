"""The fake's world objects and their Bot API JSON forms."""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bot.faketelegram.activity import Activity
from bot.faketelegram.files import StoredFile
from bot.faketelegram.markup import button_rows


@dataclass(eq=False)
class FakeUser:
    """A Telegram user (or the bot itself); ``started``/``blocked`` describe their bot chat."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    started: bool = False
    blocked: bool = False

    def to_api(self) -> dict[str, Any]:
        """Bot API User."""
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass(eq=False)
class FakeChat:
    """A private chat, group or supergroup, with its messages and the bot's standing in it."""

    id: int
    type: str
    title: str | None = None
    user: FakeUser | None = None
    username: str | None = None
    members: dict[int, FakeUser] = field(default_factory=dict)
    admins: set[int] = field(default_factory=set)
    owner_id: int | None = None
    bot_status: str = "member"
    migrated_to: int | None = None
    messages: dict[int, FakeMessage] = field(default_factory=dict)
    next_message_id: int = 1
    activity: Activity = field(default_factory=Activity)
    outbox: list[FakeMessage] = field(default_factory=list)
    mark: int = 0

    def __repr__(self) -> str:
        return f"FakeChat(id={self.id}, type={self.type!r}, title={self.title!r})"

    @property
    def is_group(self) -> bool:
        """True for groups and supergroups."""
        return self.type in ("group", "supergroup")

    def to_api(self) -> dict[str, Any]:
        """Bot API Chat."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.user is not None:
            data.update(
                {
                    k: v
                    for k, v in self.user.to_api().items()
                    if k in ("first_name", "last_name", "username")
                }
            )
        if self.title is not None:
            data["title"] = self.title
        if self.username is not None:
            data["username"] = self.username
        return data

    def reset_replies(self) -> None:
        """Start a new "since" point for ``FakeTelegram.replies``."""
        self.outbox.clear()
        self.mark = self.activity.finished


@dataclass(eq=False)
class FakeMessage:
    """A message in its current state; edits update it in place and bump ``edits``."""

    message_id: int
    chat: FakeChat
    sender: FakeUser
    date: int
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: FakeMessage | None = None
    attachment: StoredFile | None = None
    attachment_kind: str | None = None
    edits: int = 0
    edit_date: int | None = None
    deleted: bool = False
    protected: bool = False
    service: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        body = self.text if self.text is not None else self.caption
        return (
            f"FakeMessage(chat={self.chat.id}, id={self.message_id}, from={self.sender.id}, "
            f"text={body!r}, edits={self.edits}{', deleted' if self.deleted else ''})"
        )

    @property
    def from_user(self) -> FakeUser:
        """The sender, named like PTB's attribute."""
        return self.sender

    @property
    def is_bot(self) -> bool:
        """True if the bot sent this message."""
        return self.sender.is_bot

    @property
    def html(self) -> str:
        """The HTML as the bot sent it, or the escaped plain text if it used no parse mode."""
        if self.parse_mode == "html" and self.source is not None:
            return self.source
        return html.escape(self.text if self.text is not None else self.caption or "", False)

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Keyboard rows as (text, callback_data or url) pairs."""
        return button_rows(self.reply_markup)

    @property
    def photo(self) -> bytes | None:
        """Bytes of the photo the bot sent, if this is a photo message."""
        return self.attachment.data if self.attachment_kind == "photo" and self.attachment else None

    @property
    def document(self) -> bytes | None:
        """Bytes of the document the bot sent, if this is a document message."""
        if self.attachment_kind == "document" and self.attachment:
            return self.attachment.data
        return None

    @property
    def filename(self) -> str | None:
        """File name of the attached photo or document."""
        return self.attachment.filename if self.attachment else None

    def to_api(self, *, with_reply: bool = True) -> dict[str, Any]:
        """Bot API Message; replies are nested one level deep like Telegram does."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender.to_api(),
            "chat": self.chat.to_api(),
            "date": self.date,
        }
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.attachment is not None:
            if self.attachment_kind == "photo":
                data["photo"] = [self.attachment.photo_size()]
            else:
                data["document"] = self.attachment.document()
        if self.caption is not None:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if with_reply and self.reply_to is not None:
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.protected:
            data["has_protected_content"] = True
        data.update(self.service)
        return data


class CallbackAnswer(NamedTuple):
    """A recorded answerCallbackQuery: the toast (or alert) the user saw."""

    query_id: str
    text: str | None
    show_alert: bool


class Rejection(NamedTuple):
    """A request the fake refused the way Telegram would have."""

    method: str
    chat_id: int | str | None
    description: str


@dataclass(eq=False)
class FakeCallbackQuery:
    """A button tap; ``answer`` is filled once the bot answers it."""

    id: str
    user: FakeUser
    message: FakeMessage
    data: str | None
    created: float
    answer: CallbackAnswer | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    def to_api(self, chat_instance: str) -> dict[str, Any]:
        """Bot API CallbackQuery."""
        data: dict[str, Any] = {
            "id": self.id,
            "from": self.user.to_api(),
            "message": self.message.to_api(),
            "chat_instance": chat_instance,
        }
        if self.data is not None:
            data["data"] = self.data
        return data


_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
}


def member_json(user: FakeUser, status: str) -> dict[str, Any]:
    """Bot API ChatMember of the given status with every field PTB requires."""
    data: dict[str, Any] = {"status": status, "user": user.to_api()}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        data.update(_ADMIN_RIGHTS)
    elif status == "kicked":
        data["until_date"] = 0
    return data
