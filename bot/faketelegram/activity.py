"""Bookkeeping of the bot's requests so tests can wait for "the bot is done" without sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field


class Signal:
    """Broadcast wake-up: every coroutine waiting at the time of ``notify`` resumes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake all current waiters; later waiters wait for the next notify."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Return on the next notify or after ``seconds``, whichever comes first."""
        if seconds <= 0:
            return
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()


@dataclass(eq=False)
class Activity:
    """Requests touching one chat (or the whole bot): in flight, finished, and when last seen."""

    in_flight: int = 0
    finished: int = 0
    last: float = 0.0
    signal: Signal = field(default_factory=Signal)

    def begin(self) -> None:
        """A request started; waiters need no wake-up because nothing became quiet."""
        self.in_flight += 1
        self.last = time.monotonic()

    def end(self, *, counts: bool) -> None:
        """A request was answered; ``counts`` if it was a reply (send, edit, answer, refusal)."""
        self.in_flight -= 1
        self.finished += int(counts)
        self.last = time.monotonic()
        self.signal.notify()

    def touch(self) -> None:
        """Something happened (e.g. an update was delivered) that restarts the quiet period."""
        self.last = time.monotonic()
        self.signal.notify()

    async def wait_quiet(
        self, *, deadline: float, quiet: float, at_least: int = 0, since: int = 0
    ) -> bool:
        """Wait for ``at_least`` replies after ``since`` and then ``quiet`` seconds of silence."""
        while True:
            now = time.monotonic()
            enough = self.finished - since >= at_least and self.in_flight == 0
            idle_for = now - self.last
            if enough and idle_for >= quiet:
                return True
            if now >= deadline:
                return False
            pause = deadline - now
            if enough:
                pause = min(pause, quiet - idle_for)
            await self.signal.wait(pause)
