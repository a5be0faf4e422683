"""The way in: updates are on disk before Telegram is told they arrived, then handled from there.

python-telegram-bot's own updater confirms a batch (asks for the next offset) before its
handlers have run, and its webhook answers 200 once an update is queued in memory: a crash then
loses what was confirmed but not handled. Here the :class:`Poller` writes each batch to the
``inbox`` table and only then asks for the next offset, and the webhook writes an update before
its 200 (``bot/webhook.py``). :class:`InboxHandler` handles what the inbox holds: in order
within a chat, several chats at once; it marks each update done once its handlers have run.
At start, what the last run left pending is handled first.

What an update records carries its ``update_id``, so an update handled but not marked done
before a crash records nothing twice when it is handled again; only its answer may go out a
second time (Telegram has no way to send exactly once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import Bot, Update
from telegram.error import Conflict, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot.flood import retry_after_seconds
from storage import Storage
from storage.db import DatabaseUnusable
from storage.inbox import Received, chat_of

log = logging.getLogger(__name__)

# The poller asks for getUpdates' raw JSON on purpose: the inbox keeps the update as Telegram
# sent it, and an update PTB cannot parse is kept as failed rather than stopping the polling.
warnings.filterwarnings(
    "ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning, module=__name__
)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
"""What the bot asks Telegram for, by polling or webhook."""
KEEP_HANDLED = timedelta(days=2)
"""Handled rows are kept this long (Telegram re-sends an update for at most a day)."""


@dataclass(frozen=True)
class InboxOptions:
    concurrency: int = 32
    """Chats handled at once (within a chat, one update at a time)."""
    long_poll: int = 25
    """Seconds a getUpdates may wait for something to arrive."""
    max_backoff: float = 30.0
    """Longest wait before asking Telegram again after a failure."""
    stop_grace: float = 20.0
    """How long ``stop`` lets the updates in hand finish."""


class InboxHandler:
    """Handles the inbox's updates through the application's handlers, and marks them done."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        storage: Storage,
        options: InboxOptions | None = None,
    ) -> None:
        self._app = app
        self._storage = storage
        self.options = options or InboxOptions()
        self._queues: dict[int | None, deque[Received]] = {}
        self._busy: set[int | None] = set()
        self._inflight: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._closing = False
        self.handled = 0

    async def start(self) -> None:
        """Take what the last run left pending, then handle as updates arrive."""
        if self._loop is not None:
            return
        left = await self._storage.inbox.pending()
        if left:
            log.warning(
                "inbox: %d updates were not handled at the last stop; handling them", len(left)
            )
        self._queue(left)
        self._closing = False
        self._loop = asyncio.create_task(self._run(), name="inbox")

    async def receive(self, raw: list[dict[str, Any]]) -> None:
        """Write updates to the inbox (one transaction) and queue them; when this returns they
        may be confirmed to Telegram.

        When the database cannot be written, they are handled all the same, from memory: each
        person is told that nothing was recorded (a write fails the same way), rather than met
        with silence, or with an answer after the database comes back that contradicts it.
        """
        try:
            self._queue(await self._storage.inbox.receive(raw))
        except DatabaseUnusable as exc:
            log.error("inbox: %d updates handled without being kept: %s", len(raw), exc)
            self._queue([Received(int(u["update_id"]), chat_of(u), u, kept=False) for u in raw])

    def _queue(self, rows: list[Received]) -> None:
        for row in rows:
            self._queues.setdefault(row.chat_id, deque()).append(row)
        if rows:
            self._wakeup.set()

    async def stop(self, *, grace: float | None = None) -> None:
        """Start nothing new; let the updates in hand finish (within ``grace`` seconds). What is
        still queued stays pending on disk for the next start."""
        if self._loop is None:
            return
        self._closing = True
        self._wakeup.set()
        loop, self._loop = self._loop, None
        limit = self.options.stop_grace if grace is None else grace
        tasks = [loop, *self._inflight]
        _, late = await asyncio.wait(tasks, timeout=limit) if limit > 0 else (set(), set(tasks))
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _run(self) -> None:
        while not self._closing:
            self._wakeup.clear()
            for chat in list(self._queues):
                if len(self._inflight) >= self.options.concurrency:
                    break
                queue = self._queues[chat]
                if chat in self._busy or not queue:
                    continue
                self._launch(chat, queue.popleft())
                if not queue:
                    del self._queues[chat]
            await self._wakeup.wait()

    def _launch(self, chat: int | None, row: Received) -> None:
        self._busy.add(chat)
        task = asyncio.create_task(self._handle(row), name=f"update-{row.update_id}")
        self._inflight.add(task)
        task.add_done_callback(lambda done: self._finished(chat, done))

    def _finished(self, chat: int | None, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._busy.discard(chat)
        self._wakeup.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("inbox: handling broke: %r", task.exception())

    async def _handle(self, row: Received) -> None:
        """Run the update through every handler (their errors go to the error handler), then
        mark it done; if that mark does not land, the next start handles it again."""
        log.debug("inbox: handling update %d: %s", row.update_id, row.payload)
        try:
            update = Update.de_json(row.payload, self._app.bot)
        except (KeyError, TypeError, ValueError) as exc:
            log.error("inbox: update %d does not parse (%r); kept as failed", row.update_id, exc)
            await self._storage.inbox.failed(row.update_id, repr(exc))
            return
        await self._app.process_update(update)
        if row.kept:
            await self._storage.inbox.done(row.update_id)
        self.handled += 1


class Poller:
    """Long-polls getUpdates and writes each batch to the inbox before confirming it."""

    def __init__(
        self,
        bot: Bot,
        inbox: InboxHandler,
        offset: int | None,
        *,
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        self._bot = bot
        self._inbox = inbox
        self._offset = offset
        self._on_fatal = on_fatal
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="poller")

    async def stop(self) -> None:
        """Stop asking; a batch being written finishes first, so nothing fetched is dropped."""
        self._stopping = True
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                batch = await self._fetch()
            except asyncio.CancelledError:
                raise
            except (InvalidToken, Forbidden) as exc:
                log.critical("polling: Telegram refused the token (%s); stopping", exc)
                self._on_fatal(exc)
                return
            except RetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
                continue
            except (Conflict, TelegramError) as exc:
                failures += 1
                delay = min(self._inbox.options.max_backoff, 2.0 ** min(failures - 1, 5))
                log.warning(
                    "polling: %s: %s; asking again in %.0f s", type(exc).__name__, exc, delay
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            if not batch:
                continue
            # Shielded: once fetched, a batch is written even if the stop comes meanwhile.
            await asyncio.shield(self._inbox.receive(batch))
            self._offset = int(batch[-1]["update_id"]) + 1

    async def _fetch(self) -> list[dict[str, Any]]:
        """One getUpdates, as Telegram sent it (raw JSON: that is what the inbox keeps)."""
        wait = self._inbox.options.long_poll
        kwargs: dict[str, Any] = {"timeout": wait, "allowed_updates": ALLOWED_UPDATES}
        if self._offset is not None:
            kwargs["offset"] = self._offset
        result = await self._bot.do_api_request(
            "getUpdates", api_kwargs=kwargs, read_timeout=wait + 10
        )
        return [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
