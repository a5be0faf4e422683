"""Telegram's pending-update queue: offset confirmation, long polling, allowed_updates."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.faketelegram.activity import Signal
from bot.faketelegram.errors import ApiError

# What Telegram sends when allowed_updates was never set (or set to an empty list).
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


@dataclass(frozen=True)
class PendingUpdate:
    """One queued update and the chat it concerns (for per-chat waiting)."""

    update_id: int
    kind: str
    chat_id: int | None
    payload: dict[str, Any]

    def to_api(self) -> dict[str, Any]:
        """Bot API Update."""
        return {"update_id": self.update_id, self.kind: self.payload}


class UpdateQueue:
    """Updates wait here until getUpdates confirms them with a higher offset."""

    def __init__(
        self, on_delivered: Callable[[Iterable[int | None]], None], *, first_id: int = 1
    ) -> None:
        self._pending: deque[PendingUpdate] = deque()
        self._next_id = first_id
        self._allowed: frozenset[str] | None = None
        self._arrived = Signal()
        self._poll: object | None = None
        self._on_delivered = on_delivered
        self.delivered = Signal()
        self.last_enqueued = 0
        self.processed_upto = 0
        self.closed = False

    def put(self, kind: str, payload: dict[str, Any], chat_id: int | None) -> int:
        """Queue an update; ids increase monotonically."""
        update = PendingUpdate(self._next_id, kind, chat_id, payload)
        self._next_id += 1
        self._pending.append(update)
        self.last_enqueued = update.update_id
        self._arrived.notify()
        return update.update_id

    def pending_count(self) -> int:
        """Updates not yet confirmed by an offset."""
        return len(self._pending)

    def drop_pending(self) -> None:
        """deleteWebhook(drop_pending_updates=True)."""
        self._pending.clear()
        self._mark_processed(self.last_enqueued, ())

    def close(self) -> None:
        """Release every long poll (server shutdown)."""
        self.closed = True
        self._arrived.notify()
        self.delivered.notify()

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()
            return
        while self._pending and self._pending[0].update_id < offset:
            self._pending.popleft()

    def _allowed_kind(self, kind: str) -> bool:
        if self._allowed is None:
            return kind not in _NOT_BY_DEFAULT
        return kind in self._allowed

    def _take(self, limit: int) -> list[dict[str, Any]]:
        batch: list[PendingUpdate] = []
        highest = 0
        for update in self._pending:
            if len(batch) >= limit:
                break
            highest = max(highest, update.update_id)
            if self._allowed_kind(update.kind):
                batch.append(update)
        if highest:
            self._mark_processed(highest, (u.chat_id for u in batch))
        return [update.to_api() for update in batch]

    def _mark_processed(self, upto: int, chat_ids: Iterable[int | None]) -> None:
        if upto > self.processed_upto:
            self.processed_upto = upto
        self._on_delivered(chat_ids)
        self.delivered.notify()

    async def get(
        self, offset: int | None, limit: int, poll_seconds: float, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        """getUpdates: confirm by offset, then answer at once or long-poll ``poll_seconds``."""
        if allowed is not None:
            self._allowed = frozenset(allowed) if allowed else None
        token = object()
        self._poll = token
        self._arrived.notify()  # an older poll still waiting now ends with 409 Conflict
        if offset is not None:
            self._confirm(offset)
        deadline = time.monotonic() + poll_seconds
        while True:
            batch = self._take(max(1, min(limit, 100)))
            now = time.monotonic()
            if batch or self.closed or now >= deadline:
                if self._poll is token:
                    self._poll = None
                return batch
            await self._arrived.wait(deadline - now)
            if self._poll is not token:
                raise ApiError(409, _CONFLICT)

    async def wait_processed(self, target: int, deadline: float) -> bool:
        """Wait until the bot has fetched every update up to ``target``."""
        while self.processed_upto < target:
            now = time.monotonic()
            if now >= deadline or self.closed:
                return False
            await self.delivered.wait(deadline - now)
        return True
