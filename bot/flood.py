"""Telegram's flood limits, kept once for the whole bot: answers first, the outbox with the rest.

Telegram allows a bot about 30 messages a second overall, 20 a minute in a group and about one a
second in a private chat, whoever sends them. The handlers' answers (through PTB's rate-limiter
hook, :class:`SharedRateLimiter`) and the outbox's notifications (``bot.delivery``) spend the
same :class:`FloodControl`. An answer waits only for the overall allowance and its group's; the
outbox sends only when no answer is waiting and leaves a few of a group's minute to the people
in it. So a fan-out runs at the full rate while nobody talks to the bot, a person's answer cuts in
line during one, and the two together never exceed what Telegram allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

Monotonic = Callable[[], float]
EPSILON = 1e-9
"""Tokens a bucket may lack and still allow a send: refills are sums of floats."""


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits as the bot keeps them."""

    per_second: float = 29.0
    """Messages a second overall: Telegram's 30, less one for clocks that disagree."""
    overall_burst: float = 24.0
    """Messages at once after a quiet spell: under a second's worth, so that requests bunched up
    on the way still find room in Telegram's own allowance."""
    private_per_second: float = 1.0
    group_per_minute: float = 20.0
    burst: int = 2
    """Messages the outbox sends a private chat at once before the chat's rate applies. Telegram
    tolerates about 3; one less keeps a margin."""
    group_reserve: int = 5
    """Of a group's minute, messages the outbox leaves to the answers to the people in it."""


class Bucket:
    """Token bucket on the monotonic clock: ``capacity`` sends at once, ``rate`` a second after."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        """Credit the time since the last look."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self, now: float, keep: float = 0.0) -> float:
        """Seconds until a send is allowed that leaves ``keep`` tokens behind (0: now)."""
        self._refill(now)
        short = 1 + keep - self.tokens
        return 0.0 if short <= EPSILON else short / self.rate

    def take(self, now: float) -> None:
        """Spend one send (an answer may overdraw a private chat's bucket: the outbox waits)."""
        self._refill(now)
        self.tokens -= 1

    def full(self, now: float) -> bool:
        """Unused for so long that forgetting it changes nothing."""
        self._refill(now)
        return self.tokens >= self.capacity


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, whatever PTB's ``PTB_TIMEDELTA`` setting."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class FloodControl:
    """The bot's one flood allowance: overall, per group and per private chat."""

    FORGET_AFTER = 4096
    """Chats remembered before those with a full bucket are forgotten."""

    def __init__(self, limits: Limits | None = None, clock: Monotonic = time.monotonic) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        now = clock()
        self._overall = Bucket(self.limits.per_second, self.limits.overall_burst, now)
        self._chats: dict[int, Bucket] = {}
        self._answers_waiting = 0
        self._answers_in_line = asyncio.Lock()
        self._hold_until = 0.0

    def now(self) -> float:
        return self._clock()

    # --- shared --------------------------------------------------------------------------------

    def hold(self, seconds: float) -> None:
        """Telegram said "too many requests" for the whole bot: nothing goes for ``seconds``."""
        self._hold_until = max(self._hold_until, self._clock() + seconds)

    def held(self, now: float) -> float:
        """Seconds left of a hold (0: none)."""
        return max(0.0, self._hold_until - now)

    def _chat(self, chat_id: int, now: float) -> Bucket:
        """The chat's bucket: a group's minute (negative ids), or a private chat's burst."""
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) > self.FORGET_AFTER:
                self._chats = {c: b for c, b in self._chats.items() if not b.full(now)}
            limits = self.limits
            if chat_id < 0:
                per_minute = limits.group_per_minute
                bucket = Bucket(per_minute / 60, per_minute, now)
            else:
                bucket = Bucket(limits.private_per_second, limits.burst, now)
            self._chats[chat_id] = bucket
        return bucket

    # --- answers -------------------------------------------------------------------------------

    async def answer(self, chat_id: int | None) -> None:
        """Wait until a request naming ``chat_id`` may go (``None``: a chat not known by number).

        In a group it waits for the group's minute first, on its own, so a busy group holds up
        nobody else; then in one line with every other answer for the overall allowance.
        """
        if chat_id is not None and chat_id < 0:
            group = await self._until_free(lambda now: self._chat(chat_id, now))
            group.take(self._clock())
        self._answers_waiting += 1
        try:
            async with self._answers_in_line:
                await self._until_free(lambda _now: self._overall)
                self._overall.take(self._clock())
        finally:
            self._answers_waiting -= 1
        if chat_id is not None and chat_id >= 0:
            # No wait in a private chat: a person asked. The outbox waits for the chat instead.
            self._chat(chat_id, self._clock()).take(self._clock())

    async def _until_free(self, bucket_at: Callable[[float], Bucket]) -> Bucket:
        """Sleep until no hold is on and the bucket has a send to spare; returns the bucket."""
        while True:
            now = self._clock()
            bucket = bucket_at(now)
            wait = max(self.held(now), bucket.wait(now))
            if wait <= 0:
                return bucket
            await asyncio.sleep(wait)

    async def unheld(self) -> None:
        """Sleep out a hold, if one is on (another 429 meanwhile may lengthen it)."""
        while True:
            wait = self.held(self._clock())
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    # --- the outbox ----------------------------------------------------------------------------

    def outbox_overall_wait(self, now: float) -> float:
        """Seconds until the outbox may send anything (0: now); waiting answers go first."""
        if held := self.held(now):
            return held
        if self._answers_waiting:
            return 1 / self.limits.per_second
        return self._overall.wait(now)

    def outbox_chat_wait(self, chat_id: int, now: float) -> float:
        """Seconds until the outbox may send to ``chat_id``; in a group it leaves the answers
        ``group_reserve`` of the minute."""
        keep = self.limits.group_reserve if chat_id < 0 else 0
        return self._chat(chat_id, now).wait(now, keep=keep)

    def outbox_take(self, chat_id: int, now: float) -> None:
        """The outbox sends one message to ``chat_id`` now."""
        self._overall.take(now)
        self._chat(chat_id, now).take(now)


def chat_named(data: dict[str, Any]) -> tuple[bool, int | None]:
    """Whether a request names a chat, and which by number (``None`` for ``@channel``)."""
    chat_id = data.get("chat_id")
    if chat_id is None:
        return False, None
    with contextlib.suppress(ValueError, TypeError):
        return True, int(chat_id)
    return True, None


class SharedRateLimiter(BaseRateLimiter[int]):
    """PTB's rate-limiter hook for every request but the outbox's: it spends ``flood``.

    Like PTB's ``AIORateLimiter``, every request that names a chat counts (edits too: Telegram
    does not say they are free), and a 429 holds every request, the outbox's included, for the
    time Telegram asked, then the request is tried again up to ``max_retries`` times.
    """

    def __init__(self, flood: FloodControl, max_retries: int = 3) -> None:
        self.flood = flood
        self._max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for the allowance, send, and wait out a 429 for everybody."""
        named, chat_id = chat_named(data)
        retries = self._max_retries if rate_limit_args is None else rate_limit_args
        attempt = 0
        while True:
            if named:
                await self.flood.answer(chat_id)
            elif attempt:
                await self.flood.unheld()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= retries:
                    log.warning("%s: flood control, gave up after %d retries", endpoint, retries)
                    raise
                attempt += 1
                seconds = retry_after_seconds(exc) + 0.1
                log.info("%s: flood control, every request waits %.1f s", endpoint, seconds)
                self.flood.hold(seconds)
