"""What ``python -m bot status`` reads: a read-only look into the database, over plain sqlite3.

Opened with ``mode=ro``, the database is never created, migrated or written, so the command is
safe beside the running bot (under WAL a reader never blocks the writer). Each function reads
tables of its own; the caller asks only for those :func:`table_names` has (an older schema
lacks the newer ones).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from storage.db import from_db

REMINDER_TABLES = ("round_reminders", "due_reminders")
"""Tables of reminder runs, in databases of versions that have them."""
TIME_COLUMNS = ("sent_at", "created_at")
"""The column that says when a reminder row was made, the first one a table has."""


def open_read_only(path: Path) -> sqlite3.Connection:
    """The database at ``path``, for reading only; ``sqlite3.OperationalError`` if it is not
    there (``mode=ro`` never creates a file)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


def table_names(conn: sqlite3.Connection) -> set[str]:
    """Every table of the database; also what says that a file is not a database."""
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def schema_version(conn: sqlite3.Connection) -> int:
    """The latest migration applied (0: the bot never set this database up)."""
    if "schema_migrations" not in table_names(conn):
        return 0
    return int(
        conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
    )


@dataclass(frozen=True, slots=True)
class KeptPlan:
    year: int
    title: str
    is_current: bool
    updates: int
    """Status updates recorded about its tasks."""


def kept_plans(conn: sqlite3.Connection) -> list[KeptPlan]:
    """Every year's plan the database keeps, newest first, with how much history it holds."""
    rows = conn.execute(
        "SELECT p.year, p.title, p.is_current,"
        " (SELECT count(*) FROM status_updates AS u WHERE u.plan_year = p.year)"
        " FROM plans AS p ORDER BY p.year DESC"
    ).fetchall()
    return [KeptPlan(r[0], r[1], bool(r[2]), r[3]) for r in rows]


@dataclass(frozen=True, slots=True)
class Binding:
    binding: str
    """A department code, or ``*`` for the whole plan."""
    groups: int
    inactive: int
    """Of those groups, how many no longer accept messages."""


@dataclass(frozen=True, slots=True)
class ChatCounts:
    active: int
    inactive: int
    bindings: list[Binding]


def chat_counts(conn: sqlite3.Connection) -> ChatCounts:
    active, inactive = conn.execute(
        "SELECT coalesce(sum(active = 1), 0), coalesce(sum(active = 0), 0) FROM chats"
    ).fetchone()
    rows = conn.execute(
        "SELECT binding, count(*), coalesce(sum(active = 0), 0) FROM chats"
        " WHERE binding IS NOT NULL GROUP BY binding ORDER BY count(*) DESC, binding"
    ).fetchall()
    return ChatCounts(active, inactive, [Binding(r[0], r[1], r[2]) for r in rows])


@dataclass(frozen=True, slots=True)
class DepartmentPeople:
    dept: str
    people: int
    """Members and managers together."""
    managers: list[str]
    """Each manager's name (and @username when known)."""


def department_people(conn: sqlite3.Connection) -> list[DepartmentPeople]:
    """Every department anyone is in, the largest first."""
    counts = conn.execute(
        "SELECT dept, count(*) FROM memberships GROUP BY dept ORDER BY count(*) DESC, dept"
    ).fetchall()
    managers: dict[str, list[str]] = {}
    for dept, name, username in conn.execute(
        "SELECT m.dept, u.full_name, u.username FROM memberships AS m"
        " JOIN users AS u ON u.user_id = m.user_id"
        " WHERE m.role = 'manager' ORDER BY m.dept, m.joined_at, m.user_id"
    ):
        shown = " ".join(part for part in (name, f"@{username}" if username else "") if part)
        managers.setdefault(dept, []).append(shown or "(no name)")
    return [DepartmentPeople(dept, people, managers.get(dept, [])) for dept, people in counts]


@dataclass(frozen=True, slots=True)
class Queue:
    """The outbox or the inbox: rows by state, and since when the oldest waiting one waits."""

    states: dict[str, int]
    oldest_waiting: datetime | None


def outbox_queue(conn: sqlite3.Connection) -> Queue:
    """Messages owed: ``pending`` (queued), ``sending``, ``sent``, ``failed``."""
    states = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    oldest = conn.execute("SELECT min(created_at) FROM outbox WHERE state = 'pending'").fetchone()
    return Queue(states, None if oldest[0] is None else from_db(oldest[0]))


def inbox_queue(conn: sqlite3.Connection) -> Queue:
    """Updates taken in: ``pending``, ``done``, ``failed``."""
    states = dict(conn.execute("SELECT state, count(*) FROM inbox GROUP BY state").fetchall())
    oldest = conn.execute("SELECT min(received_at) FROM inbox WHERE state = 'pending'").fetchone()
    return Queue(states, None if oldest[0] is None else from_db(oldest[0]))


@dataclass(frozen=True, slots=True)
class DigestRun:
    """The latest weekly digest owed (its ``digest_log`` row)."""

    chat_id: int
    chat_title: str
    iso_week: str
    at: datetime
    state: str | None
    """Its first message's outbox state (``None``: nothing was owed, or it is gone)."""
    chats_that_week: int


def last_digest(conn: sqlite3.Connection) -> DigestRun | None:
    row = conn.execute(
        "SELECT l.chat_id, coalesce(c.title, ''), l.iso_week, l.created_at, o.state,"
        " (SELECT count(*) FROM digest_log AS w WHERE w.iso_week = l.iso_week)"
        " FROM digest_log AS l"
        " LEFT JOIN chats AS c ON c.chat_id = l.chat_id"
        " LEFT JOIN outbox AS o ON o.id = l.outbox_id"
        " ORDER BY l.created_at DESC, l.chat_id LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return DigestRun(row[0], row[1], row[2], from_db(row[3]), row[4], row[5])


@dataclass(frozen=True, slots=True)
class ReminderRuns:
    table: str
    rows: int
    latest: datetime | None
    """When the newest row was made, if the table says."""


def reminder_runs(conn: sqlite3.Connection) -> list[ReminderRuns]:
    """Each reminder table this database has (none before the versions that add them)."""
    found = []
    present = table_names(conn)
    for table in REMINDER_TABLES:
        if table not in present:
            continue
        columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        rows = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        column = next((c for c in TIME_COLUMNS if c in columns), None)
        latest = None
        if column is not None:
            value = conn.execute(f"SELECT max({column}) FROM {table}").fetchone()[0]
            latest = None if value is None else from_db(value)
        found.append(ReminderRuns(table, rows, latest))
    return found
