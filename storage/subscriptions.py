"""What each chat follows: a task, a department, or the whole plan."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from storage.db import Database


class Follow(StrEnum):
    TASK = "task"
    DEPT = "dept"
    ALL = "all"


EVERYTHING = "*"


@dataclass(frozen=True, slots=True)
class Subscription:
    chat_id: int
    kind: Follow
    target: str


class Subscriptions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, chat_id: int, kind: Follow, target: str, *, by: int | None) -> bool:
        """Follow something in this chat; ``False`` when the chat already followed it."""
        changed = await self._db.execute(
            "INSERT OR IGNORE INTO subscriptions (chat_id, kind, target, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (chat_id, kind.value, target, by, self._db.now()),
        )
        return changed > 0

    async def remove(self, chat_id: int, kind: Follow, target: str) -> bool:
        changed = await self._db.execute(
            "DELETE FROM subscriptions WHERE chat_id = ? AND kind = ? AND target = ?",
            (chat_id, kind.value, target),
        )
        return changed > 0

    async def of_chat(self, chat_id: int) -> list[Subscription]:
        rows = await self._db.fetchall(
            "SELECT chat_id, kind, target FROM subscriptions WHERE chat_id = ?"
            " ORDER BY CASE kind WHEN 'all' THEN 0 WHEN 'dept' THEN 1 ELSE 2 END,"
            " CASE kind WHEN 'task' THEN CAST(target AS INTEGER) END, target",
            (chat_id,),
        )
        return [Subscription(r[0], Follow(r[1]), r[2]) for r in rows]
