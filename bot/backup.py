"""``python -m bot backup FILE``: a consistent copy of the live database, while the bot runs.

SQLite's online backup API copies the database a few pages at a time. The copy is a single
snapshot: the bot's database is in WAL mode, so the source connection holds one read
transaction across every step, and the bot's writes go on meanwhile (a WAL reader never blocks
a writer) without any landing half in the copy. Between steps the copy pauses briefly, so that
it never hogs the disk the bot commits to. The copy is written to a temporary file next to
FILE, switched to a self-contained rollback-journal file, checked with ``PRAGMA
integrity_check``, synced, and only then renamed over FILE: FILE is either the old backup or a
complete, checked new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from storage.snapshot import integrity_problems, update_count

PAGES_PER_STEP = 256
"""Pages copied per step: 1 MiB with SQLite's default 4 KiB pages."""
PAUSE = 0.002
"""Seconds to pause between steps, leaving the disk to the bot's commits."""
BUSY_TIMEOUT_MS = 5000
"""How long the copy waits for a lock (only a database not in WAL mode takes one)."""
SIDE_FILES = ("", "-journal", "-wal", "-shm")
"""A SQLite file and the files it may have beside it."""


class BackupError(Exception):
    """The backup could not be made; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int
    """Bytes in the copy."""
    updates: int
    """Status updates in the copy."""
    seconds: float

    def summary(self) -> str:
        """The one line the command prints."""
        return (
            f"backed up to {self.path}: {self.size:,} bytes, {self.updates:,} status updates, "
            f"integrity ok ({self.seconds:.2f} s)"
        )


def backup(
    source: Path, target: Path, *, pages: int = PAGES_PER_STEP, pause: float = PAUSE
) -> BackupResult:
    """Copy ``source`` to ``target`` consistently, check the copy, then rename it into place."""
    started = time.monotonic()
    _check_paths(source, target)
    temporary = _temporary(target)
    try:
        _copy(source, temporary, pages=pages, pause=pause)
        updates = _verify(temporary)
        _fsync(temporary)
        os.replace(temporary, target)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {source}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        _remove(temporary)
    _fsync_directory(target.parent)
    return BackupResult(target, target.stat().st_size, updates, time.monotonic() - started)


def _check_paths(source: Path, target: Path) -> None:
    """Refuse, in one line, what cannot work, before anything is written."""
    if not source.is_file():
        raise BackupError(
            f"no database at {source}: check DATABASE_URL (the bot creates it when it starts)"
        )
    if target.is_dir():
        raise BackupError(f"{target} is a directory: give the backup a file name")
    if target.exists() and os.path.samefile(source, target):
        raise BackupError(f"{target} is the live database itself: choose another file")


def _temporary(target: Path) -> Path:
    """A new empty file beside ``target``, so that the final rename stays on one file system."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    return Path(name)


def _copy(source: Path, copy: Path, *, pages: int, pause: float) -> None:
    """Page the source into ``copy`` from one snapshot, pausing between steps."""

    def breathe(_status: int, remaining: int, _total: int) -> None:
        """Called after each step: let the bot's commits have the disk for a moment."""
        if remaining:
            time.sleep(pause)

    with _closing(_open_source(source)) as src, _closing(sqlite3.connect(copy)) as dst:
        with _snapshot(src):
            src.backup(dst, pages=pages, progress=breathe)
        # Self-contained: one file, readable even where a -wal/-shm could not be created.
        dst.execute("PRAGMA journal_mode = DELETE").fetchall()


def _open_source(source: Path) -> sqlite3.Connection:
    """The live database, opened for reading only (``mode=rw``: never create it by mistake)."""
    conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA query_only = ON")
    return conn


@contextlib.contextmanager
def _snapshot(src: sqlite3.Connection) -> Iterator[None]:
    """In WAL mode, one read transaction for every step: the copy is of a single moment and
    is never restarted by the bot's writes. (Outside WAL it would block them: steps then
    take the lock one by one, and a write between steps restarts the copy.)"""
    if src.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        yield
        return
    src.execute("BEGIN")
    src.execute("SELECT count(*) FROM sqlite_master").fetchall()  # the snapshot is taken here
    try:
        yield
    finally:
        src.execute("ROLLBACK")


def _verify(copy: Path) -> int:
    """Check the copy as SQLite sees it; returns its number of status updates."""
    with _closing(sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        problems = integrity_problems(conn)
        if problems:
            raise BackupError(
                f"the copy failed its integrity check ({problems[0]}); nothing was replaced"
            )
        return update_count(conn)


@contextlib.contextmanager
def _closing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Close the connection (``with conn`` alone only ends a transaction)."""
    try:
        yield conn
    finally:
        conn.close()


def _fsync(path: Path) -> None:
    """The copy's bytes are on disk before its name replaces the old backup."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    """The rename itself survives a power cut (where the platform can sync a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is then as safe as it gets
    finally:
        os.close(fd)


def _remove(temporary: Path) -> None:
    """Leave nothing behind: the temporary file (if not renamed) and any side files."""
    for suffix in SIDE_FILES:
        Path(f"{temporary}{suffix}").unlink(missing_ok=True)
