"""The typed context handlers receive: ``context.storage``, ``context.settings``, ``context.plan``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.departments import DepartmentResolver
from bot.plan import Plan
from storage import Storage

T = TypeVar("T")


@dataclass
class BotData:
    """What ``post_init`` opens and loads, shared by every handler and job."""

    settings: Settings | None = None
    storage: Storage | None = None
    plan: Plan | None = None
    resolver: DepartmentResolver | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class BotContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]):
    """A ``CallbackContext`` that hands out the bot's services already typed."""

    @property
    def settings(self) -> Settings:
        return _ready(self.bot_data.settings, "settings")

    @property
    def storage(self) -> Storage:
        return _ready(self.bot_data.storage, "storage")

    @property
    def plan(self) -> Plan:
        return _ready(self.bot_data.plan, "plan")

    @property
    def resolver(self) -> DepartmentResolver:
        return _ready(self.bot_data.resolver, "resolver")


BotApplication = Application[ExtBot[Any], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]


def _ready(value: T | None, name: str) -> T:
    if value is None:
        raise RuntimeError(f"{name} is used before post_init has set it up")
    return value
