"""Registry of Bot API methods; handler modules register themselves with ``@method``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.faketelegram.params import Params
from bot.faketelegram.world import World

Handler = Callable[[World, Params], Awaitable[Any]]


@dataclass(frozen=True)
class MethodSpec:
    """A method; ``replies`` marks calls that answer a chat (sends, edits, toasts, deletes)."""

    name: str
    handler: Handler
    replies: bool


METHODS: dict[str, MethodSpec] = {}


def method(name: str, *, replies: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler under its Bot API name; lookups are case-insensitive like Telegram."""

    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = MethodSpec(name, handler, replies)
        return handler

    return register
