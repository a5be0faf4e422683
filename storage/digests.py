"""Each chat's weekly digest settings, and the log that makes a digest go out once a week."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, from_db, read_one, write

DEFAULT_WEEKDAY = 1  # ISO weekday: Monday
DEFAULT_TIME = "09:00"


@dataclass(frozen=True, slots=True)
class DigestSettings:
    chat_id: int
    enabled: bool
    weekday: int
    """ISO weekday, 1 = Monday … 7 = Sunday."""
    at_time: str
    """Local ``HH:MM`` in the bot's time zone."""


def iso_week(moment: datetime) -> str:
    """``2026-W48``: the key of a digest week (ISO year and week of the local date)."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


class Digests:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def settings(self, chat_id: int) -> DigestSettings:
        row = await self._db.fetchone(
            "SELECT enabled, weekday, at_time FROM digest_settings WHERE chat_id = ?", (chat_id,)
        )
        if row is None:
            return DigestSettings(chat_id, True, DEFAULT_WEEKDAY, DEFAULT_TIME)
        return DigestSettings(chat_id, bool(row[0]), row[1], row[2])

    async def save(
        self,
        chat_id: int,
        *,
        enabled: bool | None = None,
        weekday: int | None = None,
        at_time: str | None = None,
        by: int | None = None,
    ) -> DigestSettings:
        """Change some of the settings, keeping the others."""
        if weekday is not None and not 1 <= weekday <= 7:
            raise ValueError("weekday is an ISO weekday from 1 (Monday) to 7 (Sunday)")
        if at_time is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", at_time):
            raise ValueError("at_time is HH:MM")
        async with self._db.transaction() as conn:
            # Read and write in one transaction, so two partial saves cannot undo each other.
            row = await read_one(
                conn,
                "SELECT enabled, weekday, at_time FROM digest_settings WHERE chat_id = ?",
                (chat_id,),
            )
            current = (
                DigestSettings(chat_id, bool(row[0]), row[1], row[2])
                if row
                else DigestSettings(chat_id, True, DEFAULT_WEEKDAY, DEFAULT_TIME)
            )
            new = DigestSettings(
                chat_id,
                current.enabled if enabled is None else enabled,
                current.weekday if weekday is None else weekday,
                current.at_time if at_time is None else at_time,
            )
            await write(
                conn,
                "INSERT INTO digest_settings (chat_id, enabled, weekday, at_time, updated_by, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (chat_id) DO UPDATE SET enabled = excluded.enabled,"
                " weekday = excluded.weekday, at_time = excluded.at_time,"
                " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                (chat_id, int(new.enabled), new.weekday, new.at_time, by, self._db.now()),
            )
        return new

    async def sent_for_week(self, chat_id: int, week: str) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 FROM digest_log WHERE chat_id = ? AND iso_week = ?", (chat_id, week)
        )
        return row is not None

    async def last_sent(self, chat_id: int) -> datetime | None:
        value = await self._db.fetchvalue(
            "SELECT max(created_at) FROM digest_log WHERE chat_id = ?", (chat_id,)
        )
        return None if value is None else from_db(value)
