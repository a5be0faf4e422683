"""Who is told: a department's chats, the office's, a task's followers. Read inside a write, so
that what a write owes goes to the chats as they are in its own transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping, Sequence

from storage.people import WHOLE_PLAN

ACTIVE_GROUPS = (
    "SELECT chat_id FROM chats WHERE binding = ? AND active = 1"
    " AND type IN ('group', 'supergroup') ORDER BY chat_id"
)
ACTIVE_PRIVATE = "SELECT chat_id FROM chats WHERE chat_id = ? AND type = 'private' AND active = 1"


ACTIVE_GROUPS_OF = (
    "SELECT c.binding, c.chat_id FROM json_each(?) AS d"
    " JOIN chats AS c ON c.binding = d.value AND c.active = 1"
    " AND c.type IN ('group', 'supergroup') ORDER BY c.binding, c.chat_id"
)
MEMBERS_PRIVATE = (
    "SELECT c.chat_id FROM memberships AS m"
    " JOIN chats AS c ON c.chat_id = m.user_id AND c.type = 'private' AND c.active = 1"
    " WHERE m.dept = ? ORDER BY c.chat_id"
)


def department_chats(conn: sqlite3.Connection, dept: str) -> list[int]:
    """The department's bound groups; with none, its members' private chats (a department
    without a group still hears what concerns it)."""
    return departments_chats(conn, [dept])[dept]


def departments_chats(conn: sqlite3.Connection, depts: Collection[str]) -> dict[str, list[int]]:
    """:func:`department_chats` of each department, their groups found in one statement (a
    morning's reminders go to dozens of departments at once)."""
    found: dict[str, list[int]] = {dept: [] for dept in depts}
    for dept, chat_id in conn.execute(ACTIVE_GROUPS_OF, (json.dumps(sorted(found)),)):
        found[dept].append(chat_id)
    for dept, chats in found.items():
        if not chats:
            chats.extend(row[0] for row in conn.execute(MEMBERS_PRIVATE, (dept,)))
    return found


def office_chats(conn: sqlite3.Connection, admins: Collection[int]) -> list[int]:
    """The office: the whole-plan groups; with none, each admin's private chat (an admin who
    never opened one cannot be written to)."""
    groups = [row[0] for row in conn.execute(ACTIVE_GROUPS, (WHOLE_PLAN,))]
    if groups:
        return groups
    return [admin for admin in sorted(admins) if conn.execute(ACTIVE_PRIVATE, (admin,)).fetchone()]


def followers(
    conn: sqlite3.Connection,
    year: int,
    tasks: Mapping[int, Sequence[str]],
    *,
    origin: int | None,
) -> dict[int, list[int]]:
    """Each active chat following some of ``tasks`` (task → its departments), by task, a
    department or everything, with the tasks it follows; never ``origin``, where it was done."""
    rows = conn.execute(
        "SELECT s.chat_id, s.kind, s.target FROM subscriptions AS s"
        " JOIN chats AS c ON c.chat_id = s.chat_id AND c.active = 1"
        " WHERE s.ended_at IS NULL AND s.chat_id IS NOT ?"
        " AND (s.kind != 'task' OR s.plan_year = ?)",
        (origin, year),
    ).fetchall()
    by_dept: dict[str, list[int]] = {}
    for number, depts in tasks.items():
        for dept in depts:
            by_dept.setdefault(dept, []).append(number)
    found: dict[int, set[int]] = {}
    for chat_id, kind, target in rows:
        if kind == "all":
            covered: Collection[int] = tasks.keys()
        elif kind == "dept":
            covered = by_dept.get(target, [])
        else:
            covered = [int(target)] if target.isdigit() and int(target) in tasks else []
        if covered:
            found.setdefault(chat_id, set()).update(covered)
    return {chat: sorted(numbers) for chat, numbers in sorted(found.items())}
