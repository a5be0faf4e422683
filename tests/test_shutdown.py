"""SIGTERM in the middle of a fan-out: the bot finishes what is in hand, exits 0 within seconds,
and leaves the outbox so that the next start delivers the rest, nothing lost, nothing twice."""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

from bot.faketelegram import FakeChat, FakeTelegram
from storage import Storage
from storage.subscriptions import Follow
from tests.botprocess import ADMIN_ID, bot_process, until
from tests.conftest import PLAN_YEAR

FOLLOWERS = range(101, 131)
"""Thirty people whose private chats follow task 1."""
SEND_DELAY = 0.5
"""Seconds each sendMessage takes at the fake, so that the fan-out lasts a few seconds."""
STOP_WITHIN = 5.0


async def followers(database: Path) -> None:
    """Before the bot starts: every follower's chat follows task 1 (and wants no digest, which
    would add a message of its own)."""
    storage = Storage(database)
    await storage.open(plan_year=PLAN_YEAR)
    try:
        for chat_id in FOLLOWERS:
            await storage.chats.seen(chat_id, type="private", title=f"P{chat_id}")
            await storage.subscriptions.add(chat_id, Follow.TASK, "1", by=ADMIN_ID)
            await storage.digests.save(chat_id, enabled=False)
    finally:
        await storage.close()


def outbox(database: Path) -> dict[int, str]:
    """Each follower's notification row: chat id → state."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT chat_id, state FROM outbox ORDER BY id").fetchall()
    assert len(rows) == len({chat for chat, _ in rows}), "a chat is owed two notifications"
    return dict(rows)


def received(fake: FakeTelegram, chats: list[FakeChat]) -> Counter[int]:
    """How many messages the bot has sent to each follower."""
    return Counter({chat.id: len(fake.bot_messages(chat)) for chat in chats})


async def test_sigterm_mid_fan_out_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    await followers(database)
    async with FakeTelegram(bot_username="plan_test_bot") as fake:
        admin = fake.add_user(ADMIN_ID, "Ada", started=True)
        admin_dm = fake.private_chat(admin)
        chats = [fake.private_chat(fake.add_user(i, f"P{i}", started=True)) for i in FOLLOWERS]
        fake.delay("sendMessage", SEND_DELAY)

        async with bot_process(fake, database, tmp_path / "first.log") as bot:
            await until(lambda: fake.requests["getUpdates"] > 0, "polling", timeout=15, bot=bot)
            await fake.send(admin, admin_dm, "/update 1 进行中 50% 开始推进")
            await until(
                lambda: sum(received(fake, chats).values()) >= 3, "the fan-out began", bot=bot
            )
            code, seconds = await bot.terminate()
        first = received(fake, chats)

        assert code == 0, bot.text()[-3000:]
        assert seconds < STOP_WITHIN
        # The update in hand was finished: its author got the confirmation.
        assert any("已记录" in m.text for m in fake.bot_messages(admin_dm))
        states = outbox(database)
        assert sorted(states) == list(FOLLOWERS)
        assert set(states.values()) <= {"sent", "pending"}, states  # nothing left 'sending'
        sent = {chat for chat, state in states.items() if state == "sent"}
        assert 0 < len(sent) < len(FOLLOWERS), "SIGTERM did not land mid-fan-out"
        assert max(first.values()) == 1
        assert {chat for chat, n in first.items() if n} == sent  # sent is what Telegram has

        fake.clear_faults()
        async with bot_process(fake, database, tmp_path / "second.log") as bot:
            await until(
                lambda: min(received(fake, chats).values()) >= 1, "every follower notified",
                bot=bot,
            )  # fmt: skip
            code, _ = await bot.terminate()

        assert code == 0, bot.text()[-3000:]
        assert set(received(fake, chats).values()) == {1}
        assert set(outbox(database).values()) == {"sent"}
        assert not fake.rejections
