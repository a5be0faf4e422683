"""Migrations: from an empty database, from every earlier version, atomic, and never edited."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from storage.db import Database, DatabaseUnusable
from storage.migrations import LATEST_VERSION, MIGRATIONS, Migration

# A migration that has landed is never edited; a schema change is a new migration.
# Add the hash of a new migration here when it lands.
LANDED = {
    1: "2b4efd4cb9c3482e9cd7e092a8ab3b831f0c1c1c27b3914e2d148cc043453a21",
    2: "39d4541d87aea9d6a47b0203bafd80602f66c02adfe8e67dd0fa170a0ec759f5",
    3: "c28e2822b2f4998389541bfb7297e752917a2e895cb544b2aed27960aba728d8",
    4: "b0bb6b8ff203d8adeb80ea1b02d419fc30a0e13012adf7cacae6757744102019",
    5: "046e0131a23e2c114480d7c1fc3281d3e19c62321fec35716357cdca4405be82",
    6: "54324a0562cf2fc41998599ff6bacccfb4580bddf92ba4cdab835c72d2ef8e91",
    7: "bf92e58ed02c1945ef59f5a62f44028e52e19fa1c07ca1f26a97531f4aa197ea",
    8: "bad70c0afae251bfd3d73d73becb09111cb351112ef9ea8af44dcde611a4f8ea",
    9: "1094b2a906f30abc04f2cdcd3b08639956c6e3bc7ff41f0ba7705bf99873ed1a",
    10: "3507d1b4553f613c46df45531cae6bfb16dfe644de524cca19ff31d9b16c0f6b",
    11: "57e2c9cff2ff576a80cb0b6153679551d6e34b13fbe1395c23869c25486b2d2a",
    12: "37173005a648ed10627375f11a154bfca134208ff0e32ee1890fb10476843dd0",
    13: "29d750fddafc4b67f709b17774fd72c37202b51fbf9fbe7800beb1049f530e22",
    14: "9d96136f729d381b5e59bfbbb50d1e57ffd66ddd4edf543838b7a0bcbe9196d2",
    15: "aed5c0dca0b702d6c6ce31a813a53c63a21bdfb18129fbed446906c067da250d",
    16: "7e1feffd1a31782725eca0434ff6603fb5c85a98551c19af12e4ad24b8d9eb82",
}
VERSIONS = [m.version for m in MIGRATIONS]
"""In order from 1; a number may be missing here while the branch that takes it is not merged."""

NOW = "2026-11-23T01:00:00.000000+00:00"

# Rows each version can hold, inserted before migrating further to show nothing is lost.
SEED = {
    1: [
        "INSERT INTO users VALUES (7, 'li', 'Li Wei', 'zh', '{now}', '{now}')",
        "INSERT INTO chats (chat_id, type, title, binding, first_seen, last_seen)"
        " VALUES (-100, 'group', 'CNIPA', 'cnipa', '{now}', '{now}')",
        "INSERT INTO memberships VALUES (7, 'cnipa', 'manager', NULL, '{now}')",
        "INSERT INTO invites (code, dept, role, created_by, created_at, expires_at)"
        " VALUES ('abc', 'cnipa', 'member', 1, '{now}', '{now}')",
    ],
    2: [
        "INSERT INTO status_updates (task, kind, old_status, status, progress, note, author_id,"
        " dept, chat_id, created_at) VALUES (1, 'status', 'not_started', 'in_progress', 30,"
        " 'started', 7, 'cnipa', -100, '{now}')",
        "INSERT INTO task_state VALUES (1, 'in_progress', 30, 1, '{now}', '{now}')",
    ],
    3: [
        "INSERT INTO subscriptions VALUES (-100, 'dept', 'cnipa', 7, '{now}')",
        "INSERT INTO outbox (chat_id, kind, payload, not_before, created_at)"
        " VALUES (-100, 'notification', '{{}}', '{now}', '{now}')",
    ],
    4: [
        "INSERT INTO digest_settings (chat_id, updated_at) VALUES (-100, '{now}')",
        "INSERT INTO digest_log VALUES (-100, '2026-W48', 1, '{now}')",
    ],
    5: ["INSERT INTO message_tasks VALUES (-100, 42, 7, '{now}')"],
    6: [
        "INSERT INTO inbox (update_id, chat_id, payload, received_at)"
        " VALUES (900, -100, '{{\"update_id\": 900}}', '{now}')"
    ],
    7: [
        "INSERT INTO invites (code, dept, role, created_by, created_at, expires_at,"
        " revoked_by, revoked_at) VALUES ('def', 'cnipa', 'member', 1, '{now}', '{now}', 1, '{now}')"
    ],
    8: [
        "INSERT INTO plans (year, title, content, fingerprint, is_current, added_at, updated_at)"
        " VALUES (2024, 'plan', '{{}}', 'f', 1, '{now}', '{now}')"
    ],
    9: [
        "INSERT INTO rounds (plan_year, title, due_date, opened_by, opened_at)"
        " VALUES (2024, '2024 年上半年落实情况', '2026-12-01', 1, '{now}')",
        "INSERT INTO round_slots VALUES (1, 2024, 1, 'cnipa', 1)",
        "INSERT INTO round_drafts (round_id, plan_year, task, author_id, text, chat_id, created_at)"
        " VALUES (1, 2024, 1, 7, 'draft', -100, '{now}')",
        "INSERT INTO round_statements (round_id, plan_year, task, dept, author_id, text, late,"
        " created_at) VALUES (1, 2024, 1, 'cnipa', 7, '已完成', 0, '{now}')",
        "INSERT INTO round_prompts VALUES (-100, 43, 1, 2024, 1, 'cnipa', '{now}')",
        "INSERT INTO round_reminders VALUES (1, 'cnipa', 'before', 1, '{now}')",
    ],
    10: [
        "INSERT INTO due_changes (plan_year, task, due, previous, set_by, set_at)"
        " VALUES (2024, 1, '2024-06-30', '2024-12-31', 7, '{now}')",
        "INSERT INTO due_dates VALUES (2024, 1, '2024-06-30', 1)",
        "INSERT INTO due_reminders VALUES (2024, 1, '2024-06-30', 'overdue', 1, '{now}')",
        "INSERT INTO closures (plan_year, task, kind, update_id, by_user, created_at)"
        " VALUES (2024, 1, 'request', 1, 7, '{now}')",
        "INSERT INTO reason_prompts VALUES (-100, 43, 1, 7, '{now}')",
    ],
    11: [
        "INSERT INTO plan_tasks VALUES (2024, 1, 1, 'cnipa')",
        "INSERT INTO task_departments VALUES (2024, 'cnipa', 1, 1)",
        "INSERT INTO plan_index VALUES (2024, 'f', '{now}')",
    ],
    12: [],  # an index: the status update of version 2 goes through it
    13: [],  # an index: the round statement of version 9 goes through it
    14: [],  # indexes: the due date and the reminder of version 10 go through them
    15: [],  # counts kept from the rows of versions 9 to 11 (their triggers keep them after)
    16: [],  # the reminders logged, marked from version 10's log (its triggers keep them after)
}
UPGRADE_YEAR = 2024
"""The year of the plan in TASKS_FILE when an old database is upgraded."""


def schema(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


async def migrated(path: Path, target: int | None = None) -> Database:
    db = Database(path)
    await db.open()
    await db.migrate(target=target, values={"plan_year": UPGRADE_YEAR})
    return db


def test_landed_migrations_are_never_edited() -> None:
    assert VERSIONS[0] == 1 and sorted(set(VERSIONS)) == VERSIONS
    assert VERSIONS[-1] == LATEST_VERSION
    for migration in MIGRATIONS:
        digest = hashlib.sha256(migration.sql.encode()).hexdigest()
        assert LANDED.get(migration.version) == digest, (
            f"migration {migration.version} changed after landing: add a new migration instead"
        )


async def test_from_an_empty_database(tmp_path: Path) -> None:
    db = await migrated(tmp_path / "bot.db")
    try:
        assert await db.schema_version() == LATEST_VERSION
        assert await db.fetchvalue("PRAGMA journal_mode") == "wal"
        assert await db.fetchvalue("PRAGMA foreign_keys") == 1
        applied = await db.fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [tuple(r) for r in applied] == [(m.version, m.name) for m in MIGRATIONS]
        assert await db.migrate() == [], "migrating again changes nothing"
    finally:
        await db.close()
    tables = {name for kind, name, _ in schema(tmp_path / "bot.db") if kind == "table"}
    assert {
        "chats",
        "users",
        "memberships",
        "invites",
        "status_updates",
        "task_state",
        "subscriptions",
        "outbox",
        "digest_settings",
        "digest_log",
        "message_tasks",
    } <= tables


@pytest.mark.parametrize("start", [0, *VERSIONS[:-1]])
async def test_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    fresh = tmp_path / "fresh.db"
    await (await migrated(fresh)).close()

    old = tmp_path / "old.db"
    db = await migrated(old, target=0)
    values = {"plan_year": UPGRADE_YEAR}
    for version in range(1, start + 1):  # each version's rows written in its own schema
        await db.migrate(target=version, values=values)
        for sql in SEED[version]:
            await db.execute(sql.format(now=NOW))
    assert await db.schema_version() == start
    before = counts(old)
    assert await db.migrate(values=values) == list(range(start + 1, LATEST_VERSION + 1))
    await db.close()

    assert schema(old) == schema(fresh)
    after = counts(old)
    for table, rows in before.items():
        if table != "schema_migrations":
            assert after[table] == rows, f"{table} lost rows migrating from version {start}"
    # What was there before plan years belongs to the plan of the upgrade; nothing else does.
    with sqlite3.connect(old) as conn:
        for table in ("status_updates", "task_state", "message_tasks"):
            years = {y for (y,) in conn.execute(f"SELECT DISTINCT plan_year FROM {table}")}
            assert years <= {UPGRADE_YEAR}, table
        follows = conn.execute("SELECT kind, plan_year FROM subscriptions").fetchall()
        assert all(year == (UPGRADE_YEAR if kind == "task" else 0) for kind, year in follows)


async def test_an_upgrade_counts_the_rows_already_there(tmp_path: Path) -> None:
    """The scorecard's counts start from what the database holds: each planned task with its
    due date and state, each round's slots owed and answered (on time or not); and each task's
    reminders logged for the date in force (its own, or its plan's year end), not those logged
    for a date since changed."""
    db = await migrated(tmp_path / "bot.db", target=0)
    values = {"plan_year": UPGRADE_YEAR}
    for version in range(1, 15):
        await db.migrate(target=version, values=values)
        for sql in SEED[version]:
            await db.execute(sql.format(now=NOW))
    for sql in (
        "INSERT INTO round_slots VALUES (1, 2024, 2, 'cnipa', 1)",
        "INSERT INTO round_slots VALUES (1, 2024, 3, 'cnipa', 1)",
        "INSERT INTO round_statements (round_id, plan_year, task, dept, author_id, text, late,"
        " created_at) VALUES (1, 2024, 2, 'cnipa', 7, '迟交', 1, '{now}')",
        "INSERT INTO plan_tasks VALUES (2024, 2, 1, 'cpd')",
        "INSERT INTO due_reminders VALUES (2024, 1, '2024-05-31', 'day1', 1, '{now}')",
        "INSERT INTO due_reminders VALUES (2024, 2, '2024-12-31', 'day14', 1, '{now}')",
    ):
        await db.execute(sql.format(now=NOW))
    await db.migrate(values=values)
    standing = await db.fetchall("SELECT * FROM task_standing ORDER BY task")
    assert [tuple(r) for r in standing] == [
        (2024, 1, "cnipa", 1, "2024-06-30", "in_progress", None, 0, 0, 1),
        (2024, 2, "cpd", 1, None, None, None, 1, 0, 0),
    ]
    tallies = await db.fetchall("SELECT * FROM round_tallies")
    assert [tuple(r) for r in tallies] == [(1, "cnipa", 3, 2, 1)]
    await db.close()


async def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    db = await migrated(tmp_path / "bot.db", target=1)
    broken = (
        *MIGRATIONS,
        Migration(
            99, "broken", "CREATE TABLE half_done (x INTEGER); INSERT INTO nowhere VALUES (1);"
        ),
    )
    with pytest.raises(sqlite3.OperationalError, match="no such table: nowhere"):
        await db.migrate(broken)
    # The good migrations before it were applied; the broken one left no trace.
    assert await db.schema_version() == LATEST_VERSION
    assert await db.fetchvalue("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'") == 0
    assert not db.writer.in_transaction
    await db.close()


async def test_the_history_is_append_only(tmp_path: Path) -> None:
    db = await migrated(tmp_path / "bot.db", target=2)
    for version in (1, 2):
        for sql in SEED[version]:
            await db.execute(sql.format(now=NOW))
    await db.migrate(values={"plan_year": UPGRADE_YEAR})  # the history's table is rebuilt
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await db.execute("UPDATE status_updates SET note = 'rewritten'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await db.execute("DELETE FROM status_updates")
    await db.close()


def sqlite_magic_then_nonsense(tmp_path: Path) -> bytes:
    """A real database whose header is broken where only SQLite itself looks (byte 21)."""
    made = tmp_path / "made.db"
    with closing(sqlite3.connect(made)) as conn:
        conn.execute("CREATE TABLE t (x)")
    content = bytearray(made.read_bytes())
    content[21] = 0
    return bytes(content)


@pytest.mark.parametrize("kind", ["text", "sqlite magic"])
async def test_a_file_that_is_not_a_database_fails_cleanly(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "notes.txt"
    if kind == "text":
        path.write_text("not a database, but text " * 100, encoding="utf-8")
    else:
        path.write_bytes(sqlite_magic_then_nonsense(tmp_path))
    db = Database(path)
    with pytest.raises(DatabaseUnusable, match="the file is not an SQLite database"):
        await db.open()
    assert db._writer is None and db._reader is None, "nothing left open to hang the exit"


async def test_a_task_done_before_closing_existed_is_closed(tmp_path: Path) -> None:
    """Done meant finished before the office confirmed anything: it does not await it now."""
    db = await migrated(tmp_path / "bot.db", target=8)
    await db.execute(SEED[1][0].format(now=NOW))
    for task, status in ((1, "in_progress"), (2, "done")):
        await db.execute(
            "INSERT INTO status_updates (plan_year, task, kind, old_status, status, author_id,"
            " created_at) VALUES (2024, ?, 'status', 'not_started', ?, 7, ?)",
            (task, status, NOW),
        )
        await db.execute(
            "INSERT INTO task_state VALUES (2024, ?, ?, NULL, ?, ?, ?)",
            (task, status, task, NOW, NOW),
        )
    await db.migrate(values={"plan_year": UPGRADE_YEAR})
    rows = await db.fetchall("SELECT task, closure FROM task_state ORDER BY task")
    assert [tuple(r) for r in rows] == [(1, None), (2, "closed")]
    await db.close()
