"""Counts and short lists of the current plan's tasks, done in SQL: what a digest shows.

A digest shows counts (by stage, by section, by lead department) and a few lists (blocked,
overdue, due soon, quiet), each cut at a few dozen lines. Reading every task's state to count
it in Python made a large department's digest read thousands of rows to show forty; here SQL
counts over the plan index (``plan_tasks``, ``task_departments``, written at start from the
tasks file) and returns only the rows shown. The rules are the health light's
(``bot/lights.py``); ``tests/test_counting.py`` checks the two agree on random plans.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from storage.db import Database, to_db
from storage.updates import LAST_REPORTS

STAGE = """CASE WHEN s.status IS NULL THEN 'not_started'
     WHEN s.status = 'done' THEN CASE WHEN s.closure = 'awaiting' THEN 'awaiting' ELSE 'closed' END
     ELSE s.status END"""
"""A task's stage (``bot.statuses.Stage``) from its ``task_state`` row ``s`` (or none), or its
``task_standing`` row ``s`` (no status: no state)."""
PAST_DUE = "coalesce(d.due, :year_end) < :today"
"""Its ``due_dates`` row ``d`` (else the plan's year end) is before today."""
NOT_CLOSED = "coalesce(s.closure, '') != 'closed'"
OVERDUE = f"{PAST_DUE} AND {NOT_CLOSED}"
"""Past due and not closed (``bot.lights.is_overdue``)."""

SOON_DAYS = 14
"""As ``bot.lights.SOON``: due within this many days (today included) is due soon."""
QUIET = timedelta(days=14)
"""As ``bot.lights.QUIET``."""

ATTENTION = """
WITH t AS (
    SELECT td.task, td.is_lead, s.status, s.closure,
           coalesce(s.updated_at, :since) AS last, coalesce(d.due, :year_end) AS due
    FROM task_departments AS td
    LEFT JOIN task_state AS s ON s.plan_year = td.plan_year AND s.task = td.task
    LEFT JOIN due_dates AS d ON d.plan_year = td.plan_year AND d.task = td.task
    WHERE td.plan_year = :year AND td.dept = :dept
), listed AS (
    SELECT task, is_lead, CASE
        WHEN status = 'blocked' THEN 'blocked'
        WHEN due < :today AND coalesce(closure, '') != 'closed' THEN 'overdue'
        WHEN due >= :today AND due <= :soon AND coalesce(status, '') != 'done' THEN 'due_soon'
        WHEN is_lead = 1 AND coalesce(status, '') != 'done' AND last <= :quiet_before THEN 'quiet'
    END AS kind
    FROM t
), ranked AS (
    SELECT kind, task, count(*) OVER (PARTITION BY kind) AS total,
           row_number() OVER (PARTITION BY kind ORDER BY is_lead DESC, task) AS n
    FROM listed WHERE kind IS NOT NULL
)
SELECT kind, task, total FROM ranked WHERE n <= :limit ORDER BY kind, n
"""
"""A department's tasks that need attention, each under the first kind it is: blocked;
overdue (past due, not closed); due soon (within 14 days, not done); quiet (led, not done, no
update for 14 days). Per kind the first ``limit`` (led first, in plan order) and how many."""

PLAN_COUNTS = f"""
SELECT s.section, s.lead, {STAGE} AS stage, sum(s.overdue), sum(s.soon), sum(s.n)
FROM (
    SELECT section, lead, status, closure,
           sum(coalesce(due, :year_end) < :today AND coalesce(closure, '') != 'closed') AS overdue,
           sum(coalesce(due, :year_end) BETWEEN :today AND :soon
               AND coalesce(status, '') != 'done') AS soon,
           count(*) AS n
    FROM task_standing
    WHERE plan_year = :year
    GROUP BY section, lead, status, closure
) AS s
GROUP BY s.section, s.lead, stage
"""
"""The plan's tasks by section, lead department and stage, with how many are overdue
(:data:`OVERDUE`, its due date kept beside its state) and due soon: a few hundred groups,
whatever the plan's size. The tasks are grouped by their columns in the order of a covering
index of ``task_standing``, and only those groups by stage: grouping 10,000 rows by the stage's
expression sorted them all (14 ms at 100×, against 4)."""

DEPT_STAGES = f"""
SELECT {STAGE} AS stage, count(*)
FROM task_departments AS td
LEFT JOIN task_state AS s ON s.plan_year = td.plan_year AND s.task = td.task
WHERE td.plan_year = :year AND td.dept = :dept
GROUP BY stage
"""

LEADS = """
WITH RECURSIVE leads(code) AS (
    SELECT min(lead) FROM task_standing WHERE plan_year = :year
    UNION ALL
    SELECT (SELECT min(lead) FROM task_standing WHERE plan_year = :year AND lead > leads.code)
    FROM leads WHERE leads.code IS NOT NULL
)
SELECT code,
    (SELECT count(*) FROM task_standing WHERE plan_year = :year AND lead = code
        AND status = 'done' AND closure IS NOT 'awaiting'),
    (SELECT count(*) FROM task_standing WHERE plan_year = :year AND lead = code
        AND status = 'done' AND closure = 'awaiting'),
    (SELECT count(*) FROM task_standing WHERE plan_year = :year AND lead = code
        AND due < :today AND closure IS NOT 'closed')
    + (SELECT count(*) FROM task_standing WHERE :year_end < :today AND plan_year = :year
        AND lead = code AND due IS NULL AND closure IS NOT 'closed'),
    (SELECT count(*) FROM task_standing WHERE plan_year = :year AND lead = code
        AND status = 'blocked')
FROM leads WHERE code IS NOT NULL
"""
"""Per lead department: its tasks closed, awaiting, overdue, blocked, by the rules of
:data:`STAGE` and :data:`OVERDUE` (a task without a due date is past due once the year end is)
over ``task_standing``: the departments found by skipping from one lead to the next, then each
count a range of one of its covering indexes, read in order (no task looked up, nothing sorted:
looking up each task's lead, date and state was 15 ms of /scorecard at 100x)."""

REPORTING = f"SELECT code FROM ({LAST_REPORTS}) WHERE latest >= :since"
"""Departments that reported since a moment: those whose latest update is since then, found by
skipping from department to department (two index entries each), not by reading every update
of the window (20,000 over two weeks at 100×)."""


@dataclass(frozen=True)
class Listed:
    tasks: list[int]
    """The first of them, led first, in plan order."""
    total: int


@dataclass
class PlanCounts:
    total: Counter[str] = field(default_factory=Counter)
    by_section: dict[int, Counter[str]] = field(default_factory=dict)
    by_lead: dict[str, Counter[str]] = field(default_factory=dict)
    overdue: int = 0
    soon: int = 0


@dataclass(frozen=True)
class Led:
    """Where the tasks a department leads stand (the rule of ``bot/standing.py``); how many
    it leads is the plan's (``Plan.tasks_of``), which the bot holds in memory."""

    dept: str
    closed: int
    awaiting: int
    overdue: int
    blocked: int


@dataclass(frozen=True)
class When:
    """The moment counts are made at: the light's inputs."""

    today: date
    now: datetime
    tracking_since: datetime
    year_end: date
    """When a task without a due date of its own is due."""


class Counting:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def department_stages(self, dept: str, *, year: int | None = None) -> Counter[str]:
        """The department's tasks (led or taking part) per stage."""
        year = self._db.current_year() if year is None else year
        rows = await self._db.fetchall(DEPT_STAGES, {"year": year, "dept": dept})
        return Counter({r[0]: r[1] for r in rows})

    async def plan(self, when: When, *, year: int | None = None) -> PlanCounts:
        """The plan's tasks per stage, by section and by lead department; overdue and soon."""
        year = self._db.current_year() if year is None else year
        rows = await self._db.fetchall(PLAN_COUNTS, {"year": year, **_days(when)})
        counts = PlanCounts()
        for section, lead, stage, overdue, soon, n in rows:
            counts.total[stage] += n
            counts.by_section.setdefault(section, Counter())[stage] += n
            counts.by_lead.setdefault(lead, Counter())[stage] += n
            counts.overdue += overdue
            counts.soon += soon
        return counts

    async def attention(
        self, dept: str, when: When, *, limit: int, year: int | None = None
    ) -> dict[str, Listed]:
        """What the department's digest lists, by kind (see :data:`ATTENTION`)."""
        year = self._db.current_year() if year is None else year
        params = {
            "year": year,
            "dept": dept,
            "limit": limit,
            "since": to_db(when.tracking_since),
            "quiet_before": to_db(when.now - QUIET),
            **_days(when),
        }
        found: dict[str, Listed] = {}
        for kind, task, total in await self._db.fetchall(ATTENTION, params):
            found.setdefault(kind, Listed([], total)).tasks.append(task)
        return found

    async def leads(
        self, *, today: date, year_end: date, year: int | None = None
    ) -> dict[str, Led]:
        """Each department that leads a task: closed, awaiting, overdue, blocked."""
        year = self._db.current_year() if year is None else year
        params = {"year": year, "today": today.isoformat(), "year_end": year_end.isoformat()}
        return {row[0]: Led(*row) for row in await self._db.fetchall(LEADS, params)}

    async def reporting(self, since: datetime, *, year: int | None = None) -> set[str]:
        """Departments with a status update or note since ``since``."""
        year = self._db.current_year() if year is None else year
        params = {"since": to_db(since), "year": year}
        return {r[0] for r in await self._db.fetchall(REPORTING, params)}


def _days(when: When) -> dict[str, str]:
    return {
        "today": when.today.isoformat(),
        "soon": (when.today + timedelta(days=SOON_DAYS)).isoformat(),
        "year_end": when.year_end.isoformat(),
    }
