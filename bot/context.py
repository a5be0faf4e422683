"""The typed context handlers receive: ``context.storage``, ``context.settings``, ``context.plan``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.departments import DepartmentResolver
from bot.digest import Digester
from bot.plan import Plan
from bot.render.tasks import Moment
from storage import Storage
from storage.db import Clock

T = TypeVar("T")


@dataclass
class BotData:
    """What ``post_init`` opens and loads, shared by every handler and job."""

    settings: Settings | None = None
    storage: Storage | None = None
    plan: Plan | None = None
    resolver: DepartmentResolver | None = None
    tracking_since: datetime | None = None
    digester: Digester | None = None
    clock: Clock | None = None
    """Storage's clock: real time unless a test sets one."""
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

    @property
    def digester(self) -> Digester:
        return _ready(self.bot_data.digester, "digester")

    def moment(self) -> Moment:
        """Now, by the storage clock, and since when tasks are tracked: for health lights."""
        since = _ready(self.bot_data.tracking_since, "tracking_since")
        return Moment(self.storage.db.clock(), since)


BotApplication = Application[ExtBot[Any], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]


def _ready(value: T | None, name: str) -> T:
    if value is None:
        raise RuntimeError(f"{name} is used before post_init has set it up")
    return value
