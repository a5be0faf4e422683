"""The scorecard: every department of a plan side by side, worst first, as plain data for
/scorecard, ``python -m bot scorecard`` and the whole-plan digest.

A row is a department named on a task of the plan: the tasks it leads, how many of them are
closed, await the office's confirmation, are overdue or blocked (``bot/standing.py``), its last
report, and its statements in the current round (the open round, else the latest one, of this
plan's year; ``None`` when there is none, or the department owes nothing in it).

Worst first means, in this order: more overdue tasks; more statements missing in the current
round; more blocked tasks; a last report longer ago (never is the longest); fewer tasks closed;
then the plan's order of departments. So a department with an overdue task is always above one
without.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from bot.config import Settings
from bot.due import due_dates
from bot.i18n import Language
from bot.plan import Plan
from bot.plan_years import stored_years
from bot.round_report import DepartmentTally
from bot.rounds import local_date, round_summary
from bot.standing import Standing, standings
from storage import Storage
from storage.files import SQLITE_HEADER
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
    standing: Mapping[str, Standing],
    reports: Mapping[str, datetime],
    tallies: Sequence[DepartmentTally],
) -> list[ScoreRow]:
    """A row for each department named on a task or owing a statement, whether it leads a task
    or only takes part: unranked, in plan order."""
    by_dept = {x.dept: x for x in tallies}
    named = {code for task in plan.tasks for code in task.departments} | set(by_dept)
    rows = []
    for dept in plan.departments:
        if dept.code not in named:
            continue
        found = standing.get(dept.code)
        rows.append(
            ScoreRow(
                0, dept.code,
                led=found.led if found else 0,
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
    are counted by): the tasks' states and due dates, each department's last report (a seek
    per department, whatever the history's size) and the current round's tally."""
    states = await storage.updates.states(year=plan.year)
    due = await due_dates(storage, plan)
    reports = await storage.updates.last_reports(year=plan.year)
    standing = standings(plan, states, due, today)
    current = await storage.rounds.latest()
    if current is not None and current.plan_year != plan.year:
        current = None  # an earlier year's round is not this plan's
    tallies = await round_summary(storage, current.id) if current is not None else ()
    rows = worst_first(rows_of(plan, standing, reports, tallies), plan)
    return Scorecard(plan.year, current, tuple(rows))


# --- python -m bot scorecard -------------------------------------------------------------------


class ScorecardError(Exception):
    """The database cannot give a scorecard; the message says which and why, in one line."""


@dataclass(frozen=True)
class ScorecardFile:
    data: bytes
    fmt: Format
    card: Scorecard
    made_at: datetime
    """Local time in the bot's zone, when the database was read."""

    @property
    def filename(self) -> str:
        """'scorecard-2024-20261123.xlsx': the plan's year and the local day it was made."""
        return f"scorecard-{self.card.plan_year}-{self.made_at:%Y%m%d}.{self.fmt}"


async def scorecard_database(
    settings: Settings, plan: Plan, *, fmt: Format, lang: Language
) -> ScorecardFile:
    """The current plan's scorecard from the database at DATABASE_URL, as a file; never
    creates a database (as ``python -m bot export``)."""
    from bot.render.scorecard_file import scorecard_file  # openpyxl: only for the file

    path = settings.database_path
    if not path.is_file():
        raise ScorecardError(f"no database at {path} (DATABASE_URL): run the bot first")
    with path.open("rb") as file:
        if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise ScorecardError(f"{path} (DATABASE_URL) is not an SQLite database")
    storage = Storage(path)
    try:
        await storage.open(plan_year=plan.year)
        current = (await stored_years(storage, plan)).current
        zone = settings.timezone
        now = storage.db.clock()
        card = await scorecard(storage, current, today=local_date(now, zone))
    except sqlite3.Error as exc:
        raise ScorecardError(f"cannot read the database at {path} (DATABASE_URL): {exc}") from None
    finally:
        await storage.close()
    data = await asyncio.to_thread(
        scorecard_file, card, current, fmt=fmt, lang=lang, now=now, zone=zone
    )
    return ScorecardFile(data, fmt, card, now.astimezone(zone))
