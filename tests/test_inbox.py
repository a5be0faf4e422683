"""The inbox: what arrives is on disk first, handled in order within a chat, and exactly once."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from bot.faketelegram import FakeTelegram
from bot.runner import inbox_of
from storage import Storage
from storage.inbox import chat_of
from tests import rows
from tests.conftest import PLAN_YEAR, FakeClock
from tests.harness import ADMIN_ID, BOT_USERNAME, bot_on, command_update


def admin_says(update_id: int, text: str) -> dict[str, object]:
    return command_update(update_id, text, user_id=ADMIN_ID, name="Ada")


def notes(database: Path) -> list[tuple[int, str]]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return conn.execute(
            "SELECT task, note FROM status_updates WHERE kind = 'note' ORDER BY id"
        ).fetchall()


async def test_an_update_handled_but_not_marked_records_nothing_twice(tmp_path: Path) -> None:
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        admin = fake.add_user(ADMIN_ID, "Ada", started=True)
        dm = fake.private_chat(admin)
        async with bot_on(fake, tmp_path) as bot:
            app = bot.app
            await fake.send(admin, dm, "/note 3 已与司法部沟通")
            (answer,) = await fake.replies(dm)
            assert answer.text.startswith("已为任务 3 添加说明。")
            storage = app.bot_data.storage
            assert storage is not None
            # A crash after the answer, before the update was marked done:
            await storage.db.execute("UPDATE inbox SET state = 'pending', handled_at = NULL")

        async with bot_on(fake, tmp_path):
            (again,) = await fake.replies(dm)

    assert again.text.startswith("已为任务 3 添加说明。"), "handled again: answered again"
    assert notes(tmp_path / "bot.db") == [(3, "已与司法部沟通")], "but recorded once"


async def test_what_a_stop_left_pending_is_handled_first_and_in_order(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        admin = fake.add_user(ADMIN_ID, "Ada", started=True)
        dm = fake.private_chat(admin)
        # Three notes written to the inbox by a run that stopped before handling them (and
        # confirmed to Telegram, which will not send them again).
        storage = Storage(database)
        await storage.open(plan_year=PLAN_YEAR)
        try:
            rows = [
                admin_says(500 + i, f"/note {task} 第{i}条")
                for i, task in enumerate((7, 8, 9), start=1)
            ]
            await storage.inbox.receive(list(reversed(rows)))  # arrival order does not matter
        finally:
            await storage.close()

        async with bot_on(fake, tmp_path):
            await fake.replies(dm, at_least=3)

    assert notes(database) == [(7, "第1条"), (8, "第2条"), (9, "第3条")]


async def test_an_update_delivered_twice_is_taken_once(tmp_path: Path) -> None:
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        admin = fake.add_user(ADMIN_ID, "Ada", started=True)
        dm = fake.private_chat(admin)
        async with bot_on(fake, tmp_path) as bot:
            app = bot.app
            message = await fake.send(admin, dm, "/note 5 只记一次")
            await fake.replies(dm)
            # Telegram sends it again (a webhook retry, a batch fetched again after a crash).
            await inbox_of(app).receive([{"update_id": 1, "message": message.to_api()}])
            with pytest.raises(TimeoutError):
                await fake.replies(dm, timeout=0.5)
    assert notes(tmp_path / "bot.db") == [(5, "只记一次")]


async def test_an_update_that_does_not_parse_is_kept_as_failed(tmp_path: Path) -> None:
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        admin = fake.add_user(ADMIN_ID, "Ada", started=True)
        dm = fake.private_chat(admin)
        async with bot_on(fake, tmp_path) as bot:
            app = bot.app
            await inbox_of(app).receive([{"update_id": 9000, "message": {"chat": "nonsense"}}])
            await fake.send(admin, dm, "/task 1")
            (card,) = await fake.replies(dm)
            assert card.text.startswith("任务 1 · ")
            storage = app.bot_data.storage
            assert storage is not None
            assert (await rows.inbox_states(storage)).get("failed") == 1


async def test_handled_rows_are_pruned_but_the_offset_is_kept(
    storage: Storage, clock: FakeClock
) -> None:
    await storage.inbox.receive([{"update_id": n, "message": {}} for n in (10, 11, 12)])
    for n in (10, 11, 12):
        await storage.inbox.done(n)
    clock.advance(days=3)
    assert await storage.inbox.prune(clock.now - timedelta(days=2)) == 2
    assert await storage.inbox.next_offset() == 13


@pytest.mark.parametrize(
    ("raw", "chat"),
    [
        ({"update_id": 1, "message": {"chat": {"id": -5}}}, -5),
        (
            {"update_id": 1, "callback_query": {"from": {"id": 7}, "message": {"chat": {"id": 8}}}},
            8,
        ),
        ({"update_id": 1, "callback_query": {"from": {"id": 7}}}, 7),
        ({"update_id": 1, "my_chat_member": {"chat": {"id": -9}}}, -9),
        ({"update_id": 1, "poll": {}}, None),
    ],
)
def test_the_chat_an_update_is_ordered_in(raw: dict[str, object], chat: int | None) -> None:
    assert chat_of(raw) == chat


async def test_a_mark_without_an_fsync_is_committed_and_the_next_write_is_durable_again(
    storage: Storage,
) -> None:
    """Marking an update handled skips the fsync (a power cut only has it handled again), but
    it is committed as any write, and every write after it waits for the disk again."""
    writer = storage.db.writer
    await storage.inbox.receive([{"update_id": 7, "message": {}}])
    await storage.inbox.done(7)
    with closing(sqlite3.connect(f"file:{storage.db.path}?mode=ro", uri=True)) as other:
        assert other.execute("SELECT state FROM inbox WHERE update_id = 7").fetchone() == ("done",)
    assert writer.execute("PRAGMA synchronous").fetchone()[0] == 2, "FULL again"

    def fails(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE inbox SET state = 'failed' WHERE update_id = 7")
        raise sqlite3.IntegrityError("refused")

    with pytest.raises(sqlite3.IntegrityError):
        await storage.db.write(fails, durable=False)
    assert writer.execute("PRAGMA synchronous").fetchone()[0] == 2, "FULL after a failure too"
    assert (await rows.inbox_states(storage)) == {"done": 1}, "rolled back whole"
