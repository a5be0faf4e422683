"""Which bot message shows which task (of which plan year): a reply to it is a note on it."""

from __future__ import annotations

from storage.db import Database


class MessageTasks:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def remember(
        self, chat_id: int, message_id: int, task: int, *, year: int | None = None
    ) -> None:
        """The message shows ``task`` of ``year``'s plan (the current one by default)."""
        await self._db.execute(
            "INSERT OR REPLACE INTO message_tasks (chat_id, message_id, plan_year, task,"
            " created_at) VALUES (?, ?, ?, ?, ?)",
            (
                chat_id,
                message_id,
                self._db.current_year() if year is None else year,
                task,
                self._db.now(),
            ),
        )

    async def task_of(self, chat_id: int, message_id: int) -> tuple[int, int] | None:
        """The ``(year, task)`` a bot message shows, if it shows one."""
        row = await self._db.fetchone(
            "SELECT plan_year, task FROM message_tasks WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
        return None if row is None else (int(row[0]), int(row[1]))
