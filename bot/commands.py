"""What a command is: its handler, who it is for and where, and its menu and help texts.

The one table of commands is ``bot/registry.py``; registration, both command menus and /help
are generated from it. This module only defines a row and the questions asked of the table.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from telegram import Update

from bot.permissions import Actor

HandlerCallback = Callable[[Update, Any], Coroutine[Any, Any, None]]
"""A handler: ``async def f(update, context: BotContext) -> None``."""


class Audience(IntEnum):
    """Least role a command is meant for; a higher role sees everything below it."""

    ANYONE = 0
    MEMBER = 1
    MANAGER = 2
    ADMIN = 3


class Where(StrEnum):
    ANY = "any"
    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True)
class Command:
    name: str
    callback: HandlerCallback
    audience: Audience
    where: Where = Where.ANY

    @property
    def menu_key(self) -> str:
        """Catalogue key of its one-line description in Telegram's command menu."""
        return f"cmd.{self.name}"

    @property
    def help_key(self) -> str:
        """Catalogue key of its /help line, with an example."""
        return f"help.{self.name}"


def level(actor: Actor) -> Audience:
    if actor.is_admin:
        return Audience.ADMIN
    if any(actor.manages(dept) for dept in actor.roles):
        return Audience.MANAGER
    if actor.roles:
        return Audience.MEMBER
    return Audience.ANYONE


def available(commands: Sequence[Command], audience: Audience, in_group: bool) -> list[Command]:
    """The commands someone of this level may use in this kind of chat."""
    here = Where.GROUP if in_group else Where.PRIVATE
    return [c for c in commands if c.audience <= audience and c.where in (Where.ANY, here)]
