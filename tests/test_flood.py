"""The bot's one flood allowance: answers first, the outbox with the rest, never over the limits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.flood import Bucket, FloodControl, Limits, SharedRateLimiter, chat_named


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


LIMITS = Limits(
    per_second=10, overall_burst=5, private_per_second=1, group_per_minute=20, group_reserve=5
)


def test_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = Bucket(rate=1.0, capacity=3, now=0.0)
    for _ in range(3):
        assert bucket.wait(0.0) == 0
        bucket.take(0.0)
    assert bucket.wait(0.0) == pytest.approx(1.0)
    assert bucket.wait(0.5) == pytest.approx(0.5)
    assert bucket.wait(1.0) == 0
    assert not bucket.full(1.0) and bucket.full(10.0)


def test_bucket_can_keep_tokens_back() -> None:
    bucket = Bucket(rate=2.0, capacity=4, now=0.0)
    assert bucket.wait(0.0, keep=3) == 0
    bucket.take(0.0)
    assert bucket.wait(0.0, keep=3) == pytest.approx(0.5)  # 3 left: one more needed for 3 + 1


def test_the_outbox_spends_the_whole_allowance_when_nobody_is_answered() -> None:
    clock = Clock()
    flood = FloodControl(LIMITS, clock)
    sent = 0
    for chat in range(1, 6):
        assert flood.outbox_overall_wait(clock.now) == 0
        flood.outbox_take(chat, clock.now)
        sent += 1
    assert sent == LIMITS.overall_burst
    assert flood.outbox_overall_wait(clock.now) == pytest.approx(0.1)
    clock.now += 0.1
    assert flood.outbox_overall_wait(clock.now) == 0


async def test_a_waiting_answer_goes_before_the_outbox() -> None:
    clock = Clock()
    flood = FloodControl(LIMITS, clock)
    for chat in range(1, 6):
        flood.outbox_take(chat, clock.now)  # the allowance is spent
    answer = asyncio.create_task(flood.answer(42))
    await asyncio.sleep(0)
    assert not answer.done()
    clock.now += 0.1  # one send's worth comes back: it is the answer's
    assert flood.outbox_overall_wait(clock.now) > 0
    await asyncio.wait_for(answer, 1)
    assert flood.outbox_overall_wait(clock.now) > 0  # and the answer spent it


async def test_in_a_group_the_outbox_leaves_a_few_of_the_minute_to_the_answers() -> None:
    clock = Clock()
    flood = FloodControl(LIMITS, clock)
    group = -500
    for _ in range(15):
        assert flood.outbox_chat_wait(group, clock.now) == 0
        flood.outbox_take(group, clock.now)
        clock.now += 0.1  # the overall allowance is not what this test is about
    # 5.5 tokens left after 1.5 s at 20 a minute: the sixth for itself comes in 1.5 s
    assert flood.outbox_chat_wait(group, clock.now) == pytest.approx(1.5)
    for _ in range(5):  # the five left are the answers'
        await asyncio.wait_for(flood.answer(group), 1)
        clock.now += 0.1


async def test_answers_in_a_group_keep_to_its_minute_and_hold_the_outbox_back() -> None:
    clock = Clock()
    flood = FloodControl(Limits(per_second=100, overall_burst=100), clock)
    group = -500
    for _ in range(20):
        await asyncio.wait_for(flood.answer(group), 1)
    twenty_first = asyncio.create_task(flood.answer(group))
    await asyncio.sleep(0.01)
    assert not twenty_first.done()  # the group's minute is spent
    assert flood.outbox_chat_wait(group, clock.now) > 3.0
    assert flood.outbox_overall_wait(clock.now) == 0  # nobody else is held up
    twenty_first.cancel()


async def test_an_answer_in_a_private_chat_never_waits_but_the_outbox_does() -> None:
    clock = Clock()
    flood = FloodControl(LIMITS, clock)
    for _ in range(4):
        await asyncio.wait_for(flood.answer(7), 1)
        clock.now += 0.1  # the overall allowance is not what this test is about
    assert flood.outbox_chat_wait(7, clock.now) == pytest.approx(2.6)  # 2 - 4 + 0.4 tokens


def test_a_hold_stops_everything_until_it_ends() -> None:
    clock = Clock()
    flood = FloodControl(LIMITS, clock)
    flood.hold(2.0)
    assert flood.outbox_overall_wait(clock.now) == pytest.approx(2.0)
    flood.hold(1.0)  # a shorter hold never shortens the one on
    assert flood.held(clock.now) == pytest.approx(2.0)
    clock.now += 2.0
    assert flood.outbox_overall_wait(clock.now) == 0


def test_a_request_names_a_chat_by_number_or_by_name() -> None:
    assert chat_named({"chat_id": -100123}) == (True, -100123)
    assert chat_named({"chat_id": "42"}) == (True, 42)
    assert chat_named({"chat_id": "@channel"}) == (True, None)
    assert chat_named({"callback_query_id": "1"}) == (False, None)


async def test_a_429_holds_every_request_then_the_request_is_tried_again() -> None:
    flood = FloodControl(LIMITS)
    limiter = SharedRateLimiter(flood, max_retries=1)
    calls: list[float] = []

    async def flooded_once() -> dict[str, Any]:
        calls.append(flood.now())
        if len(calls) == 1:
            raise RetryAfter(0)
        return {"ok": True}

    result = await limiter.process_request(
        flooded_once, (), {}, "sendMessage", {"chat_id": 1}, None
    )
    assert result == {"ok": True} and len(calls) == 2
    assert calls[1] - calls[0] >= 0.1  # waited out the hold (retry_after + 0.1 s)


async def test_a_429_beyond_the_retries_reaches_the_caller() -> None:
    limiter = SharedRateLimiter(FloodControl(LIMITS), max_retries=0)

    async def always_flooded() -> dict[str, Any]:
        raise RetryAfter(0)

    with pytest.raises(RetryAfter):
        await limiter.process_request(always_flooded, (), {}, "sendMessage", {"chat_id": 1}, None)
