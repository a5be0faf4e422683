"""``python -m bot backup``: a consistent, checked copy of the live database, taken while it is
being written, put in place atomically; and one-line errors for what an operator gets wrong."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.backup import BackupError, BackupResult, backup
from bot.cli import main
from storage import Storage
from storage.migrations import LATEST_VERSION
from storage.subscriptions import EVERYTHING, Follow
from storage.updates import Status
from tests.conftest import PLAN_YEAR
from tests.rows import update_count

TOTAL = 2000
"""Status updates the writer records while the backup runs."""
HEAD_START = 100
"""Updates recorded before the backup starts, so that it copies a database being written."""
AUTHOR, WATCHERS = 1, -100
STATUSES = list(Status)


async def writer(storage: Storage, progress: list[int], started: asyncio.Event) -> None:
    """Record ``TOTAL`` updates as fast as the disk allows, each with its notification."""
    for i in range(TOTAL):
        await storage.updates.record(
            i % 110 + 1,
            author_id=AUTHOR,
            dept=None,
            chat_id=None,
            status=STATUSES[i % len(STATUSES)],
            progress=i % 101,
            note=f"update {i}",
        )
        progress[0] = i + 1
        if i + 1 == HEAD_START:
            started.set()


async def prepared(storage: Storage) -> None:
    """An author, and a group following everything: each update owes one notification."""
    await storage.users.seen(AUTHOR, full_name="Ada")
    await storage.chats.seen(WATCHERS, type="group", title="watchers")
    await storage.subscriptions.add(WATCHERS, Follow.ALL, EVERYTHING, by=AUTHOR)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read a database file as a restore would find it, outside the bot's connections."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def assert_consistent(copy: Path) -> list[int]:
    """The copy is sound and is one moment of the bot's history; returns its update ids."""
    assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
    assert rows(copy, "PRAGMA foreign_key_check") == []
    assert rows(copy, "SELECT max(version) FROM schema_migrations") == [(LATEST_VERSION,)]
    ids = [row[0] for row in rows(copy, "SELECT id FROM status_updates ORDER BY id")]
    assert ids == list(range(1, len(ids) + 1)), "the copy has a hole in the history"
    # Each task's state is the one its last update in the copy left.
    last = rows(
        copy,
        "SELECT u.task, u.status, u.id FROM status_updates AS u"
        " WHERE u.id = (SELECT max(id) FROM status_updates WHERE task = u.task) ORDER BY u.task",
    )
    assert rows(copy, "SELECT task, status, last_update_id FROM task_state ORDER BY task") == last
    # Every update's notification is in the copy with it, and none of a later update.
    owed = rows(copy, "SELECT update_id FROM outbox ORDER BY update_id")
    assert owed == [(i,) for i in ids]
    return ids


async def test_a_backup_taken_while_the_bot_writes_is_one_consistent_moment(
    storage: Storage, tmp_path: Path
) -> None:
    await prepared(storage)
    source, copy = storage.db.path, tmp_path / "backups" / "bot-copy.db"
    copy.parent.mkdir()
    progress, started = [0], asyncio.Event()
    writing = asyncio.create_task(writer(storage, progress, started))
    async with asyncio.timeout(15):
        await started.wait()
        before = progress[0]
        # Small steps, so that the copy is taken in many pieces while updates keep coming.
        result = await asyncio.to_thread(backup, source, copy, pages=4, pause=0.001)
        during = progress[0] - before
        await writing

    assert during > 0, "the bot's writes waited for the backup"
    ids = assert_consistent(copy)
    assert HEAD_START <= len(ids) < TOTAL  # taken mid-stream, with what was committed
    assert result == BackupResult(copy, copy.stat().st_size, len(ids), result.seconds)
    source_ids = [row[0] for row in rows(source, "SELECT id FROM status_updates ORDER BY id")]
    assert source_ids[: len(ids)] == ids
    assert sorted(p.name for p in copy.parent.iterdir()) == ["bot-copy.db"]  # no temporary left

    # Restored, the copy is a working database: the bot would carry on from where it stops.
    restored = Storage(copy)
    await restored.open(plan_year=PLAN_YEAR)
    try:
        assert await update_count(restored) == len(ids)
        again = await restored.updates.record(
            7, author_id=AUTHOR, dept=None, chat_id=None, note="after the restore"
        )
        assert again.update.id == len(ids) + 1 and again.notifications == 1
    finally:
        await restored.close()

    # Once the writer has stopped, a backup has every update, exactly as the source has it.
    final = backup(source, tmp_path / "final.db")
    assert final.updates == TOTAL
    assert_consistent(final.path)
    everything = "SELECT * FROM status_updates ORDER BY id"
    assert rows(final.path, everything) == rows(source, everything)


async def test_the_copy_replaces_an_old_backup_only_once_it_passed_its_check(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await prepared(storage)
    await storage.updates.record(1, author_id=AUTHOR, dept=None, chat_id=None, note="one")
    target = tmp_path / "out" / "bot.db"
    target.parent.mkdir()
    target.write_bytes(b"yesterday's backup")

    monkeypatch.setattr("bot.backup.integrity_problems", lambda conn: ["page 7: btreeInitPage"])
    with pytest.raises(BackupError, match=r"integrity check.*page 7"):
        backup(storage.db.path, target)
    assert target.read_bytes() == b"yesterday's backup"
    assert [p.name for p in target.parent.iterdir()] == ["bot.db"]

    monkeypatch.undo()
    assert backup(storage.db.path, target).updates == 1
    assert rows(target, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
    assert [p.name for p in target.parent.iterdir()] == ["bot.db"]


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An operator's shell: the database setting, no token, no stray .env; returns the DB path."""
    database = tmp_path / "data" / "bot.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return database


async def test_the_command_prints_one_line_with_path_size_and_updates(
    operator: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = Storage(operator)
    await storage.open(plan_year=PLAN_YEAR)
    await prepared(storage)
    for task in (1, 2, 3):
        await storage.updates.record(task, author_id=AUTHOR, dept=None, chat_id=None, note="n")
    await storage.close()

    target = tmp_path / "bot-backup.db"
    assert main(["backup", str(target)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    (line,) = out.splitlines()
    assert str(target) in line
    assert f"{target.stat().st_size:,} bytes" in line
    assert "3 status updates" in line


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """What the operator saw: nothing on stdout, one ``error:`` line on stderr, no traceback."""
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: ") and "Traceback" not in err
    return line


def test_a_missing_database_is_one_line_and_exit_2(
    operator: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", str(tmp_path / "copy.db")]) == 2
    line = one_line_error(capsys)
    assert f"no database at {operator}" in line and "DATABASE_URL" in line
    assert not operator.exists(), "the backup created the database it was to copy"
    assert not (tmp_path / "copy.db").exists()


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("no/such/dir/copy.db", "No such file or directory"),
        ("a-file/copy.db", "Not a directory"),
        ("a-dir", "is a directory"),
        ("data/bot.db", "is the live database itself"),
    ],
)
async def test_an_unwritable_target_is_one_line_and_exit_2(
    operator: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, says: str
) -> None:
    storage = Storage(operator)
    await storage.open(plan_year=PLAN_YEAR)
    await storage.close()
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "a-dir").mkdir()

    assert main(["backup", str(tmp_path / where)]) == 2
    assert says in one_line_error(capsys)
    assert rows(operator, "PRAGMA integrity_check") == [("ok",)]
