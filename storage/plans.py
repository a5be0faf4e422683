"""The plans the bot has run with, one per year, and which of them is current.

Each row keeps the tasks file's canonical text, so that an earlier year stays readable (cards,
history, exports) after its file is gone; the fingerprint tells a corrected import of the same
year from the file the bot already knows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from storage import subscriptions
from storage.db import Database, from_db, read_one


class IndexedTask(Protocol):
    """What the plan index keeps of a task (``bot.plan.Task`` is one)."""

    @property
    def number(self) -> int: ...
    @property
    def section(self) -> int: ...
    @property
    def lead(self) -> str: ...
    @property
    def participants(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class StoredPlan:
    year: int
    title: str
    content: str
    fingerprint: str
    is_current: bool
    added_at: datetime


SELECT_PLANS = (
    "SELECT year, title, content, fingerprint, is_current, added_at FROM plans ORDER BY year"
)


def _plan(row: sqlite3.Row) -> StoredPlan:
    return StoredPlan(row[0], row[1], row[2], row[3], bool(row[4]), from_db(row[5]))


class Plans:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[StoredPlan]:
        """Every year's plan, oldest first."""
        return [_plan(r) for r in await self._db.fetchall(SELECT_PLANS)]

    async def add_current(
        self, year: int, title: str, content: str, fingerprint: str
    ) -> list[tuple[int, str]]:
        """Add (or, going back, bring forward) ``year``'s plan as the current one; task
        subscriptions of other years end with it, in the same transaction. Returns the
        ``(year, task)`` subscriptions that ended."""

        def work(conn: sqlite3.Connection) -> list[tuple[int, str]]:
            now = self._db.now()
            conn.execute("UPDATE plans SET is_current = 0 WHERE is_current = 1")
            conn.execute(
                "INSERT INTO plans (year, title, content, fingerprint, is_current, added_at,"
                " updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)"
                " ON CONFLICT (year) DO UPDATE SET title = excluded.title,"
                " content = excluded.content, fingerprint = excluded.fingerprint,"
                " is_current = 1, updated_at = excluded.updated_at",
                (year, title, content, fingerprint, now, now),
            )
            return subscriptions.end_other_years(conn, year, now)

        return await self._db.write(work)

    async def replace(self, year: int, title: str, content: str, fingerprint: str) -> None:
        """A corrected import of a year the bot knows: its text changes, its history stays."""
        await self._db.execute(
            "UPDATE plans SET title = ?, content = ?, fingerprint = ?, updated_at = ?"
            " WHERE year = ?",
            (title, content, fingerprint, self._db.now(), year),
        )

    async def index(self, year: int, fingerprint: str, tasks: Sequence[IndexedTask]) -> bool:
        """Make ``plan_tasks`` and ``task_departments`` hold ``year``'s plan (each task's
        section, lead and departments), unless they already hold the plan of this fingerprint;
        ``True`` when they were written."""

        def work(conn: sqlite3.Connection) -> bool:
            held = read_one(conn, "SELECT fingerprint FROM plan_index WHERE plan_year = ?", (year,))
            if held is not None and held[0] == fingerprint:
                return False
            conn.execute("DELETE FROM plan_tasks WHERE plan_year = ?", (year,))
            conn.execute("DELETE FROM task_departments WHERE plan_year = ?", (year,))
            conn.executemany(
                "INSERT INTO plan_tasks (plan_year, task, section, lead) VALUES (?, ?, ?, ?)",
                [(year, t.number, t.section, t.lead) for t in tasks],
            )
            conn.executemany(
                "INSERT INTO task_departments (plan_year, dept, task, is_lead) VALUES (?, ?, ?, ?)",
                [
                    (year, dept, t.number, int(i == 0))
                    for t in tasks
                    for i, dept in enumerate((t.lead, *t.participants))
                ],
            )
            conn.execute(
                "INSERT INTO plan_index (plan_year, fingerprint, indexed_at) VALUES (?, ?, ?)"
                " ON CONFLICT (plan_year) DO UPDATE SET fingerprint = excluded.fingerprint,"
                " indexed_at = excluded.indexed_at",
                (year, fingerprint, self._db.now()),
            )
            return True

        return await self._db.write(work)
