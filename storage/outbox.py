"""The outbox: messages owed to chats, kept until Telegram has accepted them.

This module is the only one that writes the ``outbox`` table. Other writes that owe messages
(a status update, a weekly digest) call its ``owe_*`` functions with their own connection, inside
their own transaction, so that what is owed is committed with what made it owed. The kinds of
message are :class:`OutKind`; each has one loader on the delivery side (``bot/composer.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.db import Database, from_db, to_db


class OutKind(StrEnum):
    """What an outbox row is; its payload says which one (see each member)."""

    TEXT = "text"
    """A finished HTML text: ``{"text": "..."}``."""
    NOTIFICATION = "notification"
    """A recorded update announced to a following chat: ``{"task": n, "update_id": id}``."""
    CHART = "chart"
    """The whole plan's progress chart, drawn when sent: ``{"caption": "...", "lang": "zh"}``."""
    ROUND_REQUEST = "round_request"
    """A round's request to a department, its list as it stands when sent:
    ``{"round": id, "dept": "cnipa"}``."""
    ROUND_REMINDER = "round_reminder"
    """A reminder of what a department still owes: ``{"round": id, "dept": "cnipa", "kind":
    "before"|"due"}`` (nothing is sent if it owes nothing any more)."""
    ROUND_MISSING = "round_missing"
    """The office's list of what is missing after the due date: ``{"round": id, ...}``."""
    DUE_CHANGED = "due_changed"
    """Due dates the office changed, to a chat following the tasks: ``{"changes": [id, …]}``."""
    DUE_REMINDER = "due_reminder"
    """Tasks falling due or gone overdue, to a department or the office:
    ``{"kind": "day14"|"day1"|"overdue"|"office", "year": y, "dept": code|null, "tasks": [n, …]}``."""
    CLOSE_CARD = "close_card"
    """A task reported done, for the office to confirm or return: ``{"request": closure id}``;
    drawn as it stands when sent (its buttons gone once someone has acted)."""
    CLOSURE = "closure"
    """A task confirmed closed or returned, to its department and followers: ``{"event": id}``."""
    EDIT = "edit"
    """The message another row sent, edited to what that row would show now: ``{"of": row id}``."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    update_id: int | None
    attempts: int
    not_before: datetime
    message_id: int | None = None
    """The message Telegram made of it, once sent."""
    shown: str | None = None
    """A digest of what that message shows now (as sent, or as last edited)."""


SELECT_ITEM = (
    "SELECT id, chat_id, kind, payload, update_id, attempts, not_before, message_id, shown"
    " FROM outbox"
)
NEXT_PER_CHAT = """
SELECT o.id, o.chat_id, o.kind, o.payload, o.update_id, o.attempts, o.not_before, o.message_id,
       o.shown
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
        message_id=row["message_id"],
        shown=row["shown"],
    )


INSERT_ROW = """
INSERT OR IGNORE INTO outbox (chat_id, kind, payload, update_id, dedup_key, not_before, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""

# One row per chat following the task, one of its departments, or everything; never the chat
# the update was made in; only chats that still accept messages. The dedup key makes it once.
INSERT_NOTIFICATIONS = """
INSERT OR IGNORE INTO outbox (chat_id, kind, payload, update_id, dedup_key, not_before, created_at)
SELECT f.chat_id, :kind, json_object('task', :task, 'update_id', :id), :id,
       'update:' || :id || ':' || f.chat_id, :now, :now
FROM (
    SELECT chat_id FROM subscriptions
    WHERE kind = 'task' AND target = :task_text AND plan_year = :year AND ended_at IS NULL
    UNION SELECT chat_id FROM subscriptions
    WHERE kind = 'dept' AND target IN (SELECT value FROM json_each(:depts)) AND ended_at IS NULL
    UNION SELECT chat_id FROM subscriptions WHERE kind = 'all' AND ended_at IS NULL
) AS f JOIN chats AS c ON c.chat_id = f.chat_id AND c.active = 1
WHERE f.chat_id IS NOT :origin
"""
"""Every active chat following the task, one of its departments or the whole plan, but the
one it came from: each kind of following a search of the subscriptions' index, not one scan of
them all (with 50,000 at 100×, the scan was most of recording an update)."""


def owe(
    conn: sqlite3.Connection,
    chat_id: int,
    kind: OutKind,
    payload: dict[str, Any],
    *,
    now: str,
    dedup_key: str | None = None,
    update_id: int | None = None,
    not_before: str | None = None,
) -> int | None:
    """Owe one message, in the caller's transaction; ``None`` if a message with this
    ``dedup_key`` was ever owed (the key makes owing idempotent for good, even after sending)."""
    cursor = conn.execute(
        INSERT_ROW,
        (
            chat_id,
            OutKind(kind).value,  # a kind this version does not name is refused here
            json.dumps(payload, ensure_ascii=False),
            update_id,
            dedup_key,
            not_before or now,
            now,
        ),
    )
    return cursor.lastrowid if cursor.rowcount else None


INSERT_EACH = """
INSERT OR IGNORE INTO outbox (chat_id, kind, payload, update_id, dedup_key, not_before, created_at)
SELECT c.value, :kind, p.value, NULL, NULL, :now, :now
FROM json_each(:chats) AS c, json_each(:payloads) AS p
ORDER BY c.key, p.key
"""
"""Every chat (a JSON array of ids) each payload (a JSON array of their texts), chat by chat."""


def owe_each(
    conn: sqlite3.Connection,
    chats: Sequence[int],
    kind: OutKind,
    payloads: Sequence[dict[str, Any]],
    *,
    now: str,
) -> int:
    """Owe every chat each of ``payloads``, chat by chat, as :func:`owe` would one by one (no
    dedup key), in one statement: a list owed to a department's hundreds of members' chats is
    encoded and inserted at once. Returns how many are owed."""
    texts = [json.dumps(payload, ensure_ascii=False) for payload in payloads]
    cursor = conn.execute(
        INSERT_EACH,
        {
            "kind": OutKind(kind).value,
            "now": now,
            "chats": json.dumps(list(chats)),
            "payloads": json.dumps(texts, ensure_ascii=False),
        },
    )
    return cursor.rowcount


def owe_notifications(
    conn: sqlite3.Connection,
    *,
    year: int,
    task: int,
    update_id: int,
    departments: list[str],
    origin: int | None,
    now: str,
) -> int:
    """Owe a notification of an update to every chat following it; returns how many."""
    cursor = conn.execute(
        INSERT_NOTIFICATIONS,
        {
            "kind": OutKind.NOTIFICATION.value,
            "year": year,
            "task": task,
            "task_text": str(task),
            "id": update_id,
            "depts": json.dumps(departments),
            "origin": origin,
            "now": now,
        },
    )
    return cursor.rowcount


def owe_edits(conn: sqlite3.Connection, key_prefix: str, reason: str, *, now: str) -> int:
    """Owe an edit of every message already sent (or being sent) from a row whose dedup key
    starts with ``key_prefix``, to show what it shows now; once per row and ``reason``. A row
    not sent yet needs none: it is drawn as things stand when it goes. Returns how many."""
    rows = conn.execute(
        "SELECT id, chat_id FROM outbox WHERE dedup_key >= ? AND dedup_key < ?"
        " AND state IN ('sent', 'sending') ORDER BY id",
        (key_prefix, key_prefix + "\U0010ffff"),
    ).fetchall()
    owed = 0
    for row_id, chat_id in rows:
        key = f"edit:{row_id}:{reason}"
        owed += owe(conn, chat_id, OutKind.EDIT, {"of": row_id}, now=now, dedup_key=key) is not None
    return owed


def give_up_chat(conn: sqlite3.Connection, chat_id: int, reason: str) -> int:
    """Fail everything still owed to a chat that can no longer be written to; how many."""
    cursor = conn.execute(
        "UPDATE outbox SET state = 'failed', last_error = ?"
        " WHERE chat_id = ? AND state IN ('pending', 'sending')",
        (f"chat inactive: {reason}"[:500], chat_id),
    )
    return cursor.rowcount


def move_chat(conn: sqlite3.Connection, old_id: int, new_id: int) -> None:
    """What is owed to a group goes to the supergroup it became."""
    conn.execute("UPDATE OR IGNORE outbox SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))


class Outbox:
    def __init__(self, db: Database) -> None:
        self._db = db

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

    async def mark_sending(self, item_id: int) -> bool:
        """Claim a pending message before the request goes out; ``False`` if it was not pending.
        (Not worth an fsync, as :meth:`mark_sent`: a claim lost in a power cut is sent again.)"""
        changed = await self._db.execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1"
            " WHERE id = ? AND state = 'pending'",
            (item_id,),
            durable=False,
        )
        return changed > 0

    async def mark_sent(
        self,
        item_id: int,
        *,
        message_id: int | None,
        shown: str | None = None,
        edited: int | None = None,
    ) -> None:
        """Sent as ``message_id``, showing ``shown``; ``edited``: the row whose message this
        one edited, which shows that now. Not worth an fsync: lost in a power cut, the message
        is sent again (at least once, never lost)."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE outbox SET state = 'sent', message_id = ?, shown = ?, sent_at = ?,"
                " last_error = NULL WHERE id = ?",
                (message_id, shown, self._db.now(), item_id),
            )
            if edited is not None:
                conn.execute("UPDATE outbox SET shown = ? WHERE id = ?", (shown, edited))

        await self._db.write(work, durable=False)

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
