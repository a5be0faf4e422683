"""Supervision rounds: the round, its slots, every statement (append-only), the prompts and
drafts on the way to a statement, and the log that makes each reminder go out once.

Opening a round writes the round, one slot per task and department named on it, and the request
owed to each department's chats in ONE transaction, so a crash leaves either all of it or none.
Reminders follow the digest's design: :meth:`Rounds.remind` logs (round, department, kind) and
owes its messages in one transaction; the log row makes it once, through restarts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from storage import outbox
from storage.db import Database, from_db, read_one, to_db
from storage.outbox import OutKind
from storage.people import WHOLE_PLAN
from storage.recipients import departments_chats, office_chats

OFFICE = WHOLE_PLAN
"""The ``dept`` of the office's reminder rows (the missing list)."""


class Reminder(StrEnum):
    BEFORE = "before"
    """Three days before the due date."""
    DUE = "due"
    """On the due date."""
    MISSING = "missing"
    """The morning after: the office is told what is missing."""


class SlotState(StrEnum):
    MISSING = "missing"
    ON_TIME = "on_time"
    """Answered by the due date (a revision after it does not make it late)."""
    LATE = "late"
    """Answered only after the due date."""


@dataclass(frozen=True, slots=True)
class Round:
    id: int
    plan_year: int
    title: str
    due: date
    """The local date statements are due on (on time until its end in ``BOT_TIMEZONE``)."""
    opened_by: int
    opened_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class Owed:
    """A statement a round asks for: a task and one department named on it."""

    task: int
    dept: str
    is_lead: bool


@dataclass(frozen=True, slots=True)
class Slot:
    task: int
    dept: str
    is_lead: bool
    state: SlotState
    statements: int
    """How many times it was submitted (the latest stands)."""


@dataclass(frozen=True, slots=True)
class Document:
    """A file sent with a statement, kept by Telegram's ids (the bytes stay with Telegram)."""

    file_id: str
    file_unique_id: str | None
    file_name: str | None
    file_size: int | None


@dataclass(frozen=True, slots=True)
class Statement:
    id: int
    round_id: int
    task: int
    dept: str
    author_id: int
    author_name: str
    text: str
    document: Document | None
    late: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Tally:
    """One department's statements in a round."""

    dept: str
    owed: int
    on_time: int
    late: int

    @property
    def missing(self) -> int:
        return self.owed - self.on_time - self.late


class Opened(StrEnum):
    OPENED = "opened"
    ALREADY_OPEN = "already_open"
    """Another round is open: it is returned instead."""


@dataclass(frozen=True, slots=True)
class Opening:
    outcome: Opened
    round: Round
    requests: int
    """How many chats were owed the request (when opened)."""
    unreached: tuple[str, ...] = ()
    """Departments that owe statements but have no chat the request could go to."""


class Submitted(StrEnum):
    RECORDED = "recorded"
    REPLACED = "replaced"
    """Recorded; an earlier statement of the slot is kept in its history."""
    CLOSED = "closed"
    NOT_OWED = "not_owed"
    """The round asks this department nothing for this task."""


@dataclass(frozen=True, slots=True)
class Submission:
    outcome: Submitted
    statement: Statement | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    id: int
    round_id: int
    task: int
    author_id: int
    text: str
    document: Document | None
    chat_id: int


@dataclass(frozen=True, slots=True)
class Prompt:
    round_id: int
    task: int
    dept: str


ROUND_COLUMNS = "id, plan_year, title, due_date, opened_by, opened_at, closed_at"
STATEMENT_COLUMNS = """
s.id, s.round_id, s.task, s.dept, s.author_id,
coalesce(nullif(u.full_name, ''), u.username, '') AS author_name, s.text, s.file_id,
s.file_unique_id, s.file_name, s.file_size, s.late, s.created_at
"""
SELECT_STATEMENTS = (
    f"SELECT {STATEMENT_COLUMNS} FROM round_statements AS s"
    " JOIN users AS u ON u.user_id = s.author_id"
)
# Each slot with how it was answered: on time if any statement came by the due date.
SELECT_SLOTS = """
SELECT l.task, l.dept, l.is_lead, count(s.id) AS statements, min(s.late) AS late
FROM round_slots AS l
LEFT JOIN round_statements AS s
    ON s.round_id = l.round_id AND s.task = l.task AND s.dept = l.dept
WHERE l.round_id = :round
"""
# Per department: slots owed, answered, answered on time (a slot is on time if any of its
# statements came by the due date, as SELECT_SLOTS decides it), as ``round_tallies`` keeps
# them: a row per department, whatever the number of slots and statements.
TALLY = """
SELECT dept, owed, answered, on_time FROM round_tallies WHERE round_id = :round ORDER BY dept
"""
COUNT_OWED = """
INSERT INTO round_tallies (round_id, dept, owed)
SELECT round_id, dept, count(*) FROM round_slots WHERE round_id = :round GROUP BY dept
"""
# The chats a department's round messages go to: its active bound groups; with none, the
# private chats of its members (those who ever spoke to the bot and did not block it).
OWING = """
SELECT DISTINCT l.dept FROM round_slots AS l
WHERE l.round_id = :round
  AND NOT EXISTS (SELECT 1 FROM round_statements AS s
                  WHERE s.round_id = l.round_id AND s.task = l.task AND s.dept = l.dept)
  AND NOT EXISTS (SELECT 1 FROM round_reminders AS r
                  WHERE r.round_id = l.round_id AND r.dept = l.dept AND r.kind = :kind)
ORDER BY l.dept
"""
ANY_MISSING = """
SELECT 1 FROM round_slots AS l
WHERE l.round_id = :round
  AND NOT EXISTS (SELECT 1 FROM round_statements AS s
                  WHERE s.round_id = l.round_id AND s.task = l.task AND s.dept = l.dept)
LIMIT 1
"""


def _round(row: sqlite3.Row) -> Round:
    return Round(
        id=row["id"],
        plan_year=row["plan_year"],
        title=row["title"],
        due=date.fromisoformat(row["due_date"]),
        opened_by=row["opened_by"],
        opened_at=from_db(row["opened_at"]),
        closed_at=None if row["closed_at"] is None else from_db(row["closed_at"]),
    )


def _document(row: sqlite3.Row) -> Document | None:
    if row["file_id"] is None:
        return None
    return Document(row["file_id"], row["file_unique_id"], row["file_name"], row["file_size"])


def _statement(row: sqlite3.Row) -> Statement:
    return Statement(
        id=row["id"],
        round_id=row["round_id"],
        task=row["task"],
        dept=row["dept"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        text=row["text"],
        document=_document(row),
        late=bool(row["late"]),
        created_at=from_db(row["created_at"]),
    )


def _slot(row: sqlite3.Row) -> Slot:
    if not row["statements"]:
        state = SlotState.MISSING
    else:
        state = SlotState.LATE if row["late"] else SlotState.ON_TIME
    return Slot(row["task"], row["dept"], bool(row["is_lead"]), state, row["statements"])


def _file_values(document: Document | None) -> tuple[object, ...]:
    if document is None:
        return (None, None, None, None)
    return (document.file_id, document.file_unique_id, document.file_name, document.file_size)


def count_owed(conn: sqlite3.Connection, round_id: int) -> None:
    """Start the round's tally (``round_tallies``) from its slots, once they are all written:
    what each department owes; its statements' trigger counts the answers from then on."""
    conn.execute(COUNT_OWED, {"round": round_id})


class Rounds:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- the round itself --------------------------------------------------------------------

    async def open(
        self,
        title: str,
        due: date,
        *,
        opened_by: int,
        owed: Sequence[Owed],
        source_update: int | None = None,
    ) -> Opening:
        """Open a round of the current plan: the round, its slots and the request owed to each
        department's chats, in one transaction. Another open round is returned instead; the
        same update handled again returns the round it opened."""
        year = self._db.current_year()

        def work(conn: sqlite3.Connection) -> Opening:
            if source_update is not None:
                row = read_one(
                    conn,
                    f"SELECT {ROUND_COLUMNS} FROM rounds WHERE opened_update = ?",
                    (source_update,),
                )
                if row is not None:
                    return self._reopening(conn, _round(row))
            row = read_one(conn, f"SELECT {ROUND_COLUMNS} FROM rounds WHERE closed_at IS NULL")
            if row is not None:
                return Opening(Opened.ALREADY_OPEN, _round(row), 0)
            now = self._db.now()
            round_id = conn.execute(
                "INSERT INTO rounds (plan_year, title, due_date, opened_by, opened_at,"
                " opened_update) VALUES (?, ?, ?, ?, ?, ?)",
                (year, title, due.isoformat(), opened_by, now, source_update),
            ).lastrowid
            assert round_id is not None
            conn.executemany(
                "INSERT INTO round_slots (round_id, plan_year, task, dept, is_lead)"
                " VALUES (?, ?, ?, ?, ?)",
                [(round_id, year, o.task, o.dept, int(o.is_lead)) for o in owed],
            )
            count_owed(conn, round_id)
            requests, unreached = 0, []
            chats_of = departments_chats(conn, dict.fromkeys(o.dept for o in owed))
            for dept, chats in chats_of.items():
                if not chats:
                    unreached.append(dept)
                for chat_id in chats:
                    payload = {"round": round_id, "dept": dept}
                    key = f"round:{round_id}:request:{dept}:{chat_id}"
                    if outbox.owe(
                        conn, chat_id, OutKind.ROUND_REQUEST, payload, now=now, dedup_key=key
                    ):
                        requests += 1
            opened = read_one(conn, f"SELECT {ROUND_COLUMNS} FROM rounds WHERE id = ?", (round_id,))
            assert opened is not None
            return Opening(Opened.OPENED, _round(opened), requests, tuple(unreached))

        return await self._db.write(work)

    @staticmethod
    def _reopening(conn: sqlite3.Connection, opened: Round) -> Opening:
        """What opening ``opened`` did, read back when its update is handled again."""
        prefix = f"round:{opened.id}:request:"
        sent = {
            key.removeprefix(prefix).split(":")[0]
            for (key,) in conn.execute(
                "SELECT dedup_key FROM outbox WHERE dedup_key LIKE ?", (prefix + "%",)
            )
        }
        depts = conn.execute(
            "SELECT DISTINCT dept FROM round_slots WHERE round_id = ? ORDER BY dept", (opened.id,)
        )
        requests = read_one(
            conn, "SELECT count(*) FROM outbox WHERE dedup_key LIKE ?", (prefix + "%",)
        )
        unreached = tuple(dept for (dept,) in depts if dept not in sent)
        return Opening(Opened.OPENED, opened, int(requests[0]) if requests else 0, unreached)

    async def close(
        self, round_id: int, *, by: int, source_update: int | None = None
    ) -> Round | None:
        """Close the round; ``None`` if it was closed already (by another update than this)."""

        def work(conn: sqlite3.Connection) -> Round | None:
            changed = conn.execute(
                "UPDATE rounds SET closed_by = ?, closed_at = ?, closed_update = ?"
                " WHERE id = ? AND closed_at IS NULL",
                (by, self._db.now(), source_update, round_id),
            ).rowcount
            row = read_one(
                conn,
                f"SELECT {ROUND_COLUMNS}, closed_update FROM rounds WHERE id = ?",
                (round_id,),
            )
            if row is None:
                return None
            again = source_update is not None and row["closed_update"] == source_update
            return _round(row) if changed or again else None

        return await self._db.write(work)

    async def get(self, round_id: int) -> Round | None:
        row = await self._db.fetchone(
            f"SELECT {ROUND_COLUMNS} FROM rounds WHERE id = ?", (round_id,)
        )
        return None if row is None else _round(row)

    async def current(self) -> Round | None:
        """The open round, if there is one."""
        row = await self._db.fetchone(f"SELECT {ROUND_COLUMNS} FROM rounds WHERE closed_at IS NULL")
        return None if row is None else _round(row)

    async def latest(self) -> Round | None:
        """The open round, else the one opened last."""
        row = await self._db.fetchone(
            f"SELECT {ROUND_COLUMNS} FROM rounds ORDER BY closed_at IS NOT NULL, id DESC LIMIT 1"
        )
        return None if row is None else _round(row)

    # --- what was asked, and what was answered --------------------------------------------------

    async def slots(self, round_id: int, dept: str | None = None) -> list[Slot]:
        """The round's slots (of one department if given), by task and the task's order of
        departments (lead first)."""
        sql, params = SELECT_SLOTS, {"round": round_id, "dept": dept}
        if dept is not None:
            sql += " AND l.dept = :dept"
        sql += " GROUP BY l.task, l.dept ORDER BY l.task, l.is_lead DESC, l.dept"
        return [_slot(r) for r in await self._db.fetchall(sql, params)]

    async def owed(self, round_id: int) -> set[tuple[int, str]]:
        """The round's slots as (task, department) pairs only, from its primary key: what
        compiling needs, without the per-slot counts :meth:`slots` joins in."""
        rows = await self._db.fetchall(
            "SELECT task, dept FROM round_slots WHERE round_id = ?", (round_id,)
        )
        return {(task, dept) for task, dept in rows}

    async def tally(self, round_id: int) -> list[Tally]:
        """Per department: owed, answered on time, answered late (by department code)."""
        rows = await self._db.fetchall(TALLY, {"round": round_id})
        return [
            Tally(dept, owed, on_time, answered - on_time) for dept, owed, answered, on_time in rows
        ]

    async def latest_statements(self, round_id: int) -> dict[tuple[int, str], Statement]:
        """Each slot's latest statement: (task, department) → statement."""
        rows = await self._db.fetchall(
            f"{SELECT_STATEMENTS} WHERE s.id IN (SELECT max(id) FROM round_statements"
            " WHERE round_id = ? GROUP BY task, dept) ORDER BY s.task, s.dept",
            (round_id,),
        )
        return {(r["task"], r["dept"]): _statement(r) for r in rows}

    async def history(self, round_id: int, task: int, dept: str) -> list[Statement]:
        """Every statement of one slot, oldest first."""
        rows = await self._db.fetchall(
            f"{SELECT_STATEMENTS} WHERE s.round_id = ? AND s.task = ? AND s.dept = ? ORDER BY s.id",
            (round_id, task, dept),
        )
        return [_statement(r) for r in rows]

    async def submit(
        self,
        round_id: int,
        task: int,
        dept: str,
        *,
        author_id: int,
        text: str,
        document: Document | None,
        chat_id: int | None,
        deadline: datetime,
        source_update: int | None = None,
        draft_id: int | None = None,
    ) -> Submission:
        """Record a department's statement: late when made at or after ``deadline``; refused
        once the round is closed. The update (or the draft) handled again returns what it
        recorded then, and records nothing."""
        if not text and document is None:
            raise ValueError("a statement needs a text or a document")

        def work(conn: sqlite3.Connection) -> Submission:
            for column, value in (("source_update", source_update), ("draft_id", draft_id)):
                if value is None:
                    continue
                before = read_one(conn, f"{SELECT_STATEMENTS} WHERE s.{column} = ?", (value,))
                if before is not None:
                    return Submission(self._outcome(conn, before["id"]), _statement(before))
            state = read_one(
                conn,
                "SELECT r.closed_at, r.plan_year, l.dept IS NOT NULL AS owed FROM rounds AS r"
                " LEFT JOIN round_slots AS l ON l.round_id = r.id AND l.task = ? AND l.dept = ?"
                " WHERE r.id = ?",
                (task, dept, round_id),
            )
            if state is None or state["closed_at"] is not None:
                return Submission(Submitted.CLOSED)
            if not state["owed"]:
                return Submission(Submitted.NOT_OWED)
            now = self._db.clock()
            statement_id = conn.execute(
                "INSERT INTO round_statements (round_id, plan_year, task, dept, author_id, text,"
                " file_id, file_unique_id, file_name, file_size, late, chat_id, created_at,"
                " source_update, draft_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    round_id, state["plan_year"], task, dept, author_id, text,
                    *_file_values(document), int(now >= deadline), chat_id, to_db(now),
                    source_update, draft_id,
                ),
            ).lastrowid  # fmt: skip
            assert statement_id is not None
            row = read_one(conn, f"{SELECT_STATEMENTS} WHERE s.id = ?", (statement_id,))
            assert row is not None
            return Submission(self._outcome(conn, statement_id), _statement(row))

        return await self._db.write(work)

    @staticmethod
    def _outcome(conn: sqlite3.Connection, statement_id: int) -> Submitted:
        """Whether a statement replaced an earlier one of its slot."""
        earlier = read_one(
            conn,
            "SELECT 1 FROM round_statements AS e JOIN round_statements AS s"
            " ON e.round_id = s.round_id AND e.task = s.task AND e.dept = s.dept AND e.id < s.id"
            " WHERE s.id = ? LIMIT 1",
            (statement_id,),
        )
        return Submitted.REPLACED if earlier is not None else Submitted.RECORDED

    # --- on the way to a statement: drafts and prompts -------------------------------------------

    async def save_draft(
        self,
        round_id: int,
        task: int,
        *,
        author_id: int,
        text: str,
        document: Document | None,
        chat_id: int,
        source_update: int | None = None,
    ) -> Draft:
        """Keep a statement until its author chooses the department (the same update handled
        again returns the same draft)."""

        def work(conn: sqlite3.Connection) -> Draft:
            if source_update is not None:
                row = read_one(
                    conn, "SELECT id FROM round_drafts WHERE source_update = ?", (source_update,)
                )
                if row is not None:
                    return self._draft(conn, row[0])
            draft_id = conn.execute(
                "INSERT INTO round_drafts (round_id, plan_year, task, author_id, text, file_id,"
                " file_unique_id, file_name, file_size, chat_id, created_at, source_update)"
                " SELECT id, plan_year, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM rounds WHERE id = ?",
                (
                    task, author_id, text, *_file_values(document), chat_id, self._db.now(),
                    source_update, round_id,
                ),
            ).lastrowid  # fmt: skip
            assert draft_id is not None
            return self._draft(conn, draft_id)

        return await self._db.write(work)

    @staticmethod
    def _draft(conn: sqlite3.Connection, draft_id: int) -> Draft:
        row = read_one(conn, "SELECT * FROM round_drafts WHERE id = ?", (draft_id,))
        assert row is not None
        return _draft(row)

    async def draft(self, draft_id: int) -> Draft | None:
        row = await self._db.fetchone("SELECT * FROM round_drafts WHERE id = ?", (draft_id,))
        return None if row is None else _draft(row)

    async def remember_prompt(
        self, chat_id: int, message_id: int, round_id: int, task: int, dept: str
    ) -> None:
        """The bot's forced-reply message asks for this department's statement on the task."""
        await self._db.execute(
            "INSERT OR REPLACE INTO round_prompts (chat_id, message_id, round_id, plan_year,"
            " task, dept, created_at) SELECT ?, ?, id, plan_year, ?, ?, ? FROM rounds WHERE id = ?",
            (chat_id, message_id, task, dept, self._db.now(), round_id),
        )

    async def prompt_of(self, chat_id: int, message_id: int) -> Prompt | None:
        row = await self._db.fetchone(
            "SELECT round_id, task, dept FROM round_prompts WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
        return None if row is None else Prompt(row[0], row[1], row[2])

    # --- reminders --------------------------------------------------------------------------

    async def owing(self, round_id: int, kind: Reminder) -> list[str]:
        """Departments that still owe statements and were not sent this kind of reminder."""
        rows = await self._db.fetchall(OWING, {"round": round_id, "kind": kind.value})
        return [r[0] for r in rows]

    async def office_due(self, round_id: int) -> bool:
        """Whether the office is yet to be told what is missing (and something is)."""
        row = await self._db.fetchone(
            "SELECT 1 FROM round_reminders WHERE round_id = ? AND dept = ? AND kind = ?",
            (round_id, OFFICE, Reminder.MISSING.value),
        )
        return row is None and await self._db.fetchone(ANY_MISSING, {"round": round_id}) is not None

    async def remind(self, round_id: int, kind: Reminder, *, admins: Collection[int] = ()) -> int:
        """Owe this kind of reminder to every department that still owes statements (or, for
        ``missing``, the list to the office) and was not sent it: each logged with its outbox
        rows in one transaction. Nothing is logged for one with no chat to go to (a group
        bound later still gets it). Returns how many were owed."""

        def work(conn: sqlite3.Connection) -> int:
            open_ = read_one(conn, "SELECT 1 FROM rounds WHERE id = ? AND closed_at IS NULL",
                             (round_id,))  # fmt: skip
            if open_ is None:
                return 0
            if kind is Reminder.MISSING:
                if read_one(conn, ANY_MISSING, {"round": round_id}) is None:
                    return 0
                targets = {OFFICE: office_chats(conn, admins)}
            else:
                owing = [r[0] for r in conn.execute(OWING, {"round": round_id, "kind": kind.value})]
                targets = dict(departments_chats(conn, owing))
            now, owed = self._db.now(), 0
            for dept, chats in targets.items():
                if not chats:
                    continue
                logged = conn.execute(
                    "INSERT OR IGNORE INTO round_reminders (round_id, dept, kind, chats,"
                    " created_at) VALUES (?, ?, ?, ?, ?)",
                    (round_id, dept, kind.value, len(chats), now),
                )
                if not logged.rowcount:
                    continue
                out = OutKind.ROUND_MISSING if kind is Reminder.MISSING else OutKind.ROUND_REMINDER
                payload = {"round": round_id, "dept": dept, "kind": kind.value}
                for chat_id in chats:
                    key = f"round:{round_id}:{kind.value}:{dept}:{chat_id}"
                    outbox.owe(conn, chat_id, out, payload, now=now, dedup_key=key)
                owed += 1
            return owed

        return await self._db.write(work)


def _draft(row: sqlite3.Row) -> Draft:
    return Draft(
        id=row["id"],
        round_id=row["round_id"],
        task=row["task"],
        author_id=row["author_id"],
        text=row["text"],
        document=_document(row),
        chat_id=row["chat_id"],
    )
