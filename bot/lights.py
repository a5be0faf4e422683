"""The health light of a task, from its reporting cadence and its due date: the same in cards,
lists, digests, reminders and the chart.

red: blocked; past due and not closed; or quiet for more than 28 days. yellow: due within 14
days and not done; or quiet for 14–28 days. green otherwise. A task that is done owes no more
reports, and a closed one owes nothing at all. A task never reported is quiet since the bot
began tracking the plan. Days are counted in the bot's time zone: a task due on the 31st is
due all that day and overdue from the 1st.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from storage.updates import Status, TaskState

QUIET = timedelta(days=14)
SILENT = timedelta(days=28)
SOON = 14
"""Days before its due date from which a task not done is yellow (and its first reminder)."""


class Light(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Reason(StrEnum):
    """Why a task has its light, as the card says it."""

    BLOCKED = "blocked"
    OVERDUE = "overdue"
    SILENT = "silent"
    DUE_SOON = "due_soon"
    QUIET = "quiet"
    DONE = "done"
    REPORTING = "reporting"


LIGHTS = {Light.GREEN: "🟢", Light.YELLOW: "🟡", Light.RED: "🔴"}


def year_end(year: int) -> date:
    """When a plan's tasks are due unless the office says otherwise."""
    return date(year, 12, 31)


@dataclass(frozen=True)
class DueDates:
    """When each task of a plan falls due: the office's dates, else the plan's year end."""

    default: date
    set: Mapping[int, date] = field(default_factory=dict)

    def of(self, task: int) -> date:
        return self.set.get(task, self.default)


def days_left(due: date, today: date) -> int:
    """Days until the due date: 0 on the day itself, negative once it has passed."""
    return (due - today).days


def is_overdue(state: TaskState | None, due: date, today: date) -> bool:
    """Past its due date and not closed (a task awaiting the office's confirmation is not)."""
    return today > due and not (state is not None and state.closed)


def is_done(state: TaskState | None) -> bool:
    """Reported done, whether closed or awaiting the office."""
    return state is not None and state.status is Status.DONE


def is_due_soon(state: TaskState | None, due: date, today: date) -> bool:
    """Due within 14 days (today included) and not done."""
    return 0 <= days_left(due, today) <= SOON and not is_done(state)


def health(
    state: TaskState | None, now: datetime, tracking_since: datetime, *, due: date, today: date
) -> tuple[Light, Reason]:
    """The light and why: what is most urgent first."""
    if state is not None and state.status is Status.BLOCKED:
        return Light.RED, Reason.BLOCKED
    if state is not None and state.closed:
        return Light.GREEN, Reason.DONE
    if is_overdue(state, due, today):
        return Light.RED, Reason.OVERDUE
    if is_done(state):
        return Light.GREEN, Reason.DONE
    quiet = now - (state.updated_at if state is not None else tracking_since)
    if quiet > SILENT:
        return Light.RED, Reason.SILENT
    if is_due_soon(state, due, today):
        return Light.YELLOW, Reason.DUE_SOON
    if quiet >= QUIET:
        return Light.YELLOW, Reason.QUIET
    return Light.GREEN, Reason.REPORTING


def light(
    state: TaskState | None, now: datetime, tracking_since: datetime, *, due: date, today: date
) -> Light:
    return health(state, now, tracking_since, due=due, today=today)[0]


def is_quiet(state: TaskState | None, now: datetime, tracking_since: datetime) -> bool:
    """No update for 14 days (done tasks excepted): what /mytasks stale and digests list."""
    if is_done(state):
        return False
    return now - (state.updated_at if state is not None else tracking_since) >= QUIET
