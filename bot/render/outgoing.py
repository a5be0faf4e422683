"""What an outbox row becomes when it is sent: rendered at delivery, in the chat's language.

An outbox row stores what is owed (``{"task": 12, "update_id": 345}``), not a finished text, so
that a message waiting out a restart or a 429 is rendered with the chat's current language and
the task's latest buttons when it finally goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from bot.i18n import Markup, esc, pick_language
from bot.plan import Plan
from storage import Storage
from storage.outbox import OutboxItem

TEXT = "text"
"""A finished HTML text: ``{"text": "..."}``."""
NOTIFICATION = "notification"
"""A recorded update announced to a subscribed chat: ``{"task": n, "update_id": id}``."""
CHART = "chart"
"""The whole plan's progress chart, drawn when sent: ``{"caption": "...", "lang": "zh"}``."""


@dataclass(frozen=True)
class Outgoing:
    text: Markup
    keyboard: InlineKeyboardMarkup | None = None
    task: int | None = None
    """The task the message shows: a reply to it will be recorded as a note on it."""
    photo: bytes | None = None
    """A PNG to send with ``text`` as its caption (plain text, at most 1,024 characters)."""


Render = Callable[[OutboxItem], Awaitable[Outgoing | None]]
"""Turns a row into a message; ``None`` when there is nothing left to send for it."""


def renderer(storage: Storage, plan: Plan, default_language: str) -> Render:
    """The renderer the outbox sender uses, bound to the bot's storage and plan."""

    async def render(item: OutboxItem) -> Outgoing | None:
        if item.kind == TEXT:
            return Outgoing(Markup(item.payload["text"]))
        if item.kind == CHART:
            from bot.render.chart import progress_chart

            lang = pick_language(item.payload.get("lang"), None, default_language)
            states = await storage.updates.states()
            # Drawing takes a few hundred milliseconds of CPU: off the event loop.
            png = await asyncio.to_thread(progress_chart, plan, states, lang)
            return Outgoing(esc(item.payload.get("caption", "")[:1024]), photo=png)
        if item.kind == NOTIFICATION:
            from bot.render.notifications import notification

            chat = await storage.chats.get(item.chat_id)
            lang = pick_language(chat.language if chat else None, None, default_language)
            return await notification(storage, plan, item, lang)
        return None

    return render
