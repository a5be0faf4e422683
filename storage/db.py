"""The SQLite connection: one writer, one reader, WAL, foreign keys, explicit transactions.

Every multi-statement write runs in one ``BEGIN IMMEDIATE`` transaction on the single writer
connection, serialised by a lock, so that no coroutine's statement lands inside another's
transaction. Reads go through a separate read-only connection, which under WAL sees every
committed write and never blocks the writer.

A database that cannot be used is refused when it is opened (:class:`DatabaseUnusable`), and a
write that did not reach the file at the database's path raises :class:`WriteFailed`, never
returns as if recorded; after either the database remembers it is unhealthy (``failure``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from storage.files import DatabaseFiles, Problem, os_problem, path_problem, sqlite_problem
from storage.migrations import MIGRATIONS, Migration

Clock = Callable[[], datetime]
Params = Sequence[Any] | dict[str, Any]

PRAGMAS = (
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    # FULL: a committed status update survives a power cut, not only a crash of the bot.
    "PRAGMA synchronous = FULL",
    # No memory-mapped reads of the database file: a page the kernel cannot back is a SIGBUS.
    # (The -shm index is always mapped; storage/files.py watches it.)
    "PRAGMA mmap_size = 0",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db(moment: datetime) -> str:
    """Fixed-width UTC text, so that comparing strings in SQL compares moments."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to storage")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)


class DatabaseUnusable(sqlite3.DatabaseError):
    """The database cannot be used: one line with what is wrong and what to do."""

    def __init__(self, path: Path, problem: Problem) -> None:
        super().__init__(f"database {path}: {problem.what}: {problem.remedy}")
        self.problem = problem


class WriteFailed(DatabaseUnusable):
    """A write was not recorded: SQLite refused it, or the file it went to is not (or no
    longer) the one at the database's path."""


class Database:
    def __init__(self, path: Path, *, clock: Clock = utcnow) -> None:
        self.path = path
        self.clock = clock
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._files = DatabaseFiles(path)
        self._problem: Problem | None = None
        self.on_failure: Callable[[str], None] | None = None
        """Told once, when ``failure`` is first set (the bot reports its health with it)."""

    async def open(self) -> None:
        """Open, or refuse with :class:`DatabaseUnusable`: a directory, a folder that cannot be
        made, a file that is not SQLite or is cut short, one that cannot be written."""
        self._problem = None
        if problem := path_problem(self.path):
            raise DatabaseUnusable(self.path, problem)
        try:
            self._writer = await self._connect()
            await write(self._writer, "PRAGMA journal_mode = WAL")
            await self._probe_writable(self._writer)
            self._reader = await self._connect()
            await write(self._reader, "PRAGMA query_only = ON")
            await write(self._reader, "SELECT count(*) FROM sqlite_master")
            self._files.watch()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, sqlite3.Error) and (problem := sqlite_problem(exc)):
                raise DatabaseUnusable(self.path, problem) from exc
            if isinstance(exc, OSError):
                raise DatabaseUnusable(self.path, os_problem(exc)) from exc
            raise

    @staticmethod
    async def _probe_writable(conn: aiosqlite.Connection) -> None:
        """SQLite opens a file it may not write read-only, silently: find out now, not at the
        first update (a write that is rolled back leaves the file as it was)."""
        await write(conn, "BEGIN IMMEDIATE")
        try:
            version = (await read_one(conn, "PRAGMA user_version") or (0,))[0]
            await write(conn, f"PRAGMA user_version = {int(version)}")
        finally:
            await write(conn, "ROLLBACK")

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            for pragma in PRAGMAS:
                await write(conn, pragma)
        except BaseException:
            await conn.close()  # else its thread keeps the process from exiting
            raise
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None
        self._files.close()  # only now: closing a descriptor drops the process's file locks

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("database is not open")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    def now(self) -> str:
        return to_db(self.clock())

    # --- health ------------------------------------------------------------------------------

    @property
    def failure(self) -> str | None:
        """Why the database stopped being trustworthy, once it has: until it is reopened,
        every write is refused (the bot answers "not recorded") and the health check fails."""
        return None if self._problem is None else str(DatabaseUnusable(self.path, self._problem))

    def health(self) -> str | None:
        """``None`` while the database can be trusted, else why not; looks at the files now."""
        if self.failure is not None or self._writer is None:
            return self.failure
        if problem := self._files.hazard() or self._files.moved():
            self._failed(DatabaseUnusable, problem)
        return self.failure

    def _failed(self, kind: type[DatabaseUnusable], problem: Problem) -> DatabaseUnusable:
        """The exception to raise; a lasting problem also makes the database unhealthy."""
        if problem.lasting and self._problem is None:
            self._problem = problem
            if self.on_failure is not None:
                self.on_failure(str(self.failure))
        return kind(self.path, problem)

    def _check_safe(self, kind: type[DatabaseUnusable]) -> None:
        """Before any statement: SQLite's mapping of the -shm file must still be safe to touch."""
        if problem := self._files.hazard():
            raise self._failed(kind, problem)

    def _storage_error(
        self, exc: BaseException, kind: type[DatabaseUnusable]
    ) -> DatabaseUnusable | None:
        """SQLite's error as ours when it is about the files (a bad statement stays itself)."""
        if isinstance(exc, DatabaseUnusable):
            return None
        problem = sqlite_problem(exc) if isinstance(exc, sqlite3.Error) else None
        return self._failed(kind, problem) if problem else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; any exception, cancellation included, rolls back.

        Raises :class:`WriteFailed` when the write did not reach the file at the database's
        path: SQLite refused it, or the file was deleted, replaced or overwritten meanwhile.
        """
        async with self._write_lock:
            conn = self.writer
            if self._problem is not None:
                raise WriteFailed(self.path, self._problem)
            self._check_safe(WriteFailed)
            if problem := self._files.moved():
                raise self._failed(WriteFailed, problem)
            try:
                await write(conn, "BEGIN IMMEDIATE")
                yield conn
                await write(conn, "COMMIT")
            except BaseException as exc:
                # Shielded: a cancelled caller must not leave the writer inside a transaction.
                await asyncio.shield(self._rollback_if_open(conn))
                if failed := self._storage_error(exc, WriteFailed):
                    raise failed from exc
                raise
            if problem := self._files.moved():  # committed, but to a file no longer there
                raise self._failed(WriteFailed, problem)

    @staticmethod
    async def _rollback_if_open(conn: aiosqlite.Connection) -> None:
        # aiosqlite runs statements in order on its thread: once this no-op is done, a BEGIN
        # or COMMIT whose caller was cancelled has run, and ``in_transaction`` is settled.
        await write(conn, "SELECT 1")
        if conn.in_transaction:
            await write(conn, "ROLLBACK")

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One write statement in its own transaction; returns the number of rows changed."""
        async with self.transaction() as conn, conn.execute(sql, params) as cursor:
            return cursor.rowcount

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        self._check_safe(DatabaseUnusable)
        try:
            async with self.reader.execute(sql, params) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as exc:
            if failed := self._storage_error(exc, DatabaseUnusable):
                raise failed from exc
            raise

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        self._check_safe(DatabaseUnusable)
        try:
            async with self.reader.execute(sql, params) as cursor:
                return await cursor.fetchone()
        except sqlite3.Error as exc:
            if failed := self._storage_error(exc, DatabaseUnusable):
                raise failed from exc
            raise

    async def fetchvalue(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    # --- migrations -------------------------------------------------------------------------

    async def schema_version(self) -> int:
        exists = await self.fetchvalue(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        )
        if not exists:
            return 0
        return int(await self.fetchvalue("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    async def tracking_since(self) -> datetime:
        """When this database was created: a task never reported has been quiet since then."""
        value = await self.fetchvalue("SELECT applied_at FROM schema_migrations WHERE version = 1")
        return from_db(value) if value else self.clock()

    async def migrate(
        self, migrations: Iterable[Migration] = MIGRATIONS, *, target: int | None = None
    ) -> list[int]:
        """Apply the migrations not yet recorded, each atomically; returns the versions applied.

        A database whose schema is newer than the newest migration given is refused: it was
        made by a newer version of the bot, and this one would misread it.
        """
        await write(
            self.writer,
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        migrations = tuple(migrations)
        current = await self.schema_version()
        known = max((m.version for m in migrations), default=0)
        if current > known:
            raise DatabaseUnusable(
                self.path,
                Problem(
                    f"its schema is version {current}, made by a newer version of the bot "
                    f"(this one knows versions up to {known})",
                    "run that newer version, or restore a backup made by this one",
                ),
            )
        applied: list[int] = []
        for migration in migrations:
            if migration.version <= current or (target is not None and migration.version > target):
                continue
            async with self._write_lock:
                script = (
                    "BEGIN IMMEDIATE;\n"
                    f"{migration.sql}\n"
                    "INSERT INTO schema_migrations (version, name, applied_at) "
                    f"VALUES ({migration.version}, '{migration.name}', '{self.now()}');\n"
                    "COMMIT;"
                )
                try:
                    await self.writer.executescript(script)
                except BaseException as exc:
                    await asyncio.shield(self._rollback_if_open(self.writer))
                    if failed := self._storage_error(exc, WriteFailed):
                        raise failed from exc
                    raise
            applied.append(migration.version)
        return applied


@dataclass(frozen=True, slots=True)
class Written:
    rowcount: int
    lastrowid: int | None


async def write(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> Written:
    """Execute and close at once: an open cursor keeps its statement, and its lock, alive."""
    async with conn.execute(sql, params) as cursor:
        return Written(cursor.rowcount, cursor.lastrowid)


async def read_one(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> sqlite3.Row | None:
    """Read inside a write transaction (where the reader would not see its uncommitted rows)."""
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()
