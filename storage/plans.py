"""The plans the bot has run with, one per year, and which of them is current.

Each row keeps the tasks file's canonical text, so that an earlier year stays readable (cards,
history, exports) after its file is gone; the fingerprint tells a corrected import of the same
year from the file the bot already knows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage import subscriptions
from storage.db import Database, from_db


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
