"""The health light at each boundary, with a test clock: cadence and due dates, counted in the
bot's time zone; and the renderers that show it (a card, a list line, a digest, the chart's
counts) agree because they all ask bot/lights.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.lights import Light, Reason, health, is_quiet
from bot.plan import Plan
from bot.render.digest import DigestInput, department_digest, week_of
from bot.render.tasks import TimeCounts, due_phrase, task_card, task_line, time_counts
from storage.closures import Closure
from storage.updates import Status, TaskState
from tests.conftest import SHANGHAI, moment_at

DUE = date(2026, 12, 31)
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def local(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """A moment at a local wall-clock time in Shanghai."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def state(
    status: Status = Status.IN_PROGRESS, *, updated: datetime, closure: Closure | None = None
) -> TaskState:
    return TaskState(1, status, None, 1, updated, updated, closure)


def light_at(now: datetime, task: TaskState | None, due: date = DUE) -> tuple[Light, Reason]:
    today = now.astimezone(SHANGHAI).date()
    return health(task, now, SINCE, due=due, today=today)


@pytest.mark.parametrize(
    ("days_before", "expected"),
    [(15, (Light.GREEN, Reason.REPORTING)), (14, (Light.YELLOW, Reason.DUE_SOON)),
     (1, (Light.YELLOW, Reason.DUE_SOON)), (0, (Light.YELLOW, Reason.DUE_SOON)),
     (-1, (Light.RED, Reason.OVERDUE))],
)  # fmt: skip
def test_the_due_date_boundaries(days_before: int, expected: tuple[Light, Reason]) -> None:
    now = local(DUE - timedelta(days=days_before))
    assert light_at(now, state(updated=now - timedelta(days=1))) == expected


def test_days_turn_at_local_midnight_not_utc() -> None:
    task = state(updated=local(DUE))
    last_minute = local(DUE, 23, 59)  # 15:59 UTC
    assert light_at(last_minute, task) == (Light.YELLOW, Reason.DUE_SOON)
    assert light_at(last_minute + timedelta(minutes=1), task) == (Light.RED, Reason.OVERDUE)
    fifteen = local(DUE - timedelta(days=15), 23, 59)
    assert light_at(fifteen, task)[0] is Light.GREEN
    assert light_at(fifteen + timedelta(minutes=1), task)[0] is Light.YELLOW


def test_done_and_closed_tasks() -> None:
    late = local(DUE + timedelta(days=3))
    soon = local(DUE - timedelta(days=3))
    closed = state(Status.DONE, updated=SINCE, closure=Closure.CLOSED)
    awaiting = state(Status.DONE, updated=SINCE, closure=Closure.AWAITING)
    assert light_at(late, closed) == (Light.GREEN, Reason.DONE), "closed: never late"
    assert light_at(late, awaiting) == (Light.RED, Reason.OVERDUE), "not closed until confirmed"
    assert light_at(soon, awaiting) == (Light.GREEN, Reason.DONE), "done: not chased for a date"
    assert light_at(soon, closed) == (Light.GREEN, Reason.DONE)


def test_the_cadence_rules_stay_as_they_were() -> None:
    now = local(date(2026, 6, 1))  # far from the due date
    ago = [13, 14, 28, 29]
    got = [light_at(now, state(updated=now - timedelta(days=d)))[0] for d in ago]
    assert got == [Light.GREEN, Light.YELLOW, Light.YELLOW, Light.RED]
    assert light_at(now, state(Status.BLOCKED, updated=now)) == (Light.RED, Reason.BLOCKED)
    assert light_at(now, None)[0] is Light.RED, "never reported since January: silent"
    assert is_quiet(state(updated=now - timedelta(days=14)), now, SINCE)
    # Quiet for long outranks due soon; blocked outranks overdue.
    soon = local(DUE - timedelta(days=5))
    assert light_at(soon, state(updated=soon - timedelta(days=40)))[1] is Reason.SILENT
    assert light_at(local(DUE + timedelta(days=2)), state(Status.BLOCKED, updated=soon))[1] is (
        Reason.BLOCKED
    )


def test_every_renderer_shows_the_same_light(plan: Plan) -> None:
    """The card, a list line, a digest's attention list and the chart's counts, at the moment
    task 12 goes overdue (local midnight after its due date)."""
    task = plan.task(12)
    assert task is not None
    due = {12: date(2026, 11, 22)}
    before = moment_at(local(date(2026, 11, 22), 23, 59), since=SINCE, due=due)
    after = moment_at(local(date(2026, 11, 23), 0, 0), since=SINCE, due=due)
    fresh = {12: TaskState(12, Status.IN_PROGRESS, 40, 1, before.now - timedelta(days=1), None)}
    line = task_line(task, fresh[12], before, "zh")
    assert line.startswith("🟡🔵 <b>12</b>") and "今天到期（11-22）" in line
    assert task_line(task, fresh[12], after, "zh").startswith("🔴🔵 <b>12</b>")
    card = task_card(plan, task, fresh[12], [], at=after, lang="zh")
    assert "🔴 已逾期" in card and "时限：逾期 1 天（截止 2026-11-22）" in card
    assert due_phrase(12, fresh[12], after, "en") == "1 d overdue (due 11-22)"
    assert time_counts([task], fresh, before) == TimeCounts(overdue=0, soon=1)
    assert time_counts([task], fresh, after) == TimeCounts(overdue=1, soon=0)
    week = week_of(after.now.astimezone(SHANGHAI))
    digest = "\n".join(
        department_digest(DigestInput(plan, fresh, [], after, week, "zh"), task.lead)
    )
    assert "🔴 已逾期（" in digest and "🔴🔵 <b>12</b>" in digest
