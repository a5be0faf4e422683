"""``python -m bot status``: what the operator reads about a database the real storage filled,
without a token, and without the database being created, migrated or changed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.plan import load_plan
from bot.plan_years import reconcile
from storage import Storage
from storage.db import Database, to_db
from storage.digests import iso_week
from storage.migrations import LATEST_VERSION
from storage.outbox import OutKind
from storage.people import WHOLE_PLAN, Role
from storage.subscriptions import EVERYTHING, Follow
from storage.updates import Status
from tests.conftest import DATA, PLAN_YEAR, ROOT, FakeClock

ADA, WANG, LI, ZHAO = 1, 2, 3, 4
GROUP, WHOLE, GONE = -1001, -1002, -1003
AGO = re.escape("(3 h ago)")
LOCAL_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d"


def status(tmp_path: Path, database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TASKS_FILE"))}
    env |= {"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{database}"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "status", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


async def fill(path: Path) -> None:
    """A bot three hours into its life: people, groups, a digest, queues with rows in them."""
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=3))
    store = Storage(path, clock=clock)
    await store.open(plan_year=PLAN_YEAR)
    await reconcile(store, load_plan(DATA / "tasks.json"), source="tasks.json")  # as at start
    for user, name, username in ((ADA, "Ada", None), (WANG, "Wang Wei", "wangwei")):
        await store.users.seen(user, full_name=name, username=username)
    await store.users.seen(LI, full_name="Li")
    await store.users.seen(ZHAO, full_name="Zhao")
    for user in (ADA, WANG, LI, ZHAO):
        await store.chats.seen(user, type="private")
    for user, dept, role in ((WANG, "cnipa", Role.MANAGER), (LI, "cnipa", Role.MEMBER)):
        invite = await store.invites.create(dept, role, created_by=ADA)
        await store.invites.redeem(invite.code, user)
    invite = await store.invites.create("cpd", Role.MEMBER, created_by=ADA)
    await store.invites.redeem(invite.code, ZHAO)
    for chat, title, binding in (
        (GROUP, "知识产权局工作群", "cnipa"),
        (WHOLE, "总群", WHOLE_PLAN),
        (GONE, "旧群", "cnipa"),
    ):
        await store.chats.seen(chat, type="supergroup", title=title)
        await store.chats.bind(chat, binding, by=ADA)
    await store.subscriptions.add(WHOLE, Follow.ALL, EVERYTHING, by=ADA)
    await store.subscriptions.add(GONE, Follow.TASK, "1", by=ADA)
    # A notification owed to each following group; the one that blocked the bot gives up.
    await store.updates.record(
        1, author_id=LI, dept="cnipa", chat_id=GROUP, status=Status.IN_PROGRESS,
        departments=["cnipa"],
    )  # fmt: skip
    await store.chats.set_active(GONE, False, reason="blocked")
    week = iso_week(clock.now)
    assert await store.digest_queue.send_weekly(GROUP, week, [(OutKind.TEXT, {"text": "周报"})])
    (digest,) = [item for item in await store.outbox.next_per_chat() if item.chat_id == GROUP]
    assert await store.outbox.mark_sending(digest.id)
    await store.outbox.mark_sent(digest.id, message_id=9)
    await store.inbox.receive(
        [{"update_id": n, "message": {"chat": {"id": LI}}} for n in (1, 2, 3)]
    )
    await store.inbox.done(1)
    await store.inbox.failed(2, "does not parse")
    await store.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    asyncio.run(fill(path))
    return path


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_person_reads_one_fact_per_line(tmp_path: Path, database: Path) -> None:
    before = digest_of(database)
    done = status(tmp_path, database)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == f"database: {database}"
    assert re.fullmatch(rf"now: {LOCAL_TIME} \(Asia/Shanghai\)", lines[1])
    expected = [
        f"schema: version {LATEST_VERSION}, as this bot expects",
        f"plan: 2024 年知识产权强国建设推进计划, 2024, 110 tasks ({DATA / 'tasks.json'})",
        "plan year 2024 (current): 2024 年知识产权强国建设推进计划, 1 update",
        "chats active: 6",
        "chats inactive: 1",
        "groups bound to cnipa 国家知识产权局: 2 (1 inactive)",
        "groups bound to the whole plan: 1",
        "people in cnipa 国家知识产权局: 2; managers: Wang Wei @wangwei",
        "people in cpd 中央宣传部: 1; managers: none",
        "outbox sending: 0",
        "outbox failed: 1",
        "inbox failed: 1",
    ]
    for line in expected:
        assert line in lines, f"{line!r} not in:\n{done.stdout}"
    patterns = [
        rf"outbox queued: 1, the oldest since {LOCAL_TIME} {AGO}",
        rf"inbox pending: 1, the oldest since {LOCAL_TIME} {AGO}",
        rf"last digest: week \d{{4}}-W\d\d, chat {GROUP} 知识产权局工作群, {LOCAL_TIME} {AGO},"
        r" sent; 1 chat\(s\) that week",
    ]
    for pattern in patterns:
        assert any(re.fullmatch(pattern, line) for line in lines), f"{pattern}\n{done.stdout}"
    assert "round reminders: 0" in lines  # the table is there, and holds none yet
    assert "due reminders: 0" in lines, "none sent yet"
    assert digest_of(database) == before, "status changed the database"


def test_json_for_machines(tmp_path: Path, database: Path) -> None:
    done = status(tmp_path, database, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == {"version": LATEST_VERSION, "expected": LATEST_VERSION}
    assert report["plan"]["tasks"] == 110 and report["plan"]["year"] == 2024
    assert report["chats"]["active"] == 6 and report["chats"]["inactive"] == 1
    assert {"binding": "cnipa", "groups": 2, "inactive": 1} in report["chats"]["bound"]
    assert report["departments"][0] == {
        "dept": "cnipa",
        "people": 2,
        "managers": ["Wang Wei @wangwei"],
    }
    assert report["outbox"]["states"] == {"pending": 1, "failed": 1, "sent": 1}
    assert 3 * 3600 <= report["outbox"]["oldest_waiting"]["seconds_ago"] < 4 * 3600
    assert report["inbox"]["states"] == {"pending": 1, "done": 1, "failed": 1}
    assert report["last_digest"]["chat_id"] == GROUP and report["last_digest"]["state"] == "sent"
    assert report["reminders"] == [
        {"table": "round_reminders", "rows": 0, "latest": None},
        {"table": "due_reminders", "rows": 0, "latest": None},
    ]


def test_reminder_runs_show_when_the_schema_has_them(tmp_path: Path, database: Path) -> None:
    sent = to_db(datetime.now(UTC) - timedelta(hours=3))
    with sqlite3.connect(database) as conn:  # two reminders of a round, as the bot logs them
        conn.execute(
            "INSERT INTO rounds (plan_year, title, due_date, opened_by, opened_at)"
            " VALUES (2024, '上半年', '2026-12-01', 1, ?)",
            (sent,),
        )
        conn.executemany(
            "INSERT INTO round_reminders VALUES (1, ?, 'before', 1, ?)",
            [("cnipa", sent), ("cpd", sent)],
        )
    conn.close()
    lines = status(tmp_path, database).stdout.splitlines()
    assert any(
        re.fullmatch(rf"round reminders: 2, the latest {LOCAL_TIME} {AGO}", x) for x in lines
    )
    assert "due reminders: 0" in lines


def test_an_older_schema_is_read_as_it_is_and_left_so(tmp_path: Path) -> None:
    path = tmp_path / "old.db"

    async def old() -> None:
        db = Database(path)
        await db.open()
        await db.migrate(target=5)
        await db.close()

    asyncio.run(old())
    done = status(tmp_path, path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (
        f"schema: version 5; this bot expects version {LATEST_VERSION} "
        "and migrates the database when it starts"
    ) in lines
    assert "inbox: not in this database yet (schema version 5)" in lines
    assert "outbox queued: 0" in lines and "last digest: none yet" in lines
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (5,)
    conn.close()


def test_a_missing_database_is_one_error_line_and_stays_missing(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    done = status(tmp_path, path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"error: no database at {path} (DATABASE_URL): the bot creates it when it first starts\n"
    )
    assert not path.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a database at all, just some text" * 200, "file is not a database"),
        (b"", "holds no plan bot data (no schema_migrations table): is DATABASE_URL right?"),
    ],
)
def test_a_file_that_is_not_the_bots_database_is_one_error_line(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "other.db"
    path.write_bytes(content)
    done = status(tmp_path, path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and expected in done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert path.read_bytes() == content


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path, database: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TASKS_FILE"))}
    env |= {"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{database}"}
    child = subprocess.Popen(
        [sys.executable, "-m", "bot", "status", "--json"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # as `| head` does once it has read enough (here: before any output)
    errors = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0, errors
    assert errors == ""
