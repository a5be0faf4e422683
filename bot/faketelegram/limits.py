"""Telegram's flood limits (token buckets on a monotonic clock) and test-injected faults."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from bot.faketelegram.errors import ApiError, too_many_requests


@dataclass(frozen=True)
class RateLimits:
    """Limits as documented in the Bot FAQ; the private-chat burst stands in for Telegram's slack."""

    global_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0


@dataclass
class _Bucket:
    """Token bucket: ``capacity`` requests at once, refilled at ``rate`` per second."""

    capacity: float
    rate: float
    tokens: float
    stamp: float = field(default_factory=time.monotonic)

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_needed(self) -> float:
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class RateLimiter:
    """Counts sent messages overall and per chat; edits and callback answers are not counted."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._global = _Bucket(limits.global_per_second, limits.global_per_second, 0.0)
        self._global.tokens = self._global.capacity
        self._chats: dict[int, _Bucket] = {}

    def _chat_bucket(self, chat_id: int, is_group: bool) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if is_group:
                per_minute = self.limits.group_per_minute
                bucket = _Bucket(per_minute, per_minute / 60.0, per_minute)
            else:
                burst = float(self.limits.private_burst)
                bucket = _Bucket(burst, self.limits.private_per_second, burst)
            self._chats[chat_id] = bucket
        return bucket

    def check_send(self, chat_id: int, is_group: bool) -> None:
        """Consume one message from the global and the chat bucket, or raise 429."""
        now = time.monotonic()
        buckets = (self._global, self._chat_bucket(chat_id, is_group))
        for bucket in buckets:
            bucket.refill(now)
        wait = max(bucket.wait_needed() for bucket in buckets)
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.tokens -= 1


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: injected failure",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class Fault:
    """A failure or delay armed by a test, for ``remaining`` matching requests (None: all).

    With both ``seconds`` and ``error`` the request hangs, is then not carried out, and is
    answered with the error (if the client still waits): a request lost on the way.
    """

    method: str
    chat_id: int | None
    remaining: int | None
    error: ApiError | None = None
    seconds: float = 0.0

    def matches(self, method: str, chat_id: int | None) -> bool:
        return self.method == method and (self.chat_id is None or self.chat_id == chat_id)


LOST = ApiError(504, "Gateway Timeout: the request was lost before Telegram handled it")
"""What a lost request (``FakeTelegram.delay(..., process=False)``) is answered with."""


def make_error(error_code: int, description: str | None, retry_after: int | None) -> ApiError:
    """The error a ``fail_next`` fault answers with, defaulting to Telegram's usual text."""
    if error_code == 429:
        seconds = retry_after or 1
        return ApiError(
            429,
            description or f"Too Many Requests: retry after {seconds}",
            {"retry_after": seconds},
        )
    text = description or _DEFAULT_DESCRIPTIONS.get(error_code, f"Error {error_code}")
    return ApiError(error_code, text, {"retry_after": retry_after} if retry_after else None)


class FaultInjector:
    """Armed faults, consulted once per request before the method runs."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Arm a fault (method names are compared case-insensitively)."""
        fault.method = fault.method.lower()
        self._faults.append(fault)

    def clear(self) -> None:
        """Disarm everything."""
        self._faults.clear()

    def take(self, method: str, chat_id: int | None) -> tuple[float, ApiError | None]:
        """Total delay and the first failure that apply to this request, consuming their counts."""
        if not self._faults:
            return 0.0, None
        delay, error = 0.0, None
        lowered = method.lower()
        for fault in list(self._faults):
            if not fault.matches(lowered, chat_id):
                continue
            if fault.error is not None and error is not None:
                continue
            delay += fault.seconds
            if fault.error is not None:
                error = fault.error
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
        return delay, error
