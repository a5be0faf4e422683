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
NEXT_PER_CHAT = """
SELECT o.id, o.chat_id, o.kind, o.payload, o.update_id, o.attempts, o.not_before
FROM outbox AS o JOIN chats AS c ON c.chat_id = o.chat_id AND c.active = 1
WHERE o.state = 'pending' AND o.not_before <= :now
  AND NOT EXISTS (
      SELECT 1 FROM outbox AS e
      WHERE e.chat_id = o.chat_id AND e.id < o.id
        AND (e.state = 'sending'
             OR (e.state = 'pending' AND (e.attempts > 0 OR e.not_before <= :now))))
ORDER BY o.not_before, o.id
LIMIT :limit
"""


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
        """Pending messages whose time has come, oldest first; none for inactive chats."""
        rows = await self._db.fetchall(
            f"{SELECT_ITEM} WHERE state = 'pending' AND not_before <= ?"
            " AND chat_id IN (SELECT chat_id FROM chats WHERE active = 1)"
            " ORDER BY not_before, id LIMIT ?",
            (self._db.now(), limit),
        )
        return [_item(r) for r in rows]

    async def next_per_chat(self, *, limit: int = 100) -> list[OutboxItem]:
        """The one message to send next in each active chat, so a chat keeps its id order.

        A chat's due row waits while an older row of the chat is in flight, due, or waiting
        out a retry (attempted before); a row merely scheduled for later (never attempted)
        does not hold up the rows behind it.
        """
        rows = await self._db.fetchall(NEXT_PER_CHAT, {"now": self._db.now(), "limit": limit})
        return [_item(r) for r in rows]

    async def requeue_sending(self) -> int:
        """Put back in the queue what a crash left in flight; its request may have gone out."""
        return await self._db.execute(
            "UPDATE outbox SET state = 'pending', last_error = 'interrupted; sent again'"
            " WHERE state = 'sending'"
        )

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

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetchall("SELECT state, count(*) FROM outbox GROUP BY state")
        return {r[0]: r[1] for r in rows}
