"""Each chat's weekly digest settings, and the log that makes a digest go out once a week."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage import outbox, subscriptions
from storage.db import Database, read_one
from storage.outbox import OutKind

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
        if at_time is not None and not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", at_time):
            raise ValueError("at_time is HH:MM")

        def work(conn: sqlite3.Connection) -> DigestSettings:
            # Read and write in one transaction, so two partial saves cannot undo each other.
            row = read_one(
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
            conn.execute(
                "INSERT INTO digest_settings (chat_id, enabled, weekday, at_time, updated_by, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (chat_id) DO UPDATE SET enabled = excluded.enabled,"
                " weekday = excluded.weekday, at_time = excluded.at_time,"
                " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                (chat_id, int(new.enabled), new.weekday, new.at_time, by, self._db.now()),
            )
            return new

        return await self._db.write(work)


@dataclass(frozen=True, slots=True)
class DigestChat:
    """A chat owed a weekly digest: it is active and has a binding or subscriptions."""

    chat_id: int
    type: str
    binding: str | None
    language: str | None
    settings: DigestSettings
    sent_this_week: bool


SELECT_DIGEST_CHATS = """
SELECT c.chat_id, c.type, c.binding, c.language,
       coalesce(d.enabled, 1) AS enabled, coalesce(d.weekday, :weekday) AS weekday,
       coalesce(d.at_time, :at_time) AS at_time, l.chat_id IS NOT NULL AS sent
FROM chats AS c
LEFT JOIN digest_settings AS d ON d.chat_id = c.chat_id
LEFT JOIN digest_log AS l ON l.chat_id = c.chat_id AND l.iso_week = :week
WHERE c.active = 1
  AND (c.binding IS NOT NULL OR EXISTS (
      SELECT 1 FROM subscriptions AS s
      WHERE s.chat_id = c.chat_id AND (s.ended_at IS NULL OR s.ended_told = 0)))
"""

Message = tuple[OutKind, dict[str, Any]]
"""An outbox message: its kind and payload."""


async def _digest_chats(db: Database, week: str, chat_id: int | None) -> list[DigestChat]:
    sql = SELECT_DIGEST_CHATS + (" AND c.chat_id = :chat" if chat_id is not None else "")
    rows = await db.fetchall(
        sql + " ORDER BY c.chat_id",
        {"week": week, "weekday": DEFAULT_WEEKDAY, "at_time": DEFAULT_TIME, "chat": chat_id},
    )
    return [
        DigestChat(
            chat_id=r["chat_id"],
            type=r["type"],
            binding=r["binding"],
            language=r["language"],
            settings=DigestSettings(r["chat_id"], bool(r["enabled"]), r["weekday"], r["at_time"]),
            sent_this_week=bool(r["sent"]),
        )
        for r in rows
    ]


class DigestQueue:
    """Digests owed and sent: which chats get one, and the once-a-week record."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def chats(self, week: str) -> list[DigestChat]:
        return await _digest_chats(self._db, week, None)

    async def chat(self, chat_id: int, week: str) -> DigestChat | None:
        found = await _digest_chats(self._db, week, chat_id)
        return found[0] if found else None

    async def send_weekly(self, chat_id: int, week: str, messages: Sequence[Message]) -> bool:
        """Log the week's digest and owe its messages, in one transaction; ``False`` (and
        nothing owed) when this chat's digest for the week was already logged."""

        def work(conn: sqlite3.Connection) -> bool:
            now = self._db.now()
            logged = conn.execute(
                "INSERT OR IGNORE INTO digest_log (chat_id, iso_week, created_at) VALUES (?, ?, ?)",
                (chat_id, week, now),
            )
            if not logged.rowcount:
                return False
            first = _owe(conn, chat_id, messages, f"digest:{week}:{chat_id}", now)
            subscriptions.mark_endings_told(conn, chat_id)  # the digest says which ended
            conn.execute(
                "UPDATE digest_log SET outbox_id = ? WHERE chat_id = ? AND iso_week = ?",
                (first, chat_id, week),
            )
            return True

        return await self._db.write(work)

    async def send_now(self, chat_id: int, messages: Sequence[Message]) -> None:
        """A digest on request (/digest now): sent, but not the week's."""
        await self._db.write(lambda conn: _owe(conn, chat_id, messages, None, self._db.now()))


def _owe(
    conn: sqlite3.Connection,
    chat_id: int,
    messages: Sequence[Message],
    key: str | None,
    now: str,
) -> int | None:
    """Owe a digest's messages in order; the first one's outbox id."""
    first = None
    for i, (kind, payload) in enumerate(messages):
        dedup = None if key is None else f"{key}:{i}"
        owed = outbox.owe(conn, chat_id, kind, payload, now=now, dedup_key=dedup)
        first = first if first is not None else owed
    return first
