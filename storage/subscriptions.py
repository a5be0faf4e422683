"""What each chat follows: a task of the current plan, a department, or the whole plan.

A task subscription belongs to its plan year and ends with it; department and whole-plan ones
carry on from year to year (their ``plan_year`` is 0). An ended subscription is kept until the
chat has been told, once, in its next weekly digest.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum

from storage.db import Database


class Follow(StrEnum):
    TASK = "task"
    DEPT = "dept"
    ALL = "all"


EVERYTHING = "*"
EVERY_YEAR = 0
"""The ``plan_year`` of department and whole-plan subscriptions."""


@dataclass(frozen=True, slots=True)
class Subscription:
    chat_id: int
    kind: Follow
    target: str
    year: int = EVERY_YEAR


ORDER = (
    " ORDER BY CASE kind WHEN 'all' THEN 0 WHEN 'dept' THEN 1 ELSE 2 END,"
    " plan_year, CASE kind WHEN 'task' THEN CAST(target AS INTEGER) END, target"
)


def end_other_years(conn: sqlite3.Connection, year: int, now: str) -> list[tuple[int, str]]:
    """End the task subscriptions of every year but ``year`` (a new plan is current); returns
    the ``(year, task)`` pairs that ended."""
    rows = conn.execute(
        "UPDATE subscriptions SET ended_at = ? WHERE kind = 'task' AND plan_year != ?"
        " AND ended_at IS NULL RETURNING plan_year, target",
        (now, year),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def mark_endings_told(conn: sqlite3.Connection, chat_id: int) -> None:
    """The chat's digest told it which subscriptions ended: they are gone for good."""
    conn.execute("DELETE FROM subscriptions WHERE chat_id = ? AND ended_at IS NOT NULL", (chat_id,))


class Subscriptions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _year_of(self, kind: Follow) -> int:
        return self._db.current_year() if kind is Follow.TASK else EVERY_YEAR

    async def add(self, chat_id: int, kind: Follow, target: str, *, by: int | None) -> bool:
        """Follow something in this chat; ``False`` when the chat already followed it."""
        changed = await self._db.execute(
            "INSERT OR IGNORE INTO subscriptions"
            " (chat_id, kind, target, plan_year, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (chat_id, kind.value, target, self._year_of(kind), by, self._db.now()),
        )
        return changed > 0

    async def remove(self, chat_id: int, kind: Follow, target: str) -> bool:
        changed = await self._db.execute(
            "DELETE FROM subscriptions WHERE chat_id = ? AND kind = ? AND target = ?"
            " AND plan_year = ? AND ended_at IS NULL",
            (chat_id, kind.value, target, self._year_of(kind)),
        )
        return changed > 0

    async def of_chat(self, chat_id: int) -> list[Subscription]:
        """What the chat follows now."""
        rows = await self._db.fetchall(
            "SELECT chat_id, kind, target, plan_year FROM subscriptions"
            " WHERE chat_id = ? AND ended_at IS NULL" + ORDER,
            (chat_id,),
        )
        return [Subscription(r[0], Follow(r[1]), r[2], r[3]) for r in rows]

    async def ended_untold(self, chat_id: int) -> list[Subscription]:
        """Task subscriptions that ended with their year, which the chat has not been told of."""
        rows = await self._db.fetchall(
            "SELECT chat_id, kind, target, plan_year FROM subscriptions"
            " WHERE chat_id = ? AND ended_at IS NOT NULL" + ORDER,
            (chat_id,),
        )
        return [Subscription(r[0], Follow(r[1]), r[2], r[3]) for r in rows]
