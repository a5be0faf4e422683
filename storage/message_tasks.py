"""Which bot message shows which task: a reply to it becomes a note on that task."""

from __future__ import annotations

from storage.db import Database


class MessageTasks:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def remember(self, chat_id: int, message_id: int, task: int) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO message_tasks (chat_id, message_id, task, created_at)"
            " VALUES (?, ?, ?, ?)",
            (chat_id, message_id, task, self._db.now()),
        )

    async def task_of(self, chat_id: int, message_id: int) -> int | None:
        value = await self._db.fetchvalue(
            "SELECT task FROM message_tasks WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
        return None if value is None else int(value)
