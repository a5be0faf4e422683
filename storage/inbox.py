"""The inbox: every update Telegram handed over, on disk before Telegram is told it arrived.

Polling writes a batch before asking for the next offset (which is what confirms it to
Telegram); the webhook writes an update before answering 200. Each row is then handled and
marked done; what a crash or a stop left pending is handled first at the next start. Rows are
keyed by Telegram's ``update_id``, so an update delivered twice (a webhook retry, a batch
fetched again after a crash) is written once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, to_db

CHAT_OF = (
    ("message", "chat"),
    ("edited_message", "chat"),
    ("my_chat_member", "chat"),
    ("chat_member", "chat"),
)


def chat_of(raw: dict[str, Any]) -> int | None:
    """The chat an update belongs to (a button's: the chat of its message), else its sender:
    updates of one chat are handled one after another, in order."""
    for kind, field in CHAT_OF:
        chat = (raw.get(kind) or {}).get(field)
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
    query = raw.get("callback_query") or {}
    chat = (query.get("message") or {}).get("chat")
    if isinstance(chat, dict) and isinstance(chat.get("id"), int):
        return int(chat["id"])
    sender = query.get("from") or {}
    return int(sender["id"]) if isinstance(sender.get("id"), int) else None


@dataclass(frozen=True, slots=True)
class Received:
    update_id: int
    chat_id: int | None
    payload: dict[str, Any]
    kept: bool = True
    """On disk (``False``: the database could not take it, and it is handled from memory)."""


SELECT_PENDING = """
SELECT update_id, chat_id, payload FROM inbox WHERE state = 'pending' ORDER BY update_id
"""


class Inbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def receive(self, updates: Sequence[dict[str, Any]]) -> list[Received]:
        """Write a batch of raw updates in one transaction; returns those new to the inbox
        (an update already there, handled or not, is not taken twice)."""
        rows = [Received(int(u["update_id"]), chat_of(u), u) for u in updates]

        def work(conn: sqlite3.Connection) -> list[Received]:
            now = self._db.now()
            fresh = []
            for row in rows:
                written = conn.execute(
                    "INSERT OR IGNORE INTO inbox (update_id, chat_id, payload, received_at)"
                    " VALUES (?, ?, ?, ?)",
                    (row.update_id, row.chat_id, json.dumps(row.payload, ensure_ascii=False), now),
                )
                if written.rowcount:
                    fresh.append(row)
            return fresh

        return await self._db.write(work) if rows else []

    async def pending(self) -> list[Received]:
        """What is still to be handled, oldest first."""
        rows = await self._db.fetchall(SELECT_PENDING)
        return [Received(r[0], r[1], json.loads(r[2])) for r in rows]

    async def done(self, update_id: int) -> None:
        """Handled. Not worth an fsync: lost in a power cut, the update is handled again, and
        handling is idempotent by ``update_id``."""
        await self._db.execute(
            "UPDATE inbox SET state = 'done', handled_at = ? WHERE update_id = ?",
            (self._db.now(), update_id),
            durable=False,
        )

    async def failed(self, update_id: int, error: str) -> None:
        """An update that cannot be handled at all (it does not parse): kept, not retried."""
        await self._db.execute(
            "UPDATE inbox SET state = 'failed', handled_at = ?, last_error = ? WHERE update_id = ?",
            (self._db.now(), error[:500], update_id),
        )

    async def next_offset(self) -> int | None:
        """One past the newest update id on disk (``None``: none); the sandbox's fake Telegram
        numbers its updates from there, so that a kept sandbox database takes them."""
        value = await self._db.fetchvalue("SELECT max(update_id) FROM inbox")
        return None if value is None else int(value) + 1

    async def prune(self, handled_before: datetime) -> int:
        """Forget handled rows older than ``handled_before``, keeping the newest row (the
        sandbox numbers from it); returns how many went. (Telegram draws fresh ids at random
        after a week without updates: rows a week old must be gone by then, or a new update
        whose id repeats an old one would be taken as seen.)"""
        return await self._db.execute(
            "DELETE FROM inbox WHERE state != 'pending' AND handled_at < ?"
            " AND update_id < (SELECT max(update_id) FROM inbox)",
            (to_db(handled_before),),
        )
