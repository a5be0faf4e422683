"""When tasks fall due, read from the database as the renderers need it: a plan's due dates, and
the :class:`~bot.render.tasks.Moment` lists, cards, digests and the chart are drawn at."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.lights import DueDates, year_end
from bot.plan import Plan
from bot.render.tasks import Moment
from storage import Storage


async def due_dates(storage: Storage, plan: Plan, tasks: Iterable[int] | None = None) -> DueDates:
    """The plan's due dates (of ``tasks`` only, if given): the office's, else its year end."""
    return DueDates(year_end(plan.year), await storage.due.dates(tasks, year=plan.year))


async def moment(
    storage: Storage,
    plan: Plan,
    *,
    tracking_since: datetime,
    zone: ZoneInfo,
    tasks: Iterable[int] | None = None,
    now: datetime | None = None,
) -> Moment:
    """Now (by the storage clock unless given), with the due dates of ``plan`` (``tasks``)."""
    when = storage.db.clock() if now is None else now
    return Moment(when, tracking_since, zone, await due_dates(storage, plan, tasks))
