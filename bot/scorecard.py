"""The scorecard: every department of a plan side by side, worst first, as plain data for
/scorecard, ``python -m bot scorecard`` and the whole-plan digest.

A row is a department named on a task of the plan: the tasks it leads, how many of them are
closed, await the office's confirmation, are overdue or blocked (the rule of ``bot/standing.py``,
counted in SQL by ``storage/counting.py``), its last report, and its statements in the current
round (the open round, else the latest one, of this plan's year; ``None`` when there is none,
or the department owes nothing in it).

Worst first means, in this order: more overdue tasks; more statements missing in the current
round; more blocked tasks; a last report longer ago (never is the longest); fewer tasks closed;
then the plan's order of departments. So a department with an overdue task is always above one
without.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from bot.lights import year_end
from bot.plan import Plan
from bot.round_report import DepartmentTally
from bot.rounds import round_summary
from storage import Storage
from storage.counting import Led
from storage.rounds import Round

Format = Literal["csv", "xlsx"]

NEVER = datetime.min.replace(tzinfo=UTC)
"""Where "never reported" sorts: before every report."""


@dataclass(frozen=True, slots=True)
class ScoreRow:
    rank: int
    """1 for the worst, in the whole plan's order (a group's one row keeps its place)."""
    dept: str
    led: int
    closed: int
    awaiting: int
    overdue: int
    blocked: int
    last_report: datetime | None
    statements: DepartmentTally | None
    """Its statements in the current round; ``None``: no round, or it owes none in it."""

    @property
    def missing(self) -> int:
        return self.statements.missing if self.statements is not None else 0


@dataclass(frozen=True, slots=True)
class Scorecard:
    plan_year: int
    round: Round | None
    """The current round of the plan's year: the open one, else the latest; ``None``: none yet."""
    rows: tuple[ScoreRow, ...]
    """Worst first."""

    def of(self, depts: Iterable[str]) -> tuple[ScoreRow, ...]:
        """The rows of some departments, in the scorecard's order."""
        wanted = set(depts)
        return tuple(row for row in self.rows if row.dept in wanted)


def worst_first(rows: Iterable[ScoreRow], plan: Plan) -> list[ScoreRow]:
    """The module's order: overdue, missing statements, blocked, the oldest last report, the
    fewest closed, then the plan's order of departments; ranks numbered from 1 in it."""
    order = {d.code: i for i, d in enumerate(plan.departments)}

    def badness(row: ScoreRow) -> tuple[int, int, int, datetime, int, int, str]:
        reported = row.last_report or NEVER
        return (
            -row.overdue, -row.missing, -row.blocked, reported, row.closed,
            order.get(row.dept, len(order)), row.dept,
        )  # fmt: skip

    ranked = sorted(rows, key=badness)
    return [_ranked(row, i) for i, row in enumerate(ranked, start=1)]


def _ranked(row: ScoreRow, rank: int) -> ScoreRow:
    return ScoreRow(
        rank, row.dept, row.led, row.closed, row.awaiting, row.overdue, row.blocked,
        row.last_report, row.statements,
    )  # fmt: skip


def rows_of(
    plan: Plan,
    standing: Mapping[str, Led],
    reports: Mapping[str, datetime],
    tallies: Sequence[DepartmentTally],
) -> list[ScoreRow]:
    """A row for each department named on a task or owing a statement, whether it leads a task
    or only takes part: unranked, in plan order. How many tasks it leads is the plan's own."""
    by_dept = {x.dept: x for x in tallies}
    named = plan.named_departments | set(by_dept)
    rows = []
    for dept in plan.departments:
        if dept.code not in named:
            continue
        found = standing.get(dept.code)
        rows.append(
            ScoreRow(
                0, dept.code,
                led=len(plan.tasks_of(dept.code, lead_only=True)),
                closed=found.closed if found else 0,
                awaiting=found.awaiting if found else 0,
                overdue=found.overdue if found else 0,
                blocked=found.blocked if found else 0,
                last_report=reports.get(dept.code),
                statements=by_dept.get(dept.code),
            )
        )  # fmt: skip
    return rows


async def scorecard(storage: Storage, plan: Plan, *, today: date) -> Scorecard:
    """The plan's scorecard as the database has it on ``today`` (the local date overdue tasks
    are counted by): where each lead department's tasks stand (counted in SQL from index
    ranges), each department's last report (a seek per department) and the current round's
    tally (a row per department, as kept), whatever the plan's and the history's size."""
    standing = await storage.counting.leads(
        today=today, year_end=year_end(plan.year), year=plan.year
    )
    reports = await storage.updates.last_reports(year=plan.year)
    current = await storage.rounds.latest()
    if current is not None and current.plan_year != plan.year:
        current = None  # an earlier year's round is not this plan's
    tallies = await round_summary(storage, current.id) if current is not None else ()
    rows = worst_first(rows_of(plan, standing, reports, tallies), plan)
    return Scorecard(plan.year, current, tuple(rows))
