"""Closing a task (销号): the append-only history of requests and answers, the office's cards,
and the forced replies that ask why a task is returned. This module owns ``closures`` and
``reason_prompts``; where a task stands (``task_state.closure``) is kept by storage/updates.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from storage import outbox
from storage.db import Database, from_db, read_one
from storage.outbox import OutKind


class Closure(StrEnum):
    """Where a done task stands: awaiting the office's confirmation, or closed."""

    AWAITING = "awaiting"
    CLOSED = "closed"


class Event(StrEnum):
    REQUEST = "request"
    """A department reported done: the office is asked to confirm."""
    CLOSE = "close"
    """Done and closed at once: an admin's own done, or no confirmation needed."""
    CONFIRM = "confirm"
    RETURN = "return"
    """Sent back, with a reason: the task is in progress again."""
    WITHDRAW = "withdraw"
    """The department moved the task away from done before the office answered."""
    REOPEN = "reopen"
    """A closed task's status changed again (only the office may)."""


ANSWERS = (Event.CONFIRM, Event.RETURN, Event.WITHDRAW)
"""What ends a request."""
ANSWER_KINDS = "(" + ", ".join(f"'{kind.value}'" for kind in ANSWERS) + ")"


@dataclass(frozen=True, slots=True)
class DoneRule:
    """What a status update to done does, decided by the caller (``bot/permissions.py``)."""

    closes: bool
    """Closed at once (an admin's own done, or the office need not confirm)."""
    office: tuple[int, ...] = ()
    """The admins: where the office's card goes when no group is bound to the whole plan."""


CLOSES_AT_ONCE = DoneRule(closes=True)


@dataclass(frozen=True, slots=True)
class ClosureEvent:
    id: int
    year: int
    task: int
    kind: Event
    request_id: int | None
    update_id: int | None
    reason: str | None
    by_user: int
    by_name: str
    chat_id: int | None
    created_at: datetime


SELECT_EVENTS = """
SELECT e.id, e.plan_year, e.task, e.kind, e.request_id, e.update_id, e.reason, e.by_user,
       coalesce(nullif(u.full_name, ''), u.username, '') AS by_name, e.chat_id, e.created_at
FROM closures AS e JOIN users AS u ON u.user_id = e.by_user
"""


SELECT_ANSWER = (
    f"{SELECT_EVENTS} WHERE e.request_id = ? AND e.kind IN {ANSWER_KINDS} ORDER BY e.id LIMIT 1"
)


def event(row: sqlite3.Row) -> ClosureEvent:
    (id_, year, task, kind, request, update, reason, by, name, chat, at) = row
    return ClosureEvent(
        id_, year, task, Event(kind), request, update, reason, by, name, chat, from_db(at)
    )


def add(
    conn: sqlite3.Connection,
    *,
    year: int,
    task: int,
    kind: Event,
    by: int,
    now: str,
    chat_id: int | None = None,
    request_id: int | None = None,
    update_id: int | None = None,
    reason: str | None = None,
    source_update: int | None = None,
) -> int:
    """Append one event, in the caller's transaction; its id."""
    cursor = conn.execute(
        "INSERT INTO closures (plan_year, task, kind, request_id, update_id, reason, by_user,"
        " chat_id, created_at, source_update) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (year, task, kind.value, request_id, update_id, reason, by, chat_id, now, source_update),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def get_in(conn: sqlite3.Connection, event_id: int) -> ClosureEvent | None:
    row = read_one(conn, f"{SELECT_EVENTS} WHERE e.id = ?", (event_id,))
    return None if row is None else event(row)


def by_source(conn: sqlite3.Connection, source_update: int) -> ClosureEvent | None:
    """The event a Telegram update made, if it was handled before."""
    row = read_one(conn, f"{SELECT_EVENTS} WHERE e.source_update = ?", (source_update,))
    return None if row is None else event(row)


def answer_in(conn: sqlite3.Connection, request_id: int) -> ClosureEvent | None:
    """What ended a request: its confirm, return or withdrawal (``None``: still open)."""
    row = read_one(conn, SELECT_ANSWER, (request_id,))
    return None if row is None else event(row)


def card_key(request_id: int) -> str:
    """The dedup key prefix of the office's cards for one request."""
    return f"close:{request_id}:"


def owe_cards(conn: sqlite3.Connection, request_id: int, chats: Iterable[int], now: str) -> int:
    """The office's card for a request, once to each of its chats."""
    owed = 0
    for chat_id in chats:
        key = f"{card_key(request_id)}{chat_id}"
        payload = {"request": request_id}
        owed += (
            outbox.owe(conn, chat_id, OutKind.CLOSE_CARD, payload, now=now, dedup_key=key)
            is not None
        )
    return owed


def owe_card_edits(conn: sqlite3.Connection, request_id: int, answer_id: int, now: str) -> int:
    """Every copy of the request's card already sent is edited to show the answer."""
    return outbox.owe_edits(conn, card_key(request_id), f"closure{answer_id}", now=now)


def owe_notices(conn: sqlite3.Connection, event_id: int, chats: Iterable[int], now: str) -> int:
    """Tell each chat of a confirm or a return, once."""
    owed = 0
    for chat_id in chats:
        key = f"closure:{event_id}:{chat_id}"
        payload = {"event": event_id}
        owed += (
            outbox.owe(conn, chat_id, OutKind.CLOSURE, payload, now=now, dedup_key=key) is not None
        )
    return owed


class Closures:
    """Reading the closing history, and the prompts that ask for a reason."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, event_id: int) -> ClosureEvent | None:
        row = await self._db.fetchone(f"{SELECT_EVENTS} WHERE e.id = ?", (event_id,))
        return None if row is None else event(row)

    async def answer(self, request_id: int) -> ClosureEvent | None:
        """What ended a request: its confirm, return or withdrawal (``None``: still open)."""
        row = await self._db.fetchone(SELECT_ANSWER, (request_id,))
        return None if row is None else event(row)

    async def of_states(self, event_ids: Iterable[int]) -> dict[int, ClosureEvent]:
        """The events that put tasks where they stand, by task (for the export)."""
        wanted = sorted(set(event_ids))
        if not wanted:
            return {}
        rows = await self._db.fetchall(
            f"{SELECT_EVENTS} WHERE e.id IN ({','.join('?' * len(wanted))})", wanted
        )
        return {row["task"]: event(row) for row in rows}

    async def ask_reason(
        self, chat_id: int, message_id: int, request_id: int, *, asked_by: int
    ) -> None:
        """This message asks for the reason a request is returned."""
        await self._db.execute(
            "INSERT OR REPLACE INTO reason_prompts (chat_id, message_id, request_id, asked_by,"
            " created_at) VALUES (?, ?, ?, ?, ?)",
            (chat_id, message_id, request_id, asked_by, self._db.now()),
        )

    async def prompted(self, chat_id: int, message_id: int) -> int | None:
        """The request a bot message asks a return reason for, if it is such a prompt."""
        value = await self._db.fetchvalue(
            "SELECT request_id FROM reason_prompts WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
        return None if value is None else int(value)
