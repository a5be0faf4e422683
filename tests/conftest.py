"""Shared fixtures: the committed plan, and a real SQLite file per test with a clock we control."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from bot.plan import Department, Plan, load_departments, load_plan

if TYPE_CHECKING:
    from bot.render.tasks import Moment
    from storage import Storage

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
PLAN_YEAR = 2024
"""The year of the committed plan (data/tasks.json): test databases are of that plan."""
SHANGHAI = ZoneInfo("Asia/Shanghai")


def moment_at(
    now: datetime, *, since: datetime | None = None, due: dict[int, date] | None = None
) -> Moment:
    """A moment to render at: tracked since ``since`` (``now``), the plan's tasks due at its
    year end but for ``due``, days counted in Shanghai."""
    from bot.lights import DueDates, year_end
    from bot.render.tasks import Moment

    return Moment(now, since or now, SHANGHAI, DueDates(year_end(PLAN_YEAR), due or {}))


class FakeClock:
    """A clock tests move by hand: no sleeping, no dependence on the machine's time."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def plan() -> Plan:
    return load_plan(DATA / "tasks.json")


@pytest.fixture(scope="session")
def departments() -> tuple[Department, ...]:
    return load_departments(DATA / "departments.json")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # Monday 09:00 in Shanghai


@pytest.fixture
async def storage(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Storage]:
    from storage import Storage

    store = Storage(tmp_path / "bot.db", clock=clock)
    await store.open(plan_year=PLAN_YEAR)
    yield store
    await store.close()
