"""The database's files, checked before SQLite opens them, and SQLite's errors about them.

A directory, a folder that cannot be made, a file that is not SQLite's or is cut short, one the
bot may not write: each is one line saying what is wrong and what to do (the start path prints
it), rather than a traceback or, worse, a start that fails at the first update.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with the database, and what the operator should do about it."""

    what: str
    remedy: str
    lasting: bool = True
    """False for a failure that passes by itself (a lock held a while by another program)."""


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
