"""A message ready to send: what every renderer of an outbox row returns."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from bot.i18n import Markup


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
    edit: int | None = None
    """A message of the chat to edit into this one, instead of sending a new message."""
