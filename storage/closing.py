"""The office's answer to a task reported done: confirm it (销号, closed) or return it with a
reason (in progress again). Each answer is one transaction: the closing event, the task's
state, the edits of every copy of the office's card, and the notices to the task's lead
department and followers; handling the same Telegram update again records nothing twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from storage import closures, recipients
from storage.closures import Closure, ClosureEvent, Event
from storage.db import Database, read_one
from storage.updates import Status, TaskState, read_state, record_in, set_closure


class Answer(StrEnum):
    DONE = "done"
    """Recorded now (or by an earlier handling of the same update)."""
    ANSWERED = "answered"
    """The request was answered before (another admin, a withdrawal): ``event`` says how."""
    NOT_AWAITING = "not_awaiting"
    """The task is not awaiting confirmation: ``state`` says where it stands."""


@dataclass(frozen=True, slots=True)
class Answered:
    outcome: Answer
    event: ClosureEvent | None = None
    """Ours when ``DONE``; the earlier answer when ``ANSWERED``."""
    state: TaskState | None = None
    """The task's state afterwards."""
    notices: int = 0


@dataclass(frozen=True, slots=True)
class Asked:
    """What the answer is about, and who gives it where."""

    task: int
    lead: str
    departments: Sequence[str]
    by: int
    chat_id: int | None
    source_update: int | None = None
    request: int | None = None
    """The request answered, when a card or a prompt names it; else the task's open one."""


def last_progress_below_full(conn: sqlite3.Connection, year: int, task: int) -> int | None:
    """The task's latest progress figure under 100%: what it returns to when sent back."""
    row = read_one(
        conn,
        "SELECT progress FROM status_updates WHERE plan_year = ? AND task = ?"
        " AND progress IS NOT NULL AND progress < 100 ORDER BY id DESC LIMIT 1",
        (year, task),
    )
    return None if row is None else int(row[0])


class Closing:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def confirm(self, asked: Asked) -> Answered:
        """Close a task awaiting confirmation."""
        return await self._answer(asked, Event.CONFIRM, None)

    async def send_back(self, asked: Asked, reason: str) -> Answered:
        """Return a task awaiting confirmation: in progress again, its progress figure the
        last one below 100% (if any), the reason recorded as the update's note."""
        return await self._answer(asked, Event.RETURN, reason)

    async def _answer(self, asked: Asked, kind: Event, reason: str | None) -> Answered:
        year = self._db.current_year()

        def state(conn: sqlite3.Connection) -> TaskState | None:
            return read_state(conn, year, asked.task)

        def work(conn: sqlite3.Connection) -> Answered:
            if asked.source_update is not None:
                before = closures.by_source(conn, asked.source_update)
                if before is not None:
                    return Answered(Answer.DONE, before, state(conn))
            now = self._db.now()
            current = state(conn)
            open_request = current.closure_event if current and current.awaiting else None
            if asked.request is not None and asked.request != open_request:
                return Answered(Answer.ANSWERED, closures.answer_in(conn, asked.request), current)
            if open_request is None:
                return Answered(Answer.NOT_AWAITING, None, current)
            update_id = None
            if kind is Event.RETURN:
                recorded = record_in(
                    conn, now, year, asked.task, author_id=asked.by, dept=None,
                    chat_id=asked.chat_id, status=Status.IN_PROGRESS,
                    progress=last_progress_below_full(conn, year, asked.task), note=reason,
                    source_update=asked.source_update, notify=False, closing=False,
                )  # fmt: skip
                update_id = recorded.update.id
            answer = closures.add(
                conn, year=year, task=asked.task, kind=kind, by=asked.by, now=now,
                chat_id=asked.chat_id, request_id=open_request, update_id=update_id,
                reason=reason, source_update=asked.source_update,
            )  # fmt: skip
            closed = Closure.CLOSED if kind is Event.CONFIRM else None
            set_closure(conn, year, asked.task, closed, answer)
            closures.owe_card_edits(conn, open_request, answer, now)
            told = [c for c in recipients.department_chats(conn, asked.lead) if c != asked.chat_id]
            follow = recipients.followers(
                conn, year, {asked.task: asked.departments}, origin=asked.chat_id
            )
            chats = sorted(set(told) | set(follow))
            notices = closures.owe_notices(conn, answer, chats, now)
            return Answered(Answer.DONE, closures.get_in(conn, answer), state(conn), notices)

        return await self._db.write(work)
