"""A message ready to send: what every renderer of an outbox row returns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from bot.i18n import Markup


@dataclass(frozen=True)
class Edit:
    """An edit of a message another outbox row sent."""

    message_id: int
    row: int
    """The outbox row that sent the message."""
    shown: str | None
    """What the message shows now (:meth:`Outgoing.digest`), if known."""


@dataclass(frozen=True)
class Outgoing:
    text: Markup
    keyboard: InlineKeyboardMarkup | None = None
    task: int | None = None
    """The task the message shows: a reply to it will be recorded as a note on it."""
    year: int | None = None
    """The plan year of ``task`` (``None``: the current plan)."""
    photo: bytes | None = None
    """A PNG to send with ``text`` as its caption (plain text, at most 1,024 characters)."""
    edit: Edit | None = None
    """A message of the chat to edit into this one, instead of sending a new message."""

    def digest(self) -> str:
        """What a message shows, in a few bytes: its text and its buttons."""
        buttons = self.keyboard.to_dict() if self.keyboard is not None else None
        shown = json.dumps([self.text, buttons], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(shown.encode()).hexdigest()

    @property
    def unchanged(self) -> bool:
        """An edit to what the message shows already (Telegram refuses it: none is made)."""
        return self.edit is not None and self.edit.shown == self.digest()
