"""Due dates: every change the office made, the date in force, and the log that makes each
reminder go out once per task, due date and kind. This module owns ``due_changes``,
``due_dates`` and ``due_reminders``.

A task without a row in ``due_dates`` is due at the end of its plan's year (the caller knows
that date). A reminder is owed when its log row is written: the row and the outbox messages it
owes are one transaction, so restarts and crashes never send one twice nor lose one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from storage import outbox, recipients
from storage.db import Database, from_db
from storage.outbox import OutKind

TASKS_PER_MESSAGE = 20
"""A reminder lists at most this many tasks; a longer list goes as several messages."""


class Remind(StrEnum):
    DAY14 = "day14"
    """14 days before the due date."""
    DAY1 = "day1"
    """The day before."""
    OVERDUE = "overdue"
    """The morning after: it has gone overdue."""


@dataclass(frozen=True, slots=True)
class DueChange:
    id: int
    year: int
    task: int
    due: date
    previous: date
    set_by: int
    by_name: str
    chat_id: int | None
    set_at: datetime


@dataclass(frozen=True, slots=True)
class DueSet:
    """What ``/due`` did: the tasks whose date changed, those already due then."""

    changed: list[DueChange]
    unchanged: list[int]
    notifications: int


@dataclass(frozen=True, slots=True)
class Reminder:
    """A reminder decided: logged once; ``announce`` says whether it is sent or only noted."""

    task: int
    due: date
    kind: Remind
    announce: bool


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a task stands, as far as its reminders care."""

    done: bool
    """Reported done (closed, or awaiting the office): no reminder ahead, only that it is late."""
    closed: bool
    """Closed by the office (销号): no reminder at all."""


STANDINGS = {
    (done, closed): Standing(bool(done), bool(closed)) for done in (0, 1) for closed in (0, 1)
}
LOGGED = {
    (day14, day1, overdue): frozenset(
        kind for kind, flag in zip(Remind, (day14, day1, overdue), strict=True) if flag
    )
    for day14 in (0, 1) for day1 in (0, 1) for overdue in (0, 1)
}  # fmt: skip
"""The kinds logged, by ``task_standing``'s flags in the order of :class:`Remind`."""


@dataclass(frozen=True, slots=True)
class Unreminded:
    """A task some reminder is owed for: its due date in force, the kinds logged for that date,
    and where it stands."""

    task: int
    due: date
    logged: frozenset[Remind]
    standing: Standing


OWED = {
    Remind.OVERDUE: (
        "task_standing_overdue_owed",
        "closure IS NOT 'closed' AND overdue_logged = 0",
    ),
    Remind.DAY14: ("task_standing_day14_owed", "status IS NOT 'done' AND day14_logged = 0"),
    Remind.DAY1: ("task_standing_day1_owed", "status IS NOT 'done' AND day1_logged = 0"),
}
"""Per kind, the partial index of the tasks it may be owed for, and its condition: not logged
for the date in force, and not closed (an overdue notice) or not done (a reminder ahead)."""
RANGES = {
    Remind.OVERDUE: ("''", ":overdue"),
    Remind.DAY14: (":today", ":day14"),
    Remind.DAY1: (":today", ":day1"),
}
"""Per kind, the due dates whose reminder of that kind has its moment passed (and, ahead,
whose due date is not past): ``:overdue``, ``:day14``, ``:day1`` are the latest of each."""


def _owed(kind: Remind) -> str:
    """The tasks a reminder of ``kind`` is owed for, as ``(due, task)``: a range of its index
    (the tasks dated in the range), and its tasks without a date (due at ``:default``) if
    that date is in the range; only tasks owed are read, however many were reminded before."""
    index, condition = OWED[kind]
    first, last = RANGES[kind]
    return f"""SELECT due, task FROM task_standing INDEXED BY {index}
    WHERE plan_year = :year AND due BETWEEN {first} AND {last} AND {condition}
    UNION ALL SELECT :default, task FROM task_standing INDEXED BY {index}
    WHERE plan_year = :year AND due IS NULL AND {condition} AND :default BETWEEN {first} AND {last}"""


UNREMINDED = f"""
WITH t(due, task) AS ({" UNION ".join(_owed(kind) for kind in Remind)})
SELECT t.task, t.due, s.day14_logged, s.day1_logged, s.overdue_logged,
       s.status IS 'done', s.closure IS 'closed'
FROM t JOIN task_standing AS s ON s.plan_year = :year AND s.task = t.task
WHERE s.closure IS NOT 'closed'
ORDER BY t.task
"""
"""The plan's tasks a reminder is owed for (``:day14``, ``:day1``, ``:overdue``: the latest due
date whose moment of that kind has passed): a task not closed whose overdue notice is due and
not logged; or, its due date not past (``:today``) and it not done, whose reminder 14 days or a
day before is due and not logged (:func:`_owed`); with what it has logged, its status and its
closure, all ``decide`` needs. Nothing else can be owed (``bot/reminders.py: decide``): once
the overdue notice is logged, or the due date is past, no reminder ahead goes out. A minute in
which nothing came due reads three empty ranges."""

LOG_REMINDERS = """
INSERT OR IGNORE INTO due_reminders (plan_year, task, due, kind, announced, created_at)
SELECT ?1, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'),
       json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]'), ?2
FROM json_each(?3) AS r ORDER BY r.key
RETURNING task, due, kind
"""
"""Log reminders (a JSON array of [task, due, kind, announced]) in one statement: the rows it
returns are those not logged before."""

SELECT_CHANGES = """
SELECT c.id, c.plan_year, c.task, c.due, c.previous, c.set_by,
       coalesce(nullif(u.full_name, ''), u.username, '') AS by_name, c.chat_id, c.set_at
FROM due_changes AS c JOIN users AS u ON u.user_id = c.set_by
"""


def _change(row: sqlite3.Row) -> DueChange:
    (id_, year, task, due, previous, by, name, chat, at) = row
    return DueChange(
        id_, year, task, date.fromisoformat(due), date.fromisoformat(previous), by, name, chat,
        from_db(at),
    )  # fmt: skip


def _in(values: Collection[object]) -> str:
    return ",".join("?" * len(values))


class Due:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _year(self, year: int | None) -> int:
        return self._db.current_year() if year is None else year

    async def change(
        self,
        tasks: Mapping[int, Sequence[str]],
        due: date,
        *,
        default: date,
        by: int,
        chat_id: int | None,
        source_update: int | None = None,
    ) -> DueSet:
        """Set the current plan's ``tasks`` (each with its departments, to find who follows
        it) due on ``due``; record each change, and owe each following chat but this one a
        message listing the changes it follows. ``default`` is the date of a task never set.
        Handling the same Telegram update again returns what it did then."""
        year = self._db.current_year()

        def work(conn: sqlite3.Connection) -> DueSet:
            if source_update is not None:
                before = conn.execute(
                    f"{SELECT_CHANGES} WHERE c.source_update = ? ORDER BY c.id", (source_update,)
                ).fetchall()
                if before:
                    changed = [_change(row) for row in before]
                    done = {c.task for c in changed}
                    return DueSet(changed, [n for n in tasks if n not in done], 0)
            now = self._db.now()
            current = dict(
                conn.execute(
                    f"SELECT task, due FROM due_dates WHERE plan_year = ? AND task IN ({_in(tasks)})",
                    [year, *tasks],
                ).fetchall()
            )
            ids, unchanged = [], []
            for task in tasks:
                previous = current.get(task, default.isoformat())
                if previous == due.isoformat():
                    unchanged.append(task)
                    continue
                cursor = conn.execute(
                    "INSERT INTO due_changes (plan_year, task, due, previous, set_by, chat_id,"
                    " set_at, source_update) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (year, task, due.isoformat(), previous, by, chat_id, now, source_update),
                )
                assert cursor.lastrowid is not None
                ids.append((task, cursor.lastrowid))
                conn.execute(
                    "INSERT INTO due_dates (plan_year, task, due, change_id) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (plan_year, task) DO UPDATE SET"
                    " due = excluded.due, change_id = excluded.change_id",
                    (year, task, due.isoformat(), cursor.lastrowid),
                )
            change_of = dict(ids)
            if not change_of:
                return DueSet([], unchanged, 0)
            follow = recipients.followers(
                conn, year, {n: tasks[n] for n in change_of}, origin=chat_id
            )
            owed = 0
            for chat, numbers in follow.items():
                payload = {"changes": [change_of[n] for n in numbers]}
                key = f"due:{change_of[numbers[0]]}:{chat}"
                owed += (
                    outbox.owe(conn, chat, OutKind.DUE_CHANGED, payload, now=now, dedup_key=key)
                    is not None
                )
            rows = conn.execute(
                f"{SELECT_CHANGES} WHERE c.id IN ({_in(change_of)}) ORDER BY c.id",
                list(change_of.values()),
            ).fetchall()
            return DueSet([_change(row) for row in rows], unchanged, owed)

        return await self._db.write(work)

    async def dates(
        self, tasks: Iterable[int] | None = None, *, year: int | None = None
    ) -> dict[int, date]:
        """The dates the office set (of the current plan unless ``year``); a task not here is
        due at its plan's year end."""
        sql, params = "SELECT task, due FROM due_dates WHERE plan_year = ?", [self._year(year)]
        if tasks is not None:
            wanted = sorted(set(tasks))
            sql += f" AND task IN ({_in(wanted)})"
            params += wanted
        rows = await self._db.fetchall(sql, params)
        return {row[0]: date.fromisoformat(row[1]) for row in rows}

    async def changes(self, ids: Iterable[int]) -> list[DueChange]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        rows = await self._db.fetchall(f"{SELECT_CHANGES} WHERE c.id IN ({_in(wanted)})", wanted)
        return [_change(row) for row in rows]

    async def last_change(self, task: int, *, year: int | None = None) -> DueChange | None:
        """Who set the task's date in force, and when (``None``: never changed)."""
        row = await self._db.fetchone(
            f"{SELECT_CHANGES} JOIN due_dates AS d ON d.change_id = c.id"
            " WHERE d.plan_year = ? AND d.task = ?",
            (self._year(year), task),
        )
        return None if row is None else _change(row)

    async def history(self, task: int, *, year: int | None = None) -> list[DueChange]:
        """Every change of the task's due date, oldest first."""
        rows = await self._db.fetchall(
            f"{SELECT_CHANGES} WHERE c.plan_year = ? AND c.task = ? ORDER BY c.id",
            (self._year(year), task),
        )
        return [_change(row) for row in rows]

    # --- reminders ------------------------------------------------------------------------

    async def unreminded(
        self,
        *,
        today: date,
        passed: Mapping[Remind, date],
        default: date,
        year: int | None = None,
    ) -> list[Unreminded]:
        """The tasks of the plan (the current one unless ``year``) some reminder is owed for, in
        task order (see :data:`UNREMINDED`): ``passed[kind]`` is the latest due date whose
        reminder of that kind has its moment passed; ``default`` the date of a task never set."""
        params = {
            "year": self._year(year),
            "today": today.isoformat(),
            "default": default.isoformat(),
            **{kind.value: passed[kind].isoformat() for kind in Remind},
        }
        rows = await self._db.fetchall(UNREMINDED, params)
        return [
            Unreminded(
                task, date.fromisoformat(due), LOGGED[d14, d1, late], STANDINGS[done, closed]
            )
            for task, due, d14, d1, late, done, closed in rows
        ]

    async def remind(
        self, reminders: Sequence[Reminder], *, leads: Mapping[int, str], office: Collection[int]
    ) -> int:
        """Log each reminder (one not logged before) and owe what is announced, in one
        transaction: to each task's lead department (``leads``) one message per kind listing its
        tasks, and to the office (``office``: the admins) one list of what went overdue.
        Returns how many messages are owed."""
        year = self._db.current_year()

        def work(conn: sqlite3.Connection) -> int:
            now = self._db.now()
            by_dept: dict[tuple[Remind, str], list[int]] = {}
            overdue: list[int] = []
            keys = [(r.task, r.due.isoformat(), r.kind.value) for r in reminders]
            rows = [[*key, int(r.announce)] for key, r in zip(keys, reminders, strict=True)]
            new = {tuple(row) for row in conn.execute(LOG_REMINDERS, (year, now, json.dumps(rows)))}
            for reminder, key in zip(reminders, keys, strict=True):
                logged = key in new
                new.discard(key)  # given twice, a reminder is logged and owed once
                if not logged or not reminder.announce:
                    continue
                by_dept.setdefault((reminder.kind, leads[reminder.task]), []).append(reminder.task)
                if reminder.kind is Remind.OVERDUE:
                    overdue.append(reminder.task)
            owed = 0
            chats_of = recipients.departments_chats(conn, {dept for _, dept in by_dept})
            for (kind, dept), numbers in sorted(by_dept.items()):
                owed += _owe_lists(conn, chats_of[dept], kind.value, year, dept, numbers, now)
            if overdue:
                chats = recipients.office_chats(conn, office)
                owed += _owe_lists(conn, chats, "office", year, None, sorted(overdue), now)
            return owed

        return await self._db.write(work)


def _owe_lists(
    conn: sqlite3.Connection,
    chats: Sequence[int],
    kind: str,
    year: int,
    dept: str | None,
    tasks: Sequence[int],
    now: str,
) -> int:
    """A list of tasks to each chat, in messages of at most :data:`TASKS_PER_MESSAGE` tasks."""
    payloads = [
        {
            "kind": kind,
            "year": year,
            "dept": dept,
            "tasks": list(tasks[start : start + TASKS_PER_MESSAGE]),
        }
        for start in range(0, len(tasks), TASKS_PER_MESSAGE)
    ]
    return outbox.owe_each(conn, chats, OutKind.DUE_REMINDER, payloads, now=now)
