"""The typed context handlers receive: ``context.storage``, ``context.settings``, ``context.plan``.

Everything the application shares lives in a named, typed field of :class:`BotData`; nothing is
kept under string keys, so a rename is a type error rather than a silent miss.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from telegram.ext import Application, CallbackContext, ExtBot

from bot.commands import Command
from bot.config import Settings
from bot.delivery import OutboxSender, SenderOptions
from bot.departments import DepartmentResolver
from bot.digest import Digester
from bot.due import moment
from bot.inbox import InboxHandler, InboxOptions
from bot.plan import Plan
from bot.plan_years import PlanYears
from bot.reminders import Reminders
from bot.render.tasks import Moment
from bot.rounds import RoundKeeper
from storage import Storage
from storage.db import Clock

T = TypeVar("T")


@dataclass
class BotData:
    """What ``build_application`` and ``post_init`` set up, shared by every handler and job."""

    settings: Settings | None = None
    commands: tuple[Command, ...] = ()
    """The command registry (``bot/registry.py``): handlers, menus and /help read it."""
    storage: Storage | None = None
    plan: Plan | None = None
    """The current plan (``plans.current``)."""
    plans: PlanYears | None = None
    """Every year's plan the database keeps."""
    resolver: DepartmentResolver | None = None
    tracking_since: datetime | None = None
    digester: Digester | None = None
    round_keeper: RoundKeeper | None = None
    """Owes the open supervision round's reminders (``bot/rounds.py``)."""
    reminders: Reminders | None = None
    """Owes the due dates' reminders (``bot/reminders.py``)."""
    clock: Clock | None = None
    """Storage's clock: real time unless a test sets one."""
    sender: OutboxSender | None = None
    """The running outbox sender (started by ``post_init``)."""
    sender_options: SenderOptions | None = None
    """Options for the sender ``post_init`` starts; tests shorten its timeouts."""
    inbox: InboxHandler | None = None
    """Handles the updates the inbox holds (started by the runner, ``bot/runner.py``)."""
    inbox_options: InboxOptions | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to stop the bot: by SIGTERM, or by :meth:`fatal`."""
    fatal_error: BaseException | None = None
    seen: dict[tuple[str, int], tuple[object, ...]] = field(default_factory=dict)
    """How each user and chat was last described, so ``remember`` writes only on change."""

    def fatal(self, error: BaseException) -> None:
        """The bot cannot go on (Telegram revoked the token): stop, saying why."""
        self.fatal_error = error
        self.stop_event.set()


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
    def plans(self) -> PlanYears:
        return _ready(self.bot_data.plans, "plans")

    @property
    def resolver(self) -> DepartmentResolver:
        return _ready(self.bot_data.resolver, "resolver")

    @property
    def digester(self) -> Digester:
        return _ready(self.bot_data.digester, "digester")

    @property
    def round_keeper(self) -> RoundKeeper:
        return _ready(self.bot_data.round_keeper, "round_keeper")

    @property
    def reminders(self) -> Reminders:
        return _ready(self.bot_data.reminders, "reminders")

    @property
    def commands(self) -> tuple[Command, ...]:
        return self.bot_data.commands

    async def moment(self, plan: Plan | None = None, tasks: Iterable[int] | None = None) -> Moment:
        """Now, by the storage clock, since when tasks are tracked and when they fall due (of
        the current plan unless ``plan``; of ``tasks`` only, if given): for health lights."""
        since = _ready(self.bot_data.tracking_since, "tracking_since")
        return await moment(
            self.storage, plan or self.plan, tracking_since=since, zone=self.settings.timezone,
            tasks=tasks,
        )  # fmt: skip

    def wake_sender(self) -> None:
        """Messages were just owed: let the outbox sender start on them now."""
        if self.bot_data.sender is not None:
            self.bot_data.sender.wake()


BotApplication = Application[ExtBot[Any], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]


def _ready(value: T | None, name: str) -> T:
    if value is None:
        raise RuntimeError(f"{name} is used before post_init has set it up")
    return value
