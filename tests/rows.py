"""Rows that tests set up or look at directly: the bot itself never does either, so storage/
has no function for them. Setting up goes through what the bot does use (an invite, ``owe``);
looking is plain SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage import Storage, outbox
from storage.db import to_db
from storage.outbox import OutboxItem, OutKind
from storage.people import Role


async def join(storage: Storage, user_id: int, dept: str, role: Role) -> None:
    """Make a (seen) user a member or manager, the way the bot does: through an invite."""
    invite = await storage.invites.create(dept, role, created_by=user_id)
    await storage.invites.redeem(invite.code, user_id)


async def owe(
    storage: Storage,
    chat_id: int,
    kind: OutKind | str,
    payload: dict[str, Any],
    *,
    dedup_key: str | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Owe one message on its own transaction, as a feature would in its own."""
    at = None if not_before is None else to_db(not_before)
    return await storage.db.write(
        lambda conn: outbox.owe(
            conn, chat_id, OutKind(kind), payload, now=storage.db.now(), dedup_key=dedup_key,
            not_before=at,
        )
    )  # fmt: skip


async def outbox_state(storage: Storage, item_id: int) -> str | None:
    value = await storage.db.fetchvalue("SELECT state FROM outbox WHERE id = ?", (item_id,))
    return None if value is None else str(value)


async def pending(storage: Storage) -> list[OutboxItem]:
    """Every message still owed, in the order it was owed (due or not, to any chat)."""
    rows = await storage.db.fetchall("SELECT id FROM outbox WHERE state = 'pending' ORDER BY id")
    items = [await storage.outbox.get(row[0]) for row in rows]
    return [item for item in items if item is not None]


async def bound_chats(storage: Storage, binding: str) -> list[int]:
    """The chats bound to a department (or to the whole plan, ``*``)."""
    rows = await storage.db.fetchall(
        "SELECT chat_id FROM chats WHERE binding = ? ORDER BY chat_id", (binding,)
    )
    return [row[0] for row in rows]


async def update_count(storage: Storage, task: int | None = None) -> int:
    """Status updates held, of one task or of all."""
    if task is None:
        return int(await storage.db.fetchvalue("SELECT count(*) FROM status_updates"))
    sql = "SELECT count(*) FROM status_updates WHERE task = ?"
    return int(await storage.db.fetchvalue(sql, (task,)))


async def inbox_states(storage: Storage) -> dict[str, int]:
    rows = await storage.db.fetchall("SELECT state, count(*) FROM inbox GROUP BY state")
    return {row[0]: row[1] for row in rows}
