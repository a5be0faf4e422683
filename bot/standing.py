"""Where each lead department stands: tasks led, closed, awaiting the office's confirmation,
overdue, blocked, and its last report. Plain data from plain data, for /depts and a scorecard."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from bot.lights import DueDates, is_overdue
from bot.plan import Plan
from bot.statuses import Stage, stage_of
from storage.updates import TaskState


@dataclass(frozen=True, slots=True)
class Standing:
    dept: str
    led: int
    closed: int
    awaiting: int
    """Reported done, not yet confirmed (待销号)."""
    overdue: int
    """Past due and not closed (the health light's rule)."""
    blocked: int
    last_report: datetime | None
    """The department's latest status update or note, if any."""


def standings(
    plan: Plan,
    states: Mapping[int, TaskState],
    due: DueDates,
    today: date,
    last_reports: Mapping[str, datetime] | None = None,
) -> dict[str, Standing]:
    """Every department that leads a task, by code, in the plan's department order."""
    counts: dict[str, list[int]] = {d.code: [0, 0, 0, 0, 0] for d in plan.departments}
    for task in plan.tasks:
        state = states.get(task.number)
        stage = stage_of(state)
        row = counts[task.lead]
        row[0] += 1
        row[1] += stage is Stage.CLOSED
        row[2] += stage is Stage.AWAITING
        row[3] += is_overdue(state, due.of(task.number), today)
        row[4] += stage is Stage.BLOCKED
    reports = last_reports or {}
    return {
        code: Standing(
            code,
            led=led,
            closed=closed,
            awaiting=awaiting,
            overdue=overdue,
            blocked=blocked,
            last_report=reports.get(code),
        )
        for code, (led, closed, awaiting, overdue, blocked) in counts.items()
        if led
    }
