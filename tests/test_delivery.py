"""The outbox sender against the fake Telegram: limits, refusals, migrations, crashes, order."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.app import build_application
from bot.context import BotApplication
from bot.delivery import OutboxSender, SenderOptions
from bot.faketelegram import FakeChat, FakeTelegram, RateLimits
from bot.i18n import Markup
from bot.render.outgoing import Outgoing
from storage import Storage
from storage.outbox import OutboxItem
from storage.subscriptions import Follow
from tests import rows
from tests.conftest import PLAN_YEAR, FakeClock
from tests.harness import ADMIN_ID, BOT_USERNAME, TEST_INBOX, running_bot, settings_for, started

Condition = Callable[[], bool | Awaitable[bool]]
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082"
)
"""A 1x1 PNG."""


async def until(condition: Condition, what: str, *, within: float = 15.0) -> None:
    """Wait for ``condition`` with a deadline, looking every few milliseconds."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def bot_on(
    fake: FakeTelegram, tmp_path: Path, options: SenderOptions | None = None
) -> AsyncIterator[BotApplication]:
    """The real application on an existing fake and database (so it can be started again)."""
    app = build_application(settings_for(fake, tmp_path, bot_admins=frozenset({ADMIN_ID})))
    app.bot_data.inbox_options = TEST_INBOX
    if options is not None:
        app.bot_data.sender_options = options
    async with started(app):
        yield app


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A fake Telegram that outlives one application (for restarts)."""
    async with FakeTelegram(bot_username=BOT_USERNAME) as server:
        yield server


def parts(app: BotApplication) -> tuple[Storage, OutboxSender]:
    """The live storage and the running sender of an application."""
    storage, sender = app.bot_data.storage, app.bot_data.sender
    assert storage is not None and sender is not None and sender.running
    return storage, sender


async def world(fake: FakeTelegram, storage: Storage, count: int) -> list[FakeChat]:
    """``count`` chats the bot knows: two private chats for every (basic) group."""
    chats = []
    for i in range(count):
        user = fake.add_user(1000 + i, f"U{i}", started=True)
        if i % 3 == 2:
            chat = fake.add_group(-(500 + i), f"G{i}", members=[user])
            await storage.chats.seen(chat.id, type="group", title=f"G{i}")
        else:
            chat = fake.private_chat(user)
            await storage.chats.seen(chat.id, type="private", title=f"U{i}")
        chats.append(chat)
    return chats


async def owe(storage: Storage, chat_id: int, label: str) -> int:
    """Enqueue a finished text for a chat, as a feature would."""
    item = await rows.owe(
        storage, chat_id, "text", {"text": f"<b>{label}</b>"}, dedup_key=f"test:{chat_id}:{label}"
    )
    assert item is not None
    return item


def texts(fake: FakeTelegram, chat: FakeChat) -> list[str]:
    """What the chat shows from the bot, oldest first (a repeat would show twice)."""
    return [message.text or "" for message in fake.bot_messages(chat)]


def all_sent(storage: Storage, total: int) -> Callable[[], Awaitable[bool]]:
    """True once the outbox holds ``total`` rows and every one was sent."""

    async def check() -> bool:
        return await storage.outbox.counts() == {"sent": total}

    return check


def settled(storage: Storage, expected: dict[int, str]) -> Callable[[], Awaitable[bool]]:
    """True once each row is in the expected state (the fake shows a message before that)."""

    async def check() -> bool:
        return all([await rows.outbox_state(storage, i) == state for i, state in expected.items()])

    return check


def in_flight(fake: FakeTelegram, *chats: FakeChat) -> Callable[[], bool]:
    """True while the fake holds a request to each of ``chats``."""
    return lambda: all(fake.chat(chat.id).activity.in_flight == 1 for chat in chats)


# --- end to end -------------------------------------------------------------------------------


async def test_fan_out_keeps_limits_and_survives_429_500_and_lost_requests(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    fake.enable_rate_limits(
        RateLimits(global_per_second=30, private_per_second=1, private_burst=3, group_per_minute=20)
    )
    async with bot_on(fake, tmp_path, SenderOptions(read_timeout=0.5)) as app:
        storage, sender = parts(app)
        chats = await world(fake, storage, 30)
        flooded, failing, lost = chats[0:2], chats[2:4], chats[4:6]
        for chat in flooded:
            fake.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=chat.id)
        for chat in failing:
            fake.fail_next("sendMessage", error_code=500, chat_id=chat.id)
        for chat in lost:  # held longer than the sender's 0.5 s timeout, then dropped
            fake.delay("sendMessage", 2.0, count=1, chat_id=chat.id, process=False)
        items = [await owe(storage, chat.id, f"n{i}") for i, chat in enumerate(chats)]
        sender.wake()

        await until(all_sent(storage, 30), "every row sent")
        for i, chat in enumerate(chats):
            assert texts(fake, chat) == [f"n{i}"]
        assert fake.rejections == []  # the sender itself never broke a flood limit
        fired = [fault.description for fault in fake.faults]
        assert sum("Too Many Requests" in text for text in fired) == 2
        assert fired.count("Internal Server Error") == 2
        attempts = [(await storage.outbox.get(item)).attempts for item in items]  # type: ignore[union-attr]
        assert attempts == [2] * 6 + [1] * 24


async def test_an_answer_cuts_in_line_during_a_fan_out_and_nothing_is_refused(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as h:
        h.fake.enable_rate_limits(RateLimits())
        storage, sender = parts(h.app)
        chats = await world(h.fake, storage, 90)
        for i, chat in enumerate(chats):
            await owe(storage, chat.id, f"n{i}")
        sender.wake()
        await until(lambda: len(h.fake.bot_messages(chats[0])) == 1, "the fan-out is under way")

        askers = [h.user(70 + i, f"Asker {i}") for i in range(10)]
        answers = await asyncio.gather(*(h.ask(p, c, "/help") for p, c in askers))

        assert all(answers)  # answered while most of the fan-out still waits its turn
        assert (await storage.outbox.counts()).get("pending", 0) > 20
        await until(all_sent(storage, 90), "every row sent")
        assert h.fake.rejections == []  # answers and fan-out together kept Telegram's limits


async def test_blocked_user_is_refused_once_and_left_alone(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        storage, sender = parts(h.app)
        blocker, blocked_chat = h.user(21, "Blocker")
        _, other = h.user(22, "Other")
        _, third = h.user(23, "Third")
        for chat in (blocked_chat, other, third):
            await storage.chats.seen(chat.id, type="private", title=str(chat.id))
        first = await owe(storage, blocked_chat.id, "n0")
        others = [await owe(storage, other.id, "n1"), await owe(storage, third.id, "n2")]
        second = await owe(storage, blocked_chat.id, "n3")
        h.fake.delay("sendMessage", 0.3, count=1, chat_id=blocked_chat.id)
        sender.wake()
        await until(in_flight(h.fake, blocked_chat), "the send to the blocker is under way")
        # The held request is carried out after the block: 403. The bot is not told otherwise,
        # as when Telegram's my_chat_member update is lost or late.
        h.fake.block(blocker, notify=False)

        async def given_up() -> bool:
            known = await storage.chats.get(blocked_chat.id)
            return known is not None and not known.active

        expected = {first: "failed", second: "failed"} | dict.fromkeys(others, "sent")
        await until(settled(storage, expected), "the blocked chat's rows failed, others sent")
        await until(given_up, "the blocked chat marked inactive")
        later = await owe(storage, blocked_chat.id, "n4")
        after = await owe(storage, other.id, "n5")
        sender.wake()
        await until(settled(storage, {after: "sent"}), "the other chat's next row")
        assert texts(h.fake, other) == ["n1", "n5"]
        assert await rows.outbox_state(storage, later) == "pending"
        refusals = [r for r in h.fake.rejections if r.chat_id == blocked_chat.id]
        assert [r.description for r in refusals] == ["Forbidden: bot was blocked by the user"]
        assert h.fake.bot_messages(blocked_chat) == []


async def test_a_block_the_bot_is_told_of_stops_sending_without_a_refusal(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        storage, sender = parts(h.app)
        blocker, chat = h.user(21, "Blocker")
        await storage.chats.seen(chat.id, type="private", title="x")
        owed = await owe(storage, chat.id, "n0")
        h.fake.block(blocker)  # with the my_chat_member update, before the sender tries

        async def given_up() -> bool:
            known = await storage.chats.get(chat.id)
            return known is not None and not known.active

        await until(given_up, "the chat marked inactive from the update")
        sender.wake()
        await until(settled(storage, {owed: "failed"}), "what it was owed given up")
        assert [r for r in h.fake.rejections if r.chat_id == chat.id] == []


async def test_migrated_group_is_followed_to_its_new_id(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        storage, sender = parts(h.app)
        owner, _ = h.user(31, "Owner")
        group = h.fake.add_group(-4242, "Dept group", members=[owner])
        await storage.chats.seen(group.id, type="group", title="Dept group")
        dept = h.app.bot_data.plan.departments[0].code  # type: ignore[union-attr]
        await storage.chats.bind(group.id, dept, by=ADMIN_ID)
        await storage.subscriptions.add(group.id, Follow.TASK, "12", by=ADMIN_ID)
        await storage.subscriptions.add(group.id, Follow.ALL, "*", by=ADMIN_ID)
        rows = [await owe(storage, group.id, f"n{i}") for i in range(2)]
        h.fake.delay("sendMessage", 0.3, count=1, chat_id=group.id)
        sender.wake()
        await until(in_flight(h.fake, group), "the send to the group is under way")
        supergroup = h.fake.upgrade(group)  # the held request is carried out after: 400 migrate

        await until(settled(storage, dict.fromkeys(rows, "sent")), "both rows sent")
        await h.fake.idle()  # the bot has also seen the upgrade's service messages
        assert texts(h.fake, supergroup) == ["n0", "n1"]
        moved = await storage.chats.get(supergroup.id)
        assert moved is not None and moved.type == "supergroup" and moved.binding == dept
        assert await storage.chats.get(group.id) is None
        assert {(s.kind, s.target) for s in await storage.subscriptions.of_chat(supergroup.id)} == {
            (Follow.TASK, "12"),
            (Follow.ALL, "*"),
        }
        later = await owe(storage, supergroup.id, "n2")
        sender.wake()
        await until(settled(storage, {later: "sent"}), "the later row")
        assert texts(h.fake, supergroup) == ["n0", "n1", "n2"]
        assert texts(h.fake, group) == []
        old_refusals = [r for r in h.fake.rejections if r.chat_id == group.id]
        assert len(old_refusals) == 1 and "upgraded to a supergroup" in old_refusals[0].description


async def test_crash_mid_fan_out_loses_and_repeats_nothing(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    held = slice(4, 8)
    async with bot_on(fake, tmp_path, SenderOptions(concurrency=4, read_timeout=30)) as app:
        storage, sender = parts(app)
        chats = await world(fake, storage, 30)
        for chat in chats[held]:  # these requests never reach Telegram's handling
            fake.delay("sendMessage", 60, count=1, chat_id=chat.id, process=False)
        for i, chat in enumerate(chats):
            await owe(storage, chat.id, f"n{i}")
        sender.wake()
        await until(in_flight(fake, *chats[held]), "every slot held by a lost request")
        await sender.stop(grace=0)  # a crash: the held sends are abandoned mid-request
        assert await storage.outbox.counts() == {"sent": 4, "sending": 4, "pending": 22}
    assert sum(len(texts(fake, chat)) for chat in chats) == 4

    async with bot_on(fake, tmp_path) as app:  # the same database and the same Telegram
        storage, _ = parts(app)
        await until(all_sent(storage, 30), "the rest of the fan-out after the restart")
        for i, chat in enumerate(chats):
            assert texts(fake, chat) == [f"n{i}"]


async def test_rows_of_one_chat_arrive_in_id_order_even_after_a_failure(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        storage, sender = parts(h.app)
        _, chat = h.user(41, "Ann")
        await storage.chats.seen(chat.id, type="private", title="Ann")
        h.fake.fail_next("sendMessage", error_code=500, chat_id=chat.id)  # the first one fails
        for i in range(3):
            await owe(storage, chat.id, f"n{i}")
        sender.wake()
        await until(all_sent(storage, 3), "all three rows sent")
        assert texts(h.fake, chat) == ["n0", "n1", "n2"]
        assert h.fake.faults[0].description == "Internal Server Error"


async def test_a_refused_message_fails_alone(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        storage, sender = parts(h.app)
        _, chat = h.user(51, "Bo")
        await storage.chats.seen(chat.id, type="private", title="Bo")
        broken = await rows.owe(storage, chat.id, "text", {"text": "<b>unclosed"})
        # A row of a kind this version does not know (left by a newer one): written as is.
        now = storage.db.now()
        unknown = await storage.db.write(
            lambda conn: (
                conn.execute(
                    "INSERT INTO outbox (chat_id, kind, payload, not_before, created_at)"
                    " VALUES (?, 'no-such-kind', '{}', ?, ?)",
                    (chat.id, now, now),
                ).lastrowid
            )
        )
        fine = await owe(storage, chat.id, "fine")
        assert broken is not None and unknown is not None
        sender.wake()
        expected = {broken: "failed", unknown: "failed", fine: "sent"}
        await until(settled(storage, expected), "each row's outcome")
        assert texts(h.fake, chat) == ["fine"]
        found = await storage.chats.get(chat.id)
        assert found is not None and found.active


async def test_unknown_chat_is_marked_inactive(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        storage, sender = parts(h.app)
        await storage.chats.seen(424242, type="private", title="gone")  # Telegram has no such chat
        rows = [await owe(storage, 424242, f"n{i}") for i in range(2)]
        sender.wake()
        await until(settled(storage, dict.fromkeys(rows, "failed")), "the rows given up")
        known = await storage.chats.get(424242)
        assert known is not None and not known.active
        refusals = [r.description for r in h.fake.rejections if r.chat_id == 424242]
        assert refusals == ["Bad Request: chat not found"]


async def test_a_timeout_after_telegram_acted_repeats_the_message(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """The documented price of losing nothing: an answer that came too late is sent again."""
    async with bot_on(fake, tmp_path, SenderOptions(read_timeout=0.3)) as app:
        storage, sender = parts(app)
        (chat,) = await world(fake, storage, 1)
        fake.delay("sendMessage", 0.6, count=1, chat_id=chat.id)  # carried out, but too late
        row = await owe(storage, chat.id, "n0")
        sender.wake()
        await until(settled(storage, {row: "sent"}), "the retried row")
        await fake.idle()
        assert texts(fake, chat) == ["n0", "n0"]


async def test_photo_and_keyboard_go_along_and_the_task_shown_is_remembered(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        storage, running = parts(h.app)
        await running.stop()  # a sender with a renderer of our own takes over the queue
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Done", callback_data="x:1")]])

        async def render(item: OutboxItem) -> Outgoing:
            photo = PNG if item.payload["text"] == "<b>chart</b>" else None
            return Outgoing(Markup(item.payload["text"]), keyboard, task=12, photo=photo)

        sender = OutboxSender(h.app.bot, storage, render)
        await sender.start()
        try:
            _, chat = h.user(61, "Cy")
            await storage.chats.seen(chat.id, type="private", title="Cy")
            rows = [await owe(storage, chat.id, "card"), await owe(storage, chat.id, "chart")]
            sender.wake()
            await until(settled(storage, dict.fromkeys(rows, "sent")), "the card and the chart")
        finally:
            await sender.stop()
        card, chart = h.fake.bot_messages(chat)
        assert (card.text, card.photo) == ("card", None)
        assert (chart.caption, chart.photo) == ("chart", PNG)
        for message in (card, chart):
            assert message.reply_markup == keyboard.to_dict()
            assert await storage.message_tasks.task_of(chat.id, message.message_id) == (
                PLAN_YEAR,
                12,
            )


async def test_stop_finishes_the_send_in_flight_and_starts_nothing_new(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    async with bot_on(fake, tmp_path, SenderOptions(poll_interval=60)) as app:
        storage, sender = parts(app)
        chats = await world(fake, storage, 2)
        first = await owe(storage, chats[0].id, "n0")
        sender.wake()  # the next poll is a minute away: only wake() can start this now
        await until(settled(storage, {first: "sent"}), "the woken send", within=3)
        fake.delay("sendMessage", 0.5, count=1, chat_id=chats[1].id)
        held = await owe(storage, chats[1].id, "n1")
        sender.wake()
        await until(in_flight(fake, chats[1]), "the held send")
        rest = [await owe(storage, chats[0].id, "n2"), await owe(storage, chats[1].id, "n3")]

        await sender.stop()
        assert not sender.running and sender.in_flight == 0
        assert await rows.outbox_state(storage, first) == "sent"
        assert await rows.outbox_state(storage, held) == "sent"
        assert [await rows.outbox_state(storage, row) for row in rest] == ["pending", "pending"]
        assert texts(fake, chats[1]) == ["n1"]
        await sender.stop()  # again: nothing happens
        leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("outbox")]
        assert leftovers == []


# --- the storage pieces ---------------------------------------------------------------------

A, B, C = 101, 102, -103


async def _three_chats(storage: Storage) -> None:
    await storage.chats.seen(A, type="private", title="A")
    await storage.chats.seen(B, type="private", title="B")
    await storage.chats.seen(C, type="group", title="C")


async def test_next_per_chat_skips_inactive_chats(storage: Storage) -> None:
    await _three_chats(storage)
    a = await rows.owe(storage, A, "text", {"text": "a"})
    b = await rows.owe(storage, B, "text", {"text": "b"})
    await storage.chats.set_active(A, False, reason="blocked")
    later = await rows.owe(storage, A, "text", {"text": "owed while inactive"})
    assert [i.id for i in await storage.outbox.next_per_chat()] == [b]
    await storage.chats.set_active(A, True)
    assert await rows.outbox_state(storage, a) == "failed", "given up when the chat went inactive"
    assert [i.id for i in await storage.outbox.next_per_chat()] == [b, later]


async def test_next_per_chat_offers_one_row_per_chat_in_id_order(
    storage: Storage, clock: FakeClock
) -> None:
    await _three_chats(storage)
    a1 = await rows.owe(storage, A, "text", {"text": "a1"})
    b1 = await rows.owe(storage, B, "text", {"text": "b1"})
    a2 = await rows.owe(storage, A, "text", {"text": "a2"})
    scheduled = await rows.owe(
        storage, C, "text", {"text": "c1"}, not_before=clock.now + timedelta(hours=1)
    )
    c2 = await rows.owe(storage, C, "text", {"text": "c2"})
    assert scheduled is not None and a1 is not None

    async def offered() -> list[int | None]:
        return [item.id for item in await storage.outbox.next_per_chat()]

    assert await offered() == [a1, b1, c2]  # a scheduled row does not hold up the chat
    assert await storage.outbox.mark_sending(a1)
    assert await offered() == [b1, c2]  # a2 waits while a1 is in flight
    await storage.outbox.retry_later(a1, not_before=clock.now + timedelta(seconds=30), error="x")
    assert await offered() == [b1, c2]  # ... and while a1 waits out its retry
    clock.advance(seconds=30)
    assert await offered() == [b1, c2, a1]
    assert await storage.outbox.mark_sending(a1)
    await storage.outbox.mark_sent(a1, message_id=1)
    assert await offered() == [b1, a2, c2]  # same not_before (a frozen clock): id order


async def test_requeue_sending_puts_back_only_interrupted_rows(storage: Storage) -> None:
    await _three_chats(storage)
    interrupted = await rows.owe(storage, A, "text", {"text": "x"})
    sent = await rows.owe(storage, B, "text", {"text": "y"})
    waiting = await rows.owe(storage, C, "text", {"text": "z"})
    assert interrupted is not None and sent is not None and waiting is not None
    for item in (interrupted, sent):
        assert await storage.outbox.mark_sending(item)
    await storage.outbox.mark_sent(sent, message_id=7)
    assert await storage.outbox.requeue_sending() == 1
    assert await rows.outbox_state(storage, interrupted) == "pending"
    assert await rows.outbox_state(storage, sent) == "sent"
    assert await rows.outbox_state(storage, waiting) == "pending"
    assert await storage.outbox.requeue_sending() == 0
