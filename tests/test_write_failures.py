"""A write that fails is never answered as recorded: the person is told it was not, an ERROR is
logged with the answer's id, and the health check fails (README: "A write that fails is never
answered as recorded").

The database's files are deleted, replaced or overwritten under the running bot, SQLite refuses
the write, or the ``-shm`` file SQLite maps into memory is truncated or made immutable (which
killed the process with SIGBUS before). Tests run as root in CI, where chmod changes nothing, so
"SQLite refuses the write" is made with ``PRAGMA query_only`` on the bot's writer: SQLite then
answers SQLITE_READONLY, as it does for a file or disk that cannot be written.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.faketelegram import FakeTelegram
from bot.health_check import check, report_path
from storage.db import Database, WriteFailed
from tests.botprocess import ADMIN_ID, bot_process, until
from tests.harness import Harness, running_bot

RECORDED = "已记录"
NOT_RECORDED = "未记录"
UNAVAILABLE = "数据库现在无法使用"


def delete(database: Path) -> None:
    for path in database.parent.glob(f"{database.name}*"):
        path.unlink()


def replace_with_a_copy(database: Path) -> None:
    """What restoring a backup over the live file does: a sound database, but another file."""
    copy = database.with_name("copy.db")
    shutil.copyfile(database, copy)
    os.replace(copy, database)


def overwrite_in_place(database: Path) -> None:
    """Same file, other bytes: ``cp notes.txt data/bot.db``."""
    with database.open("r+b") as file:
        file.truncate(0)
        file.write(b"not a database any more\n" * 50)


async def refuse_writes(h: Harness) -> None:
    """SQLite refuses every write from now on, as for a disk that went read-only."""
    assert h.app.bot_data.storage is not None
    await h.app.bot_data.storage.db.write(lambda conn: conn.execute("PRAGMA query_only = ON"))


def answer_id(text: str) -> str:
    found = re.search(r"（编号 (\w+)）", text)
    assert found, text
    return found.group(1)


async def updated(h: Harness, text: str) -> str:
    ada, dm = h.user(ADMIN_ID, "Ada")
    return await h.ask(ada, dm, text)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (delete, "bot.db was deleted while the bot ran"),
        (replace_with_a_copy, "bot.db was replaced by another file"),
        (overwrite_in_place, "bot.db was overwritten"),
    ],
)
async def test_an_update_to_a_lost_database_file_is_answered_as_not_recorded(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], None],
    said: str,
) -> None:
    async with running_bot(tmp_path) as h:
        assert RECORDED in await updated(h, "/update 1 进行中 10%")
        assert check(h.settings) is None
        damage(h.settings.database_path)

        answer = await updated(h, "/update 1 进行中 20%")

        assert NOT_RECORDED in answer and RECORDED not in answer, answer
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert any(answer_id(answer) in r.getMessage() for r in errors), errors
        assert any(said in r.getMessage() for r in errors), errors
        problem = check(h.settings)  # the polling-mode health check, from the bot's report
        assert problem is not None
        if damage is not delete:  # a deleted database fails the check for that alone
            assert said in problem
        # Reading still works (from what the bot has open); writing stays refused.
        ada, dm = h.user(ADMIN_ID, "Ada")
        assert any("任务 1" in m.text for m in await h.say(ada, dm, "/task 1"))
        assert NOT_RECORDED in await updated(h, "/update 1 进行中 30%")


async def test_a_write_sqlite_refuses_is_answered_as_not_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tmp_path) as h:
        assert RECORDED in await updated(h, "/update 1 进行中 10%")
        await refuse_writes(h)
        _, dm = h.user(ADMIN_ID, "Ada")
        before = len(h.fake.bot_messages(dm))

        answer = await updated(h, "/update 1 进行中 20%")

        assert NOT_RECORDED in answer and RECORDED not in answer, answer
        assert any(
            answer_id(answer) in r.getMessage() and r.levelno == logging.ERROR
            for r in caplog.records
        )
        problem = check(h.settings)
        assert problem is not None and "cannot be written" in problem
        assert len(h.fake.bot_messages(dm)) == before + 1  # one answer, and only that one


async def test_the_health_report_is_rewritten_when_nothing_is_written(tmp_path: Path) -> None:
    """Files deleted while the bot is idle: the next look at the files (each heartbeat, each
    /healthz) finds it, before anyone's update is lost."""
    database = tmp_path / "bot.db"
    db = Database(database)
    await db.open()
    try:
        assert db.health() is None
        replace_with_a_copy(database)
        problem = db.health()
        assert problem is not None and "replaced" in problem
        with pytest.raises(WriteFailed, match="replaced"):
            await db.execute("CREATE TABLE t (x)")
    finally:
        await db.close()


def immutable_works(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.write_text("x")
    if shutil.which("chattr") is None:
        return False
    made = subprocess.run(["chattr", "+i", str(probe)], capture_output=True, check=False)
    if made.returncode != 0:
        return False
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    return True


def truncate_shm(database: Path) -> None:
    os.truncate(f"{database}-shm", 0)


def make_shm_immutable(database: Path) -> None:
    subprocess.run(["chattr", "+i", f"{database}-shm"], check=True)


def mutable_again(database: Path) -> None:
    subprocess.run(["chattr", "-i", f"{database}-shm"], check=False)


@pytest.mark.parametrize("damage", [truncate_shm, make_shm_immutable])
async def test_a_shared_memory_file_pulled_away_is_not_a_sigbus(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    """SQLite maps the -shm file; truncated or made immutable (``chattr +i``: "read-only" for
    root too), the next statement used to kill the bot with SIGBUS and an empty log."""
    if damage is make_shm_immutable and not immutable_works(tmp_path):
        pytest.skip("chattr +i is not permitted here (needs CAP_LINUX_IMMUTABLE and ext4/xfs)")
    database = tmp_path / "data" / "bot.db"
    database.parent.mkdir()
    async with FakeTelegram(bot_username="plan_test_bot") as fake:
        ada = fake.add_user(ADMIN_ID, "Ada", started=True)
        dm = fake.private_chat(ada)
        async with bot_process(fake, database, tmp_path / "bot.log") as bot:
            try:
                await until(lambda: fake.requests["getUpdates"] > 0, "polling", timeout=20, bot=bot)
                await fake.send(ada, dm, "/update 1 进行中 10%")
                assert RECORDED in (await fake.replies(dm))[-1].text
                damage(database)

                await fake.send(ada, dm, "/update 1 进行中 20%")
                answer = (await fake.replies(dm, timeout=10))[-1].text

                assert bot.process.returncode is None, bot.text()[-2000:]
                assert UNAVAILABLE in answer or NOT_RECORDED in answer, answer
                assert RECORDED not in answer
                log = bot.text()
                assert f"ERROR handlers.errors: error {answer_id(answer)}" in log
                assert f"ERROR bot.app: database {database}" in log
                assert report_path(database).read_text(encoding="utf-8").startswith("database")
                if damage is truncate_shm:
                    code, _ = await bot.terminate()
                    assert code == 0, bot.text()[-2000:]
            finally:
                if damage is make_shm_immutable:
                    mutable_again(database)
