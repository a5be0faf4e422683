"""The SQLite connections: one writer, one reader, WAL, foreign keys, one trip per write.

Every write is a function of a ``sqlite3.Connection`` that :meth:`Database.write` runs on the
writer's own thread, inside one ``BEGIN IMMEDIATE`` … ``COMMIT``: a status update with its
state, its outbox rows and its inbox mark is one trip to that thread, not a dozen awaited
statements, and no coroutine's statement can land inside another's transaction (the thread runs
one function at a time). Reads go through a separate read-only aiosqlite connection, which under
WAL sees every committed write and never blocks the writer.

A database that cannot be used is refused when it is opened (:class:`DatabaseUnusable`), and a
write that did not reach the file at the database's path raises :class:`WriteFailed`, never
returns as if recorded; after either the database remembers it is unhealthy (``failure``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.files import DatabaseFiles, Problem, os_problem, path_problem, sqlite_problem
from storage.migrations import MIGRATIONS, Migration

Clock = Callable[[], datetime]
Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]
"""A write: statements on the writer connection, run inside one transaction."""

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


def _connect_writer(path: Path) -> sqlite3.Connection:
    """The writer connection, made on (and used only by) the writer's thread. SQLite opens a
    file it may not write read-only, silently: a rolled-back write finds out now."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        for pragma in PRAGMAS:
            conn.execute(pragma)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            conn.execute("ROLLBACK")
    except BaseException:
        conn.close()
        raise
    return conn


def _in_transaction(conn: sqlite3.Connection, work: Work[T], durable: bool = True) -> T:
    """``BEGIN IMMEDIATE``, the work, ``COMMIT``; any exception rolls the whole of it back.
    Not ``durable``: this one commit does not wait for the disk (see :meth:`Database.write`)."""
    if not durable:
        conn.execute("PRAGMA synchronous = NORMAL")
        try:
            return _in_transaction(conn, work)
        finally:
            conn.execute("PRAGMA synchronous = FULL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


class Database:
    def __init__(self, path: Path, *, clock: Clock = utcnow) -> None:
        self.path = path
        self.clock = clock
        self._writer: sqlite3.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._files = DatabaseFiles(path)
        self._problem: Problem | None = None
        self.on_failure: Callable[[str], None] | None = None
        """Told once, when ``failure`` is first set (the bot reports its health with it)."""
        self.plan_year: int | None = None
        """The current plan's year: what reads and writes of tasks mean by default."""

    async def open(self) -> None:
        """Open, or refuse with :class:`DatabaseUnusable`: a directory, a folder that cannot be
        made, a file that is not SQLite or is cut short, one that cannot be written."""
        self._problem = None
        if problem := path_problem(self.path):
            raise DatabaseUnusable(self.path, problem)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        try:
            self._writer = await self._on_writer_thread(_connect_writer, self.path)
            self._reader = await self._connect_reader()
            await self._reader.execute("SELECT count(*) FROM sqlite_master")
            self._files.watch()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, sqlite3.Error) and (problem := sqlite_problem(exc)):
                raise DatabaseUnusable(self.path, problem) from exc
            if isinstance(exc, OSError):
                raise DatabaseUnusable(self.path, os_problem(exc)) from exc
            raise

    async def _connect_reader(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            for pragma in (*PRAGMAS, "PRAGMA query_only = ON"):
                await conn.execute(pragma)
        except BaseException:
            await conn.close()  # else its thread keeps the process from exiting
            raise
        return conn

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
        if self._writer is not None:
            await self._on_writer_thread(self._writer.close)
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        self._reader = self._writer = self._thread = None
        self._files.close()  # only now: closing a descriptor drops the process's file locks

    async def _on_writer_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            raise RuntimeError("database is not open")
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    @property
    def writer(self) -> sqlite3.Connection:
        """The writer connection (its own thread uses it; elsewhere, only to look)."""
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

    def current_year(self) -> int:
        """The current plan's year; set once the plans are reconciled at start."""
        if self.plan_year is None:
            raise RuntimeError("no current plan year: the plans have not been reconciled")
        return self.plan_year

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

    # --- reads and writes ----------------------------------------------------------------------

    async def write(self, work: Work[T], *, durable: bool = True) -> T:
        """Run ``work`` on the writer's thread in one ``BEGIN IMMEDIATE`` transaction: one
        trip. A cancelled caller does not cut it short: the transaction commits or rolls back
        whole, on the thread, and the next write finds the writer idle.

        ``durable=False`` is for bookkeeping whose loss in a power cut only repeats work (an
        update marked handled, which is handled again idempotently; a message marked sent,
        which is sent again): its commit does not wait for an fsync. A kill -9 still loses
        nothing (the WAL is in the kernel's cache), and the next durable commit, which fsyncs
        the WAL up to itself, makes it durable too.

        Raises :class:`WriteFailed` when the write did not reach the file at the database's
        path: SQLite refused it, or the file was deleted, replaced or overwritten meanwhile.
        """
        if self._problem is not None:
            raise WriteFailed(self.path, self._problem)
        self._check_safe(WriteFailed)
        if problem := self._files.moved():
            raise self._failed(WriteFailed, problem)
        try:
            result = await self._on_writer_thread(_in_transaction, self.writer, work, durable)
        except sqlite3.Error as exc:
            if failed := self._storage_error(exc, WriteFailed):
                raise failed from exc
            raise
        if problem := self._files.moved():  # committed, but to a file no longer there
            raise self._failed(WriteFailed, problem)
        return result

    async def execute(self, sql: str, params: Params = (), *, durable: bool = True) -> int:
        """One write statement in its own transaction; returns the number of rows changed."""
        return await self.write(lambda conn: conn.execute(sql, params).rowcount, durable=durable)

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
        self,
        migrations: Iterable[Migration] = MIGRATIONS,
        *,
        target: int | None = None,
        values: Mapping[str, object] | None = None,
    ) -> list[int]:
        """Apply the migrations not yet recorded, each atomically; returns the versions applied.

        ``values`` are what migrations may need to know (``Migration.needs``): the plan year
        that rows written before plan years belong to, say.
        """
        await self._on_writer_thread(
            self.writer.execute,
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
            try:
                await self._on_writer_thread(self._apply, migration, dict(values or {}))
            except sqlite3.Error as exc:
                if failed := self._storage_error(exc, WriteFailed):
                    raise failed from exc
                raise
            applied.append(migration.version)
        return applied

    def _apply(self, migration: Migration, values: dict[str, object]) -> None:
        """One migration and its record, in one transaction (on the writer's thread).

        Foreign keys are off meanwhile, as SQLite's procedure for rebuilding a table asks, and
        checked before the commit: a migration that would leave a dangling reference fails.
        """
        conn = self.writer
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS migration_values"
                    " (name TEXT PRIMARY KEY, value)"
                )
                conn.execute("DELETE FROM temp.migration_values")
                conn.executemany(
                    "INSERT INTO temp.migration_values VALUES (?, ?)",
                    [(name, values.get(name)) for name in migration.needs],
                )
                for statement in statements(migration.sql):
                    conn.execute(statement)
                dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
                if dangling:
                    raise sqlite3.IntegrityError(
                        f"migration {migration.version} leaves {len(dangling)} dangling references"
                    )
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, self.now()),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute("PRAGMA foreign_keys = ON")


def statements(script: str) -> Iterator[str]:
    """The statements of a script, one by one (a trigger's body stays whole), so that they run
    inside the migrator's own transaction (``executescript`` would commit first)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                yield pending.strip()
            pending = ""
    if pending.strip(" \t\n;"):
        raise ValueError(f"incomplete statement at the end of a migration: {pending.strip()!r}")


def read_one(conn: sqlite3.Connection, sql: str, params: Params = ()) -> sqlite3.Row | None:
    """One row, read inside a write (where the reader would not see its uncommitted rows)."""
    row: sqlite3.Row | None = conn.execute(sql, params).fetchone()
    return row
