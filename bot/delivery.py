"""The outbox sender: delivers owed messages within Telegram's flood limits and loses none.

Rows of the ``outbox`` table are sent by one background task, a few chats at a time, never two
at once to the same chat and always in id order within a chat (``Outbox.next_per_chat``). The
sender keeps Telegram's limits (the bot's shared ``FloodControl``, below), waits out 429s,
retries network failures and 5xx answers for ever with exponential backoff, marks chats that
blocked or removed the bot inactive, and follows groups that became supergroups.

Delivery is at least once, with a window of one request per row in flight: a row is claimed
(``sending``) before its request goes out, and marked ``sent`` in the statement right after
Telegram's answer. A crash, or an abrupt ``stop(grace=0)``, in between leaves it ``sending``; the
next start puts it back in the queue. If Telegram had carried out that request, or answered it
after our timeout gave up (``TimedOut`` is retried too), the chat sees that message twice. Nothing
is ever lost.

The sender talks to the Bot API through its own connection pool, past PTB's rate-limiter hook:
it waits out a 429 in the one chat concerned, where the hook would retry inside the request. It
spends the bot's one ``FloodControl`` (``bot.flood``) with the handlers' answers, which go first:
a fan-out takes the whole allowance only while nobody is waiting for an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.composer import Compose
from bot.flood import FloodControl, retry_after_seconds
from bot.render.outgoing import Outgoing
from storage import Storage
from storage.outbox import OutboxItem

log = logging.getLogger(__name__)

FLOOD_WINDOW = 1.0
"""429s from two different chats within this many seconds look like a global flood limit."""
GONE_MARKERS = ("chat not found", "group chat was deactivated")
"""``BadRequest`` texts meaning the chat no longer exists for the bot (like ``Forbidden``)."""


@dataclass(frozen=True)
class SenderOptions:
    """How the sender behaves; the defaults suit production, tests shorten the timeouts."""

    concurrency: int = 6
    """Requests in flight at once, each to a different chat."""
    poll_interval: float = 1.0
    """Longest wait between looks at the queue when nobody calls ``wake``."""
    read_timeout: float = 10.0
    connect_timeout: float = 5.0
    max_backoff: float = 300.0
    """Longest wait before retrying after a network failure or a 5xx answer."""
    batch: int = 200
    """Chats considered per look at the queue."""
    stop_grace: float = 30.0
    """How long ``stop`` lets sends in flight finish before abandoning them."""


def is_gone(exc: TelegramError) -> bool:
    """Blocked, kicked, or the chat does not exist: nothing can ever be sent there again."""
    if isinstance(exc, Forbidden):
        return True
    text = exc.message.lower()
    return isinstance(exc, BadRequest) and any(marker in text for marker in GONE_MARKERS)


def is_unchanged(exc: TelegramError) -> bool:
    """Telegram refused an edit to what the message already shows."""
    return isinstance(exc, BadRequest) and "message is not modified" in exc.message.lower()


def private_bot(template: Bot, options: SenderOptions) -> tuple[ExtBot[None], HTTPXRequest]:
    """A bot like ``template`` (token, API server, defaults) with its own pool, no rate limiter."""
    request = HTTPXRequest(
        connection_pool_size=options.concurrency + 1,
        read_timeout=options.read_timeout,
        write_timeout=options.read_timeout,
        connect_timeout=options.connect_timeout,
        pool_timeout=options.connect_timeout,
    )
    api_url, file_url = template.base_url, template.base_file_url
    bot: ExtBot[None] = ExtBot(
        template.token,
        base_url=lambda _token: api_url,
        base_file_url=lambda _token: file_url,
        request=request,
        get_updates_request=request,
        defaults=template.defaults if isinstance(template, ExtBot) else None,
    )
    return bot, request


class OutboxSender:
    """Drains the outbox in the background: ``start``, ``wake`` after enqueueing, ``stop``."""

    def __init__(
        self,
        template: Bot,
        storage: Storage,
        compose: Compose,
        options: SenderOptions | None = None,
        flood: FloodControl | None = None,
    ) -> None:
        self.options = options or SenderOptions()
        self.flood = flood or FloodControl()
        self._bot, self._request = private_bot(template, self.options)
        self._storage = storage
        self._compose = compose
        self._busy: set[int] = set()
        self._inflight: set[asyncio.Task[None]] = set()
        self._floods: dict[int, float] = {}
        self._wakeup = asyncio.Event()
        self._closing = False
        self._loop: asyncio.Task[None] | None = None
        self._stop_lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        """Whether the background task is draining the queue."""
        return self._loop is not None

    @property
    def in_flight(self) -> int:
        """Sends under way right now."""
        return len(self._inflight)

    async def start(self) -> None:
        """Requeue what a crash left in flight, then start draining; a second call does nothing."""
        if self._loop is not None:
            return
        await self._request.initialize()
        try:
            requeued = await self._storage.outbox.requeue_sending()
        except BaseException:
            await self._request.shutdown()
            raise
        if requeued:
            log.warning(
                "outbox: %d messages were in flight at the last stop; sending again", requeued
            )
        self._closing = False
        self._loop = asyncio.create_task(self._run(), name="outbox-sender")

    def wake(self) -> None:
        """Something was enqueued: look at the queue now instead of at the next poll."""
        self._wakeup.set()

    async def stop(self, *, grace: float | None = None) -> None:
        """Send nothing new, let sends in flight finish and record their outcome, free the pool.

        Sends still running after ``grace`` seconds (default ``options.stop_grace``; 0 for a
        crash-like stop) are abandoned: their rows stay ``sending`` and go back in the queue at
        the next start. Every other row stays pending. Calling it again does nothing.
        """
        async with self._stop_lock:
            if self._loop is None:
                return
            self._closing = True
            self._wakeup.set()
            loop, self._loop = self._loop, None
            limit = self.options.stop_grace if grace is None else grace
            try:
                await _finish([loop, *self._inflight], limit)
            finally:
                await self._request.shutdown()

    # --- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        """Look at the queue, start what may go now, sleep until woken or something is due."""
        while not self._closing:
            self._wakeup.clear()
            try:
                pause = await self._dispatch()
            except Exception:
                log.exception("outbox: could not read the queue; trying again")
                pause = self.options.poll_interval
            await self._sleep(pause)

    async def _sleep(self, seconds: float) -> None:
        """Wait for ``wake`` (or a send finishing), at most ``seconds``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.005)):
                await self._wakeup.wait()

    async def _dispatch(self) -> float:
        """Start every send the limits allow now; returns how long the loop may sleep."""
        flood = self.flood
        if held := flood.held(flood.now()):
            return held
        pause = self.options.poll_interval
        if self._storage.db.failure is not None:
            return pause  # what is sent could not be marked sent: it would go out again and again
        if len(self._inflight) >= self.options.concurrency:
            return pause
        for item in await self._storage.outbox.next_per_chat(limit=self.options.batch):
            if self._closing or len(self._inflight) >= self.options.concurrency:
                break
            if item.chat_id in self._busy:
                continue
            now = flood.now()
            overall = flood.outbox_overall_wait(now)
            if overall > 0:
                return min(pause, overall)
            wait = flood.outbox_chat_wait(item.chat_id, now)
            if wait > 0:
                pause = min(pause, wait)
                continue
            flood.outbox_take(item.chat_id, now)
            self._launch(item)
        return pause

    def _launch(self, item: OutboxItem) -> None:
        """Send one row in its own task; the chat is busy until it is done."""
        self._busy.add(item.chat_id)
        task = asyncio.create_task(self._deliver(item), name=f"outbox-{item.id}")
        self._inflight.add(task)
        task.add_done_callback(lambda done: self._landed(item, done))

    def _landed(self, item: OutboxItem, task: asyncio.Task[None]) -> None:
        """A send is over: free its chat and slot and look at the queue again."""
        self._inflight.discard(task)
        self._busy.discard(item.chat_id)
        self._wakeup.set()
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "outbox %d to chat %d: delivery broke: %r", item.id, item.chat_id, task.exception()
            )

    # --- one row ----------------------------------------------------------------------------

    async def _deliver(self, item: OutboxItem) -> None:
        """Claim, send and record one row; a failure of our own puts it back in the queue."""
        if self._closing or not await self._storage.outbox.mark_sending(item.id):
            return
        claimed = await self._storage.outbox.get(item.id) or item  # chat id and attempts now
        try:
            await self._send(claimed)
        except Exception as exc:
            log.exception("outbox %d to chat %d: failed in the bot itself", item.id, item.chat_id)
            await self._retry_in(claimed, self._backoff(claimed), f"internal error: {exc!r}")

    async def _send(self, item: OutboxItem) -> None:
        """Render and send; record the outcome right after the answer (a small repeat window)."""
        outgoing = await self._compose(item)
        if outgoing is None:
            log.warning(
                "outbox %d to chat %d: nothing to send; marked failed", item.id, item.chat_id
            )
            await self._storage.outbox.mark_failed(item.id, error="nothing to send")
            return
        edit = outgoing.edit
        edited = None if edit is None else edit.row
        if outgoing.unchanged and edit is not None:
            # Drawn after what made the edit owed, the message shows this already.
            await self._storage.outbox.mark_sent(
                item.id, message_id=edit.message_id, shown=edit.shown
            )
            return
        try:
            message = await self._post(item.chat_id, outgoing)
        except TelegramError as exc:
            if edit is not None and is_unchanged(exc):
                shown = outgoing.digest()
                await self._storage.outbox.mark_sent(
                    item.id, message_id=edit.message_id, shown=shown, edited=edited
                )
                return
            await self._refused(item, exc)
            return
        await self._storage.outbox.mark_sent(
            item.id, message_id=message.message_id, shown=outgoing.digest(), edited=edited
        )
        await self._remember(message.chat_id, message.message_id, outgoing)

    async def _post(self, chat_id: int, outgoing: Outgoing) -> Message:
        """One Bot API request: a text, a photo with the text as its caption, or an edit."""
        if outgoing.edit is not None:
            edited = await self._bot.edit_message_text(
                outgoing.text, chat_id=chat_id, message_id=outgoing.edit.message_id,
                reply_markup=outgoing.keyboard, disable_web_page_preview=True,
            )  # fmt: skip
            assert isinstance(edited, Message), "a bot's own message edits into a Message"
            return edited
        if outgoing.photo is not None:
            return await self._bot.send_photo(
                chat_id, outgoing.photo, caption=outgoing.text, reply_markup=outgoing.keyboard
            )
        return await self._bot.send_message(
            chat_id, outgoing.text, reply_markup=outgoing.keyboard, disable_web_page_preview=True
        )

    async def _remember(self, chat_id: int, message_id: int, outgoing: Outgoing) -> None:
        """A message showing a task: a reply to it becomes a note on that task."""
        if outgoing.task is not None:
            await self._storage.message_tasks.remember(
                chat_id, message_id, outgoing.task, year=outgoing.year
            )

    async def _refused(self, item: OutboxItem, exc: TelegramError) -> None:
        """Telegram said no (or did not answer): decide what becomes of the row."""
        if isinstance(exc, RetryAfter):
            await self._flooded(item, retry_after_seconds(exc))
        elif isinstance(exc, ChatMigrated):
            await self._migrated(item, exc.new_chat_id)
        elif is_gone(exc):
            await self._gone(item, exc.message)
        elif isinstance(exc, BadRequest):
            log.warning(
                "outbox %d to chat %d: refused: %s; marked failed",
                item.id,
                item.chat_id,
                exc.message,
            )
            await self._storage.outbox.mark_failed(item.id, error=exc.message)
        else:
            delay = self._backoff(item)
            log.warning(
                "outbox %d to chat %d: %s: %s; retry in %.0f s (attempt %d)",
                item.id,
                item.chat_id,
                type(exc).__name__,
                exc.message,
                delay,
                item.attempts,
            )
            await self._retry_in(item, delay, f"{type(exc).__name__}: {exc.message}")

    async def _flooded(self, item: OutboxItem, seconds: float) -> None:
        """Wait out a 429 in this chat; in several chats at once, pause every send."""
        await self._retry_in(item, seconds, f"flood control: retry after {seconds:g} s")
        now = self.flood.now()
        self._floods = {c: at for c, at in self._floods.items() if now - at < FLOOD_WINDOW}
        self._floods[item.chat_id] = now
        everything = len(self._floods) > 1
        if everything:
            self.flood.hold(seconds)  # the handlers' answers wait too
        log.warning(
            "outbox %d to chat %d: flood control, retry in %g s%s",
            item.id,
            item.chat_id,
            seconds,
            " (in several chats: all sends paused)" if everything else "",
        )

    async def _migrated(self, item: OutboxItem, new_chat_id: int) -> None:
        """The group became a supergroup: move the chat and its queue, send there at once."""
        await self._storage.chats.migrate(item.chat_id, new_chat_id)
        await self._retry_in(item, 0, f"chat migrated to {new_chat_id}")
        log.info(
            "outbox %d to chat %d: chat became %d; sending there",
            item.id,
            item.chat_id,
            new_chat_id,
        )

    async def _gone(self, item: OutboxItem, reason: str) -> None:
        """Blocked or removed: give up on everything owed to the chat, then mark it inactive."""
        dropped = await self._storage.chats.set_active(item.chat_id, False, reason=reason)
        log.warning(
            "outbox %d to chat %d: %s; chat inactive, %d messages dropped",
            item.id,
            item.chat_id,
            reason,
            dropped,
        )

    def _backoff(self, item: OutboxItem) -> float:
        """1, 2, 4 … seconds by attempt, capped: a long outage is retried for ever, gently."""
        return float(min(self.options.max_backoff, 2.0 ** max(item.attempts - 1, 0)))

    async def _retry_in(self, item: OutboxItem, seconds: float, error: str) -> None:
        """Back to the queue, due in ``seconds``; the chat's later rows wait behind it."""
        not_before = self._storage.db.clock() + timedelta(seconds=seconds)
        await self._storage.outbox.retry_later(item.id, not_before=not_before, error=error)


async def _finish(tasks: list[asyncio.Task[None]], grace: float) -> None:
    """Let ``tasks`` end within ``grace`` seconds, then cancel the rest and wait for them."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace) if grace > 0 else (set(), set(tasks))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
