"""kill -9 with thirty notes on the way in: each is recorded exactly once and answered once.

The bot runs as a child process (``python -m bot run``). Thirty /note commands reach it at
once; the fake Telegram lets the first answer through and loses every later one (as a
connection dropped mid-request would), the bot is killed with SIGKILL once that first answer
is handled, and started again. Nothing Telegram handed over may be lost, nothing recorded twice,
and each note answered once: the answers lost with the crash are given by the second run, the
one that went through is not repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import httpx

from bot.faketelegram import BotEvent, FakeChat, FakeTelegram
from tests.botprocess import BotProcess, bot_process, until

NOTES = 30
ADMINS = (1, 2, 3)
"""Three people of the office, each sending ten notes in their own chat."""
ANSWER = re.compile(r"^已为任务 (\d+) 添加说明。")
SECRET = "crash-test-secret"


def note_of(i: int) -> tuple[int, str]:
    """The i-th note's task and command."""
    task = i + 1
    return task, f"/note {task} 第 {task} 条说明"


def recorded(database: Path) -> Counter[int]:
    """How many notes each task holds."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT task FROM status_updates WHERE kind = 'note'").fetchall()
    return Counter(task for (task,) in rows)


def handled(database: Path) -> int:
    """Updates the inbox has marked done."""
    if not database.exists():
        return 0
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        try:
            return int(
                conn.execute("SELECT count(*) FROM inbox WHERE state = 'done'").fetchone()[0]
            )
        except sqlite3.OperationalError:  # not created yet
            return 0


def answered(fake: FakeTelegram, chats: list[FakeChat]) -> Counter[int]:
    """How many times each task's note was confirmed to its author."""
    counts: Counter[int] = Counter()
    for chat in chats:
        for message in fake.bot_messages(chat):
            if match := ANSWER.match(message.text):
                counts[int(match.group(1))] += 1
    return counts


def lose_answers_after_the_first(fake: FakeTelegram) -> None:
    """Once the first answer is in, every later sendMessage is lost on the way (not carried
    out): the bot cannot know whether those reached Telegram."""

    def listener(event: BotEvent) -> None:
        if event.kind == "message" and ANSWER.match(event.message.text if event.message else ""):
            fake.delay("sendMessage", 60, process=False)
            unsubscribe()

    unsubscribe = fake.subscribe(listener)


async def kill_after_the_first_answer(
    bot: BotProcess, fake: FakeTelegram, chats: list[FakeChat], database: Path
) -> None:
    """SIGKILL once the first answer has arrived and the bot has had a moment to finish with
    it (marked done in the inbox, where there is one)."""
    await until(lambda: sum(answered(fake, chats).values()) >= 1, "the first answer", bot=bot)
    with contextlib.suppress(AssertionError):
        await until(lambda: handled(database) >= 1, "the first note marked done", timeout=2)
    bot.process.send_signal(signal.SIGKILL)
    await bot.process.wait()


async def restart_and_check(
    fake: FakeTelegram, database: Path, log: Path, chats: list[FakeChat], **env: str
) -> None:
    """The second run handles what the first left, and every note is there once."""
    fake.clear_faults()
    async with bot_process(fake, database, log, BOT_ADMINS="1,2,3", **env) as bot:
        await until(
            lambda: len(answered(fake, chats)) == NOTES, "every note answered", timeout=30, bot=bot
        )
        await asyncio.sleep(1.0)  # a repeated answer, if any, would come meanwhile
        code, _ = await bot.terminate()
    assert code == 0, bot.text()[-3000:]
    assert recorded(database) == Counter(range(1, NOTES + 1)), "each note recorded once"
    assert answered(fake, chats) == Counter(range(1, NOTES + 1)), "each note answered once"
    assert not fake.rejections


async def test_kill_9_while_polling_loses_nothing_and_records_nothing_twice(
    tmp_path: Path,
) -> None:
    database = tmp_path / "bot.db"
    async with FakeTelegram(bot_username="plan_test_bot") as fake:
        people = [fake.add_user(i, f"Admin{i}", started=True) for i in ADMINS]
        chats = [fake.private_chat(p) for p in people]
        async with bot_process(fake, database, tmp_path / "first.log", BOT_ADMINS="1,2,3") as bot:
            await until(lambda: fake.requests["getUpdates"] > 0, "polling", timeout=15, bot=bot)
            lose_answers_after_the_first(fake)
            for i in range(NOTES):
                _, command = note_of(i)
                await fake.send(people[i % 3], chats[i % 3], command)
            await kill_after_the_first_answer(bot, fake, chats, database)
        first = answered(fake, chats)
        assert sum(first.values()) == 1, first
        assert sum(recorded(database).values()) >= 1, "the kill came before anything was recorded"

        await restart_and_check(fake, database, tmp_path / "second.log", chats)


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_kill_9_in_webhook_mode_loses_nothing_answered_200(tmp_path: Path) -> None:
    database, port = tmp_path / "bot.db", free_port()
    env = {
        "WEBHOOK_URL": "https://bot.example.org/hook",
        "WEBHOOK_SECRET": SECRET,
        "PORT": str(port),
    }
    url = f"http://127.0.0.1:{port}/hook"
    async with FakeTelegram(bot_username="plan_test_bot") as fake:
        people = [fake.add_user(i, f"Admin{i}", started=True) for i in ADMINS]
        chats = [fake.private_chat(p) for p in people]
        updates = []
        for i in range(NOTES):
            _, command = note_of(i)
            message = await fake.send(people[i % 3], chats[i % 3], command)
            updates.append({"update_id": 1000 + i, "message": message.to_api()})
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        accepted: set[int] = set()

        async def post(client: httpx.AsyncClient, update: dict[str, object]) -> None:
            try:
                response = await client.post(url, json=update, headers=headers, timeout=10)
            except httpx.HTTPError:
                return  # the bot died with it in hand: Telegram would send it again
            if response.status_code == 200:
                accepted.add(int(str(update["update_id"])))

        async with bot_process(
            fake, database, tmp_path / "first.log", BOT_ADMINS="1,2,3", **env
        ) as bot:
            await until(lambda: bool(fake.webhook_url), "webhook set", timeout=15, bot=bot)
            await until(lambda: _listening(port), "listening", timeout=15, bot=bot)
            lose_answers_after_the_first(fake)
            async with httpx.AsyncClient() as client:
                posts = [asyncio.create_task(post(client, u)) for u in updates]
                await kill_after_the_first_answer(bot, fake, chats, database)
                await asyncio.gather(*posts)
        assert len(accepted) > 0, "nothing was accepted before the kill"
        assert sum(answered(fake, chats).values()) == 1

        # Telegram sends again what was not answered 200, once the bot is back.
        async def redeliver() -> None:
            await until(lambda: _listening(port), "listening again", timeout=15)
            async with httpx.AsyncClient() as client:
                for update in updates:
                    if int(str(update["update_id"])) not in accepted:
                        await post(client, update)

        redelivery = asyncio.create_task(redeliver())
        await restart_and_check(fake, database, tmp_path / "second.log", chats, **env)
        await redelivery


def _listening(port: int) -> bool:
    with closing(socket.socket()) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
