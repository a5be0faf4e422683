"""Status updates: an append-only history, and each task's current state kept beside it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage import closures, outbox, recipients
from storage.closures import CLOSES_AT_ONCE, Closure, DoneRule, Event
from storage.db import Database, from_db, read_one, to_db


class Status(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    id: int
    task: int
    kind: str
    """``status`` for a status or progress change, ``note`` for a note alone."""
    old_status: Status
    status: Status
    progress: int | None
    note: str | None
    author_id: int
    author_name: str
    dept: str | None
    chat_id: int | None
    created_at: datetime
    year: int
    """The plan year of the task it is about."""


@dataclass(frozen=True, slots=True)
class Recorded:
    update: StatusUpdate
    notifications: int
    """How many chats are now owed a notification of it."""
    closure: Closure | None = None
    """Where the task stands in closing afterwards (awaiting the office, closed, or not done)."""


@dataclass(frozen=True, slots=True)
class TaskState:
    task: int
    status: Status
    progress: int | None
    last_update_id: int
    updated_at: datetime
    status_changed_at: datetime | None
    closure: Closure | None = None
    """Done and awaiting the office's confirmation, or closed; ``None`` while not done."""
    closure_event: int | None = None
    """The closing event that put it there (``storage/closures.py``)."""

    @property
    def awaiting(self) -> bool:
        return self.closure is Closure.AWAITING

    @property
    def closed(self) -> bool:
        return self.closure is Closure.CLOSED


NOT_REPORTED = Status.NOT_STARTED
"""The state of a task nobody has reported on yet."""

SELECT_UPDATES = """
SELECT u.id, u.task, u.kind, u.old_status, u.status, u.progress, u.note, u.author_id,
       coalesce(nullif(us.full_name, ''), us.username, '') AS author_name,
       u.dept, u.chat_id, u.created_at, u.plan_year
FROM status_updates AS u JOIN users AS us ON us.user_id = u.author_id
"""
SELECT_STATE = """
SELECT task, status, progress, last_update_id, updated_at, status_changed_at, closure,
       closure_event
FROM task_state
"""
INSERT_UPDATE = """
INSERT INTO status_updates
    (plan_year, task, kind, old_status, status, progress, note, author_id, dept, chat_id,
     created_at, source_update)
VALUES (:year, :task, :kind, :old_status, :status, :progress, :note, :author_id, :dept, :chat_id,
        :now, :source)
"""
UPSERT_STATE = """
INSERT INTO task_state
    (plan_year, task, status, progress, last_update_id, updated_at, status_changed_at)
VALUES (:year, :task, :status, :progress, :id, :now, CASE WHEN :changed THEN :now END)
ON CONFLICT (plan_year, task) DO UPDATE SET
    status = excluded.status,
    progress = excluded.progress,
    last_update_id = excluded.last_update_id,
    updated_at = excluded.updated_at,
    status_changed_at = CASE WHEN :changed THEN excluded.updated_at
                             ELSE task_state.status_changed_at END
"""

LAST_REPORTS = """
WITH RECURSIVE depts(code) AS (
    SELECT min(dept) FROM status_updates WHERE plan_year = :year AND dept IS NOT NULL
    UNION ALL
    SELECT (SELECT min(dept) FROM status_updates WHERE plan_year = :year AND dept > depts.code)
    FROM depts WHERE depts.code IS NOT NULL
)
SELECT code, (SELECT max(created_at) FROM status_updates WHERE plan_year = :year AND dept = code)
       AS latest
FROM depts WHERE code IS NOT NULL
"""
"""Each department's latest update of a year: the departments found by skipping from one to
the next on ``status_updates_by_dept``, then one seek each for the latest. A GROUP BY read
every update of the year (1,000,000 at 100x data: 3.8 s without that index, 0.3 s with it);
this reads two index entries per department (0.4 ms)."""


def carried_progress(
    old: Status, old_progress: int | None, new: Status, given: int | None
) -> int | None:
    """The task's progress after an update: the figure given; else the last one, unless the
    status moved to where it no longer holds (not started has none, done is 100%, and in
    progress or blocked keep a figure only below 100%)."""
    if given is not None or new == old:
        return old_progress if given is None else given
    if new is Status.NOT_STARTED:
        return None
    if new is Status.DONE:
        return 100
    return old_progress if old_progress is not None and old_progress < 100 else None


STATUS_OF = {status.value: status for status in Status}
"""``Status(text)`` goes through the enum machinery: a dict lookup is ten times faster, and a
digest converts thousands of rows."""


def _update(row: sqlite3.Row) -> StatusUpdate:
    # Unpacked by position, in the order of SELECT_UPDATES: looking each column up by name cost
    # as much as the rest of the conversion (a digest reads a week of updates at once).
    (id_, task, kind, old, new, progress, note, author_id, author_name, dept, chat, at, year) = row
    return StatusUpdate(
        id=id_,
        task=task,
        kind=kind,
        old_status=STATUS_OF[old],
        status=STATUS_OF[new],
        progress=progress,
        note=note,
        author_id=author_id,
        author_name=author_name,
        dept=dept,
        chat_id=chat,
        created_at=from_db(at),
        year=year,
    )


def _made_between(
    year: int,
    start: datetime,
    end: datetime,
    tasks: Iterable[int] | None,
    depts: Iterable[str] | None = None,
) -> tuple[str, list[object]]:
    """The WHERE clause (on ``status_updates AS u``) and its parameters: made in [start, end),
    about ``year``'s plan; if ``tasks`` or ``depts`` are given, only about those tasks or the
    tasks those departments are named on (by the plan index, read once: a subquery naming
    ``u.plan_year`` would be run again for every update of the week, 6 s at 100x data). The
    unary + keeps SQLite on the
    time index: for a few hundred tasks it chose the by-task index and read every update they
    ever had (50 ms at 10x data) instead of the week's."""
    where = "u.created_at >= ? AND u.created_at < ? AND +u.plan_year = ?"
    params: list[object] = [to_db(start), to_db(end), year]
    if tasks is None and depts is None:
        return where, params
    wanted = sorted(set(tasks or ()))
    named = sorted(set(depts or ()))
    either = [f"+u.task IN ({','.join('?' * len(wanted))})"] if wanted else []
    if named:
        either.append(
            "+u.task IN (SELECT task FROM task_departments"
            f" WHERE plan_year = ? AND dept IN ({','.join('?' * len(named))}))"
        )
    where += f" AND ({' OR '.join(either) or '0'})"
    return where, [*params, *wanted, *([year, *named] if named else [])]


def state_of(row: Sequence[Any]) -> TaskState:
    """A state from its columns in the order of SELECT_STATE (by position: lists read thousands)."""
    task, status, progress, last_update_id, updated_at, changed, closure, closure_event = row
    return TaskState(
        task=task,
        status=STATUS_OF[status],
        progress=progress,
        last_update_id=last_update_id,
        updated_at=from_db(updated_at),
        status_changed_at=None if changed is None else from_db(changed),
        closure=None if closure is None else CLOSURES[closure],
        closure_event=closure_event,
    )


CLOSURES = {closure.value: closure for closure in Closure}


def record_in(
    conn: sqlite3.Connection,
    now: str,
    year: int,
    task: int,
    *,
    author_id: int,
    dept: str | None,
    chat_id: int | None,
    status: Status | None = None,
    progress: int | None = None,
    note: str | None = None,
    departments: Sequence[str] = (),
    source_update: int | None = None,
    done: DoneRule = CLOSES_AT_ONCE,
    notify: bool = True,
    closing: bool = True,
) -> Recorded:
    """:meth:`Updates.record` inside the caller's transaction. ``notify=False`` owes no
    notification (the caller tells the chats itself); ``closing=False`` leaves where the task
    stands in closing to the caller (a return does that)."""
    if status is None and progress is None and not note:
        raise ValueError("an update needs a status, a progress or a note")
    if progress is not None and not 0 <= progress <= 100:
        raise ValueError("progress is a percentage from 0 to 100")
    kind = "note" if status is None and progress is None else "status"
    if source_update is not None:
        before = read_one(conn, f"{SELECT_UPDATES} WHERE u.source_update = ?", (source_update,))
        if before is not None:
            again = read_state(conn, year, task)
            return Recorded(_update(before), 0, again.closure if again else None)
    row = read_one(
        conn,
        "SELECT status, progress, closure, closure_event FROM task_state"
        " WHERE plan_year = ? AND task = ?",
        (year, task),
    )
    old, old_progress = (STATUS_OF[row[0]], row[1]) if row else (NOT_REPORTED, None)
    new = status or old
    params = {
        "year": year,
        "task": task,
        "kind": kind,
        "old_status": old.value,
        "status": new.value,
        "progress": progress,
        "note": note,
        "author_id": author_id,
        "dept": dept,
        "chat_id": chat_id,
        "now": now,
        "source": source_update,
    }
    update_id = conn.execute(INSERT_UPDATE, params).lastrowid
    assert update_id is not None
    conn.execute(
        UPSERT_STATE,
        {
            "year": year,
            "task": task,
            "status": new.value,
            "progress": carried_progress(old, old_progress, new, progress),
            "id": update_id,
            "now": now,
            "changed": new != old,
        },
    )
    if closing:
        closure = None if row is None or row[2] is None else CLOSURES[row[2]]
        _close_or_reopen(
            conn, now, year, task, new=new, closure=closure, closure_event=row[3] if row else None,
            update_id=update_id, by=author_id, chat_id=chat_id, done=done,
            source_update=source_update,
        )  # fmt: skip
    owed = 0
    if notify:
        owed = outbox.owe_notifications(
            conn, year=year, task=task, update_id=update_id, departments=list(departments),
            origin=chat_id, now=now,
        )  # fmt: skip
    recorded = read_one(conn, f"{SELECT_UPDATES} WHERE u.id = ?", (update_id,))
    after = read_state(conn, year, task)
    assert recorded is not None and after is not None
    return Recorded(_update(recorded), owed, after.closure)


def _close_or_reopen(
    conn: sqlite3.Connection,
    now: str,
    year: int,
    task: int,
    *,
    new: Status,
    closure: Closure | None,
    closure_event: int | None,
    update_id: int,
    by: int,
    chat_id: int | None,
    done: DoneRule,
    source_update: int | None,
) -> None:
    """Where the task stands in closing after a status update: a first done closes it or asks
    the office (whose chats are owed a card); leaving done withdraws the request or reopens."""

    def add(kind: Event, request_id: int | None = None) -> int:
        return closures.add(
            conn, year=year, task=task, kind=kind, by=by, now=now, chat_id=chat_id,
            request_id=request_id, update_id=update_id, source_update=source_update,
        )  # fmt: skip

    if new is Status.DONE and closure is None:
        if done.closes:
            set_closure(conn, year, task, Closure.CLOSED, add(Event.CLOSE))
            return
        request = add(Event.REQUEST)
        set_closure(conn, year, task, Closure.AWAITING, request)
        closures.owe_cards(conn, request, recipients.office_chats(conn, done.office), now)
    elif new is not Status.DONE and closure is Closure.AWAITING:
        withdrawn = add(Event.WITHDRAW, closure_event)
        set_closure(conn, year, task, None, withdrawn)
        if closure_event is not None:
            closures.owe_card_edits(conn, closure_event, withdrawn, now)
    elif new is not Status.DONE and closure is Closure.CLOSED:
        set_closure(conn, year, task, None, add(Event.REOPEN))


def read_state(conn: sqlite3.Connection, year: int, task: int) -> TaskState | None:
    """A task's state, read inside a write."""
    row = read_one(conn, f"{SELECT_STATE} WHERE plan_year = ? AND task = ?", (year, task))
    return None if row is None else state_of(row)


def set_closure(
    conn: sqlite3.Connection, year: int, task: int, closure: Closure | None, event_id: int
) -> None:
    """Where the task stands in closing, and the event that put it there."""
    conn.execute(
        "UPDATE task_state SET closure = ?, closure_event = ? WHERE plan_year = ? AND task = ?",
        (None if closure is None else closure.value, event_id, year, task),
    )


class Updates:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        task: int,
        *,
        author_id: int,
        dept: str | None,
        chat_id: int | None,
        status: Status | None = None,
        progress: int | None = None,
        note: str | None = None,
        departments: Sequence[str] = (),
        source_update: int | None = None,
        done: DoneRule = CLOSES_AT_ONCE,
    ) -> Recorded:
        """Append to the history, move the task's state and owe a notification to every chat
        following the task or one of its ``departments``: one committed transaction.

        With neither ``status`` nor ``progress`` it is a note; the caller has checked the
        author's right to make it. When this returns, the update and its notifications are on
        disk, so a crash cannot lose either. ``source_update`` is the Telegram update it comes
        from: handling that update again returns what it recorded then, and records nothing.
        ``done`` says what a change to done does: close the task, or ask the office.
        """
        year = self._db.current_year()  # only the current plan's tasks change

        def work(conn: sqlite3.Connection) -> Recorded:
            return record_in(
                conn, self._db.now(), year, task, author_id=author_id, dept=dept,
                chat_id=chat_id, status=status, progress=progress, note=note,
                departments=departments, source_update=source_update, done=done,
            )  # fmt: skip

        return await self._db.write(work)

    async def history(
        self, task: int, *, limit: int = 5, year: int | None = None
    ) -> list[StatusUpdate]:
        """The task's latest updates, newest first (of the current plan unless ``year``)."""
        rows = await self._db.fetchall(
            f"{SELECT_UPDATES} WHERE u.plan_year = ? AND u.task = ? ORDER BY u.id DESC LIMIT ?",
            (self._year(year), task, limit),
        )
        return [_update(r) for r in rows]

    def _year(self, year: int | None) -> int:
        return self._db.current_year() if year is None else year

    async def tasks_with_history(self, year: int) -> set[int]:
        """The numbers of ``year``'s tasks that anyone has reported on."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT task FROM status_updates WHERE plan_year = ?", (year,)
        )
        return {r[0] for r in rows}

    async def between(
        self,
        start: datetime,
        end: datetime,
        *,
        tasks: Iterable[int] | None = None,
        depts: Iterable[str] | None = None,
        limit: int | None = None,
        year: int | None = None,
    ) -> list[StatusUpdate]:
        """Updates made in ``[start, end)``, oldest first; optionally only about some tasks or
        the tasks of some departments, and only the first ``limit``."""
        where, params = _made_between(self._year(year), start, end, tasks, depts)
        sql = f"{SELECT_UPDATES} WHERE {where} ORDER BY u.id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_update(r) for r in await self._db.fetchall(sql, params)]

    async def count_between(
        self,
        start: datetime,
        end: datetime,
        *,
        tasks: Iterable[int] | None = None,
        depts: Iterable[str] | None = None,
        year: int | None = None,
    ) -> int:
        """How many updates ``between`` would return without a limit."""
        return (await self.tally_between(start, end, tasks=tasks, depts=depts, year=year))[0]

    async def tally_between(
        self,
        start: datetime,
        end: datetime,
        *,
        tasks: Iterable[int] | None = None,
        depts: Iterable[str] | None = None,
        year: int | None = None,
    ) -> tuple[int, int]:
        """How many updates ``between`` would return without a limit, and about how many
        tasks."""
        where, params = _made_between(self._year(year), start, end, tasks, depts)
        row = await self._db.fetchone(
            f"SELECT count(*), count(DISTINCT u.task) FROM status_updates AS u WHERE {where}",
            params,
        )
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    async def get(self, update_id: int) -> StatusUpdate | None:
        row = await self._db.fetchone(f"{SELECT_UPDATES} WHERE u.id = ?", (update_id,))
        return None if row is None else _update(row)

    async def state(self, task: int, *, year: int | None = None) -> TaskState | None:
        row = await self._db.fetchone(
            f"{SELECT_STATE} WHERE plan_year = ? AND task = ?", (self._year(year), task)
        )
        return None if row is None else state_of(row)

    async def states(
        self, tasks: Iterable[int] | None = None, *, year: int | None = None
    ) -> dict[int, TaskState]:
        """Current state of the given tasks (all reported tasks when ``None``)."""
        sql, params = f"{SELECT_STATE} WHERE plan_year = ?", [self._year(year)]
        if tasks is not None:
            wanted = sorted(set(tasks))
            sql += f" AND task IN ({','.join('?' * len(wanted))})"
            params += wanted
        rows = await self._db.fetchall(sql, params)
        return {row["task"]: state_of(row) for row in rows}

    async def last_reports(self, *, year: int | None = None) -> dict[str, datetime]:
        """Each department's latest status update or note about ``year``'s plan (a scorecard's
        "last report")."""
        rows = await self._db.fetchall(LAST_REPORTS, {"year": self._year(year)})
        return {row[0]: from_db(row[1]) for row in rows}

    async def latest_notes(self, *, year: int | None = None) -> dict[int, StatusUpdate]:
        """Each task's newest update that carries a note, with its author: for exports, in one
        query rather than one per task."""
        rows = await self._db.fetchall(
            f"{SELECT_UPDATES} WHERE u.id IN ("
            " SELECT max(id) FROM status_updates"
            " WHERE plan_year = ? AND note IS NOT NULL AND note != ''"
            " GROUP BY task) ORDER BY u.task",
            (self._year(year),),
        )
        return {row["task"]: _update(row) for row in rows}
