"""Checks on a copy of the database, over a plain ``sqlite3`` connection (backups are sync).

The backup (``bot/backup.py``) copies pages; these say whether the copy is sound and what it
holds, without applying migrations to it as opening it through ``Storage`` would.
"""

from __future__ import annotations

import sqlite3

INTEGRITY_CHECK = "PRAGMA integrity_check"
HAS_UPDATES = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'status_updates'"
COUNT_UPDATES = "SELECT count(*) FROM status_updates"


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """What SQLite finds wrong with the file; empty when it says ``ok``."""
    rows = [str(row[0]) for row in conn.execute(INTEGRITY_CHECK).fetchall()]
    return [] if rows == ["ok"] else rows


def update_count(conn: sqlite3.Connection) -> int:
    """Status updates held (0 in a database the bot has not set up yet)."""
    if conn.execute(HAS_UPDATES).fetchone() is None:
        return 0
    return int(conn.execute(COUNT_UPDATES).fetchone()[0])
