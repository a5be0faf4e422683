"""The database's files on disk: checked before SQLite opens them, watched while the bot runs.

A write is trusted only if it lands in the file at DATABASE_URL: a file deleted, replaced or
overwritten under the running bot would take every later write with it, answered as recorded.
And SQLite maps the ``-shm`` file (the WAL index) into memory and writes to it on reads and
writes alike: when the kernel cannot back a page of that mapping (the file was truncated, made
immutable with ``chattr +i``, or its file system went read-only), the next statement kills the
process with SIGBUS before Python can do anything. So every statement first checks that the
mapping is still safe (``hazard``, three system calls on a descriptor held open), and every write
that the files are still the ones the bot opened (``moved``).

The held descriptors are closed only after SQLite's connections: closing any descriptor of a
file drops every POSIX lock the process holds on it, SQLite's included.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
FS_IOC_GETFLAGS = 0x80086601  # Linux: the inode flags chattr sets
IMMUTABLE_FLAGS = 0x10 | 0x20  # FS_IMMUTABLE_FL, FS_APPEND_FL


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with the database, and what the operator should do about it."""

    what: str
    remedy: str
    lasting: bool = True
    """False for a failure that passes by itself (a lock held a while by another program)."""


def unreadable(path: Path) -> str | None:
    """Why a command-line reader (an export, a round's, the scorecard) cannot read the database
    at ``path`` in one line, or ``None``: these read a database the bot made, never create one."""
    if not path.is_file():
        return f"no database at {path} (DATABASE_URL): run the bot first"
    with path.open("rb") as file:
        if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            return f"{path} (DATABASE_URL) is not an SQLite database"
    return None


def path_problem(path: Path) -> Problem | None:
    """Before SQLite opens it: the path must be a file (or nothing yet, in a folder that can be
    made), and a file already there must be a whole SQLite database."""
    if path.is_dir():
        return Problem(
            "it is a directory, not a file",
            "set DATABASE_URL to a file path, like sqlite:///data/bot.db",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        return Problem(
            f"its folder {path.parent} cannot be made (a file is in the way)",
            "check DATABASE_URL",
        )
    except OSError as exc:
        return Problem(
            f"its folder {path.parent} cannot be created ({exc.strerror or exc})",
            "check DATABASE_URL, and that the bot's user may create that folder",
        )
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            header = file.read(100)
    except FileNotFoundError:
        return None  # a new database
    except OSError as exc:
        return os_problem(exc)
    return header_problem(path, header, size)


def header_problem(path: Path, header: bytes, size: int) -> Problem | None:
    """A file that is not SQLite's, or shorter than its header says (a cut-off copy)."""
    if size == 0:
        return None  # SQLite treats an empty file as a new database
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        return Problem(
            "the file is not an SQLite database",
            "point DATABASE_URL at the bot's database, or move this file away to start afresh",
        )
    (page_size,) = struct.unpack(">H", header[16:18])
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return Problem(
            f"the file is not an SQLite database (its header says pages of {page_size} bytes)",
            "point DATABASE_URL at the bot's database, or restore it from a backup",
        )
    wal = Path(f"{path}-wal")
    wal_holds_pages = wal.exists() and wal.stat().st_size > 0  # then the file may lag behind
    size_is_valid = header[24:28] == header[92:96]  # SQLite's own rule for the page count
    if size_is_valid and not wal_holds_pages:
        expected = int.from_bytes(header[28:32], "big") * page_size
        if size < expected:
            return Problem(
                f"the file is truncated ({size} bytes of the {expected} its header promises)",
                "restore the database from a backup (python -m bot backup makes them)",
            )
    return None


def sqlite_problem(exc: sqlite3.Error) -> Problem | None:
    """What SQLite's error says about the files; None for a mistake in the statement itself."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    reason = str(exc)
    if primary == sqlite3.SQLITE_NOTADB:
        return Problem(
            "the file is not an SQLite database (or it was overwritten)",
            "point DATABASE_URL at the bot's database, or restore it from a backup",
        )
    if primary == sqlite3.SQLITE_CORRUPT:
        return Problem(
            f"the file is damaged ({reason})",
            "restore the database from a backup (python -m bot backup makes them)",
        )
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        return Problem(
            f"it cannot be written ({reason})",
            "make the file, its -wal and -shm files and its folder writable by the bot's user",
        )
    if primary == sqlite3.SQLITE_CANTOPEN:
        return Problem(
            f"it cannot be opened ({reason})",
            "check that its folder exists and that the bot's user may write there",
        )
    if primary == sqlite3.SQLITE_FULL:
        return Problem("the disk is full", "free some space on its disk")
    if primary in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_PROTOCOL):
        return Problem(f"it cannot be read or written ({reason})", "check its disk and file system")
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return Problem(
            f"another program holds its lock ({reason})",
            "stop the other program writing to it (a second bot on the same file?)",
            lasting=False,
        )
    return None


def os_problem(exc: OSError) -> Problem:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return Problem(
            f"it cannot be opened ({exc.strerror})",
            "make the file and its folder readable and writable by the bot's user",
        )
    return Problem(f"it cannot be opened ({exc.strerror or exc})", "check the file and its disk")


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


class DatabaseFiles:
    """The database file, its ``-wal`` and its ``-shm``, as SQLite opened them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.wal = Path(f"{path}-wal")
        self.shm = Path(f"{path}-shm")
        self._db_fd: int | None = None
        self._shm_fd: int | None = None
        self._identities: dict[Path, tuple[int, int]] = {}
        self._shm_size = 0
        self._had_header = False

    def watch(self) -> None:
        """Remember the files: call once SQLite has opened them (after a read and a write)."""
        self._shm_size = 0
        self._db_fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        self._identities = {self.path: _identity(os.fstat(self._db_fd))}
        self._had_header = os.pread(self._db_fd, len(SQLITE_HEADER), 0) == SQLITE_HEADER
        with contextlib.suppress(FileNotFoundError):
            self._identities[self.wal] = _identity(os.stat(self.wal))
        with contextlib.suppress(FileNotFoundError):
            self._shm_fd = os.open(self.shm, os.O_RDWR | os.O_CLOEXEC)
            stat = os.fstat(self._shm_fd)
            self._identities[self.shm] = _identity(stat)
            self._shm_size = stat.st_size

    def close(self) -> None:
        """After SQLite's connections are closed (see the module's docstring)."""
        for fd in (self._db_fd, self._shm_fd):
            if fd is not None:
                os.close(fd)
        self._db_fd = self._shm_fd = None

    def hazard(self) -> Problem | None:
        """Would touching SQLite's mapping of the ``-shm`` file now die of SIGBUS?"""
        fd = self._shm_fd
        if fd is None:
            return None
        size = os.fstat(fd).st_size
        if size < self._shm_size:
            # Give the mapping its pages back (zeros: SQLite rebuilds the index from the -wal),
            # so that closing the database at exit does not die either.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._shm_size)
            return Problem(
                f"{self.shm.name} was truncated by another program",
                "stop that program, then restart the bot",
            )
        self._shm_size = size
        try:
            raw = fcntl.ioctl(fd, FS_IOC_GETFLAGS, bytes(8))
            flags = int.from_bytes(raw[:4], sys.byteorder)  # the kernel writes an int
        except OSError:  # a file system without inode flags
            flags = 0
        if flags & IMMUTABLE_FLAGS:
            return Problem(
                f"{self.shm.name} was made immutable or append-only (chattr)",
                "make the files writable again (chattr -i), then restart the bot",
            )
        if os.fstatvfs(fd).f_flag & os.ST_RDONLY:
            return Problem(
                "its file system became read-only",
                "make it writable again, then restart the bot",
            )
        return None

    def moved(self) -> Problem | None:
        """Are the files at the paths still the ones SQLite writes to?"""
        for path, identity in self._identities.items():
            try:
                now = _identity(os.stat(path))
            except FileNotFoundError:
                return Problem(
                    f"{path.name} was deleted while the bot ran",
                    "put the database back (from a backup), then restart the bot",
                )
            if now != identity:
                return Problem(
                    f"{path.name} was replaced by another file while the bot ran",
                    "make sure the right file is in place, then restart the bot",
                )
        header = os.pread(self._db_fd, len(SQLITE_HEADER), 0) if self._db_fd is not None else b""
        if self._had_header and header != SQLITE_HEADER:
            return Problem(
                f"{self.path.name} was overwritten while the bot ran",
                "restore the database from a backup, then restart the bot",
            )
        return None
