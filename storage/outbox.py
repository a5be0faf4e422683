"""The outbox: messages owed to chats, kept until Telegram has accepted them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, from_db, to_db, write


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    update_id: int | None
    attempts: int
    not_before: datetime


SELECT_ITEM = "SELECT id, chat_id, kind, payload, update_id, attempts, not_before FROM outbox"


def _item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        chat_id=row["chat_id"],
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        update_id=row["update_id"],
        attempts=row["attempts"],
        not_before=from_db(row["not_before"]),
    )


class Outbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(
        self,
        chat_id: int,
        kind: str,
        payload: dict[str, Any],
        *,
        dedup_key: str | None = None,
        update_id: int | None = None,
        not_before: datetime | None = None,
    ) -> int | None:
        """Owe a message to a chat; ``None`` if a message with this ``dedup_key`` was ever enqueued.

        The key makes enqueueing idempotent for good: a notification for one update to one chat,
        or one digest per chat and week, is owed at most once, even after it was sent.
        """
        now = self._db.now()
        async with self._db.transaction() as conn:
            cursor = await write(
                conn,
                "INSERT OR IGNORE INTO outbox"
                " (chat_id, kind, payload, update_id, dedup_key, not_before, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    kind,
                    json.dumps(payload, ensure_ascii=False),
                    update_id,
                    dedup_key,
                    now if not_before is None else to_db(not_before),
                    now,
                ),
            )
            return cursor.lastrowid if cursor.rowcount else None

    async def due(self, *, limit: int = 100) -> list[OutboxItem]:
        """Pending messages whose time has come, oldest first."""
        rows = await self._db.fetchall(
            f"{SELECT_ITEM} WHERE state = 'pending' AND not_before <= ? ORDER BY not_before, id"
            " LIMIT ?",
            (self._db.now(), limit),
        )
        return [_item(r) for r in rows]

    async def get(self, item_id: int) -> OutboxItem | None:
        row = await self._db.fetchone(f"{SELECT_ITEM} WHERE id = ?", (item_id,))
        return None if row is None else _item(row)

    async def state(self, item_id: int) -> str | None:
        value = await self._db.fetchvalue("SELECT state FROM outbox WHERE id = ?", (item_id,))
        return None if value is None else str(value)

    async def mark_sending(self, item_id: int) -> bool:
        """Claim a pending message before the request goes out; ``False`` if it was not pending."""
        changed = await self._db.execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1"
            " WHERE id = ? AND state = 'pending'",
            (item_id,),
        )
        return changed > 0

    async def mark_sent(self, item_id: int, *, message_id: int | None) -> None:
        await self._db.execute(
            "UPDATE outbox SET state = 'sent', message_id = ?, sent_at = ?, last_error = NULL"
            " WHERE id = ?",
            (message_id, self._db.now(), item_id),
        )

    async def retry_later(self, item_id: int, *, not_before: datetime, error: str) -> None:
        await self._db.execute(
            "UPDATE outbox SET state = 'pending', not_before = ?, last_error = ? WHERE id = ?",
            (to_db(not_before), error[:500], item_id),
        )

    async def mark_failed(self, item_id: int, *, error: str) -> None:
        """Give up on one message (a refusal that no retry can mend)."""
        await self._db.execute(
            "UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ?",
            (error[:500], item_id),
        )

    async def fail_chat(self, chat_id: int, *, error: str) -> int:
        """Give up on everything owed to a chat that blocked or removed the bot."""
        return await self._db.execute(
            "UPDATE outbox SET state = 'failed', last_error = ?"
            " WHERE chat_id = ? AND state IN ('pending', 'sending')",
            (error[:500], chat_id),
        )

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetchall("SELECT state, count(*) FROM outbox GROUP BY state")
        return {r[0]: r[1] for r in rows}
