"""Users, chats (with their binding and language), department memberships and invites."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from storage import outbox
from storage.db import Database, from_db, read_one, to_db

WHOLE_PLAN = "*"
"""The binding of a chat tied to the whole plan (``/bind all``)."""

INVITE_TTL = timedelta(days=7)


class Role(StrEnum):
    MEMBER = "member"
    MANAGER = "manager"


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    username: str | None
    full_name: str
    language: str | None


@dataclass(frozen=True, slots=True)
class Chat:
    chat_id: int
    type: str
    title: str
    language: str | None
    binding: str | None
    active: bool

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")


@dataclass(frozen=True, slots=True)
class Membership:
    user_id: int
    dept: str
    role: Role
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    dept: str
    role: Role
    created_by: int
    created_at: datetime
    expires_at: datetime
    used_by: int | None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """A member of a department as /members shows them."""

    user_id: int
    username: str | None
    full_name: str
    role: Role
    joined_at: datetime
    last_report: datetime | None
    """Their latest status update or note for the department."""


class Redeemed(StrEnum):
    JOINED = "joined"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Revoked(StrEnum):
    """What revoking an invite did."""

    REVOKED = "revoked"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    ALREADY = "already"


@dataclass(frozen=True, slots=True)
class Redemption:
    outcome: Redeemed
    invite: Invite | None = None


UPSERT_USER = """
INSERT INTO users (user_id, username, full_name, language, first_seen, last_seen)
VALUES (:user_id, :username, :full_name, :language, :now, :now)
ON CONFLICT (user_id) DO UPDATE SET
    username = excluded.username, full_name = excluded.full_name,
    language = excluded.language, last_seen = excluded.last_seen
"""
UPSERT_CHAT = """
INSERT INTO chats (chat_id, type, title, first_seen, last_seen)
VALUES (:chat_id, :type, :title, :now, :now)
ON CONFLICT (chat_id) DO UPDATE SET
    type = excluded.type, title = excluded.title, last_seen = excluded.last_seen
"""
SELECT_CHAT = "SELECT chat_id, type, title, language, binding, active FROM chats WHERE chat_id = ?"
UPSERT_MEMBERSHIP = """
INSERT INTO memberships (user_id, dept, role, invite_code, joined_at)
VALUES (:user_id, :dept, :role, :code, :now)
ON CONFLICT (user_id, dept) DO UPDATE SET
    role = CASE WHEN excluded.role = 'manager' THEN 'manager' ELSE memberships.role END
"""
INVITE_COLUMNS = "code, dept, role, created_by, created_at, expires_at, used_by, revoked_at"
SELECT_INVITE = f"SELECT {INVITE_COLUMNS} FROM invites WHERE code = ?"
SELECT_ROSTER = """
SELECT m.user_id, u.username, u.full_name, m.role, m.joined_at,
       (SELECT max(s.created_at) FROM status_updates AS s
        WHERE s.author_id = m.user_id AND s.dept = m.dept) AS last_report
FROM memberships AS m JOIN users AS u ON u.user_id = m.user_id
WHERE m.dept = ?
ORDER BY m.role = 'member', m.joined_at, m.user_id
"""


def _chat(row: sqlite3.Row) -> Chat:
    return Chat(
        chat_id=row["chat_id"],
        type=row["type"],
        title=row["title"],
        language=row["language"],
        binding=row["binding"],
        active=bool(row["active"]),
    )


def _invite(row: sqlite3.Row) -> Invite:
    return Invite(
        code=row["code"],
        dept=row["dept"],
        role=Role(row["role"]),
        created_by=row["created_by"],
        created_at=from_db(row["created_at"]),
        expires_at=from_db(row["expires_at"]),
        used_by=row["used_by"],
        revoked_at=None if row["revoked_at"] is None else from_db(row["revoked_at"]),
    )


class Users:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def seen(
        self,
        user_id: int,
        *,
        full_name: str,
        username: str | None = None,
        language: str | None = None,
    ) -> None:
        """Record (or refresh) a user as Telegram last described them."""
        await self._db.execute(
            UPSERT_USER,
            {
                "user_id": user_id,
                "username": username,
                "full_name": full_name,
                "language": language,
                "now": self._db.now(),
            },
        )

    async def get(self, user_id: int) -> User | None:
        row = await self._db.fetchone(
            "SELECT user_id, username, full_name, language FROM users WHERE user_id = ?", (user_id,)
        )
        return None if row is None else User(*row)

    async def by_username(self, username: str) -> User | None:
        """The user who last showed this @username (Telegram's usernames ignore case)."""
        row = await self._db.fetchone(
            "SELECT user_id, username, full_name, language FROM users"
            " WHERE username = ? COLLATE NOCASE ORDER BY last_seen DESC LIMIT 1",
            (username.removeprefix("@"),),
        )
        return None if row is None else User(*row)


class Chats:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def seen(self, chat_id: int, *, type: str, title: str = "") -> None:
        await self._db.execute(
            UPSERT_CHAT, {"chat_id": chat_id, "type": type, "title": title, "now": self._db.now()}
        )

    async def get(self, chat_id: int) -> Chat | None:
        row = await self._db.fetchone(SELECT_CHAT, (chat_id,))
        return None if row is None else _chat(row)

    async def set_language(self, chat_id: int, language: str | None) -> None:
        await self._db.execute(
            "UPDATE chats SET language = ? WHERE chat_id = ?", (language, chat_id)
        )

    async def bind(self, chat_id: int, binding: str, *, by: int) -> None:
        """Tie the chat to a department code, or to the whole plan with :data:`WHOLE_PLAN`."""
        await self._db.execute(
            "UPDATE chats SET binding = ?, bound_by = ?, bound_at = ? WHERE chat_id = ?",
            (binding, by, self._db.now(), chat_id),
        )

    async def unbind(self, chat_id: int) -> str | None:
        """Remove the binding; returns what it was."""

        def work(conn: sqlite3.Connection) -> str | None:
            row = read_one(conn, "SELECT binding FROM chats WHERE chat_id = ?", (chat_id,))
            conn.execute(
                "UPDATE chats SET binding = NULL, bound_by = NULL, bound_at = NULL WHERE chat_id = ?",
                (chat_id,),
            )
            return None if row is None else row[0]

        return await self._db.write(work)

    async def set_active(self, chat_id: int, active: bool, *, reason: str | None = None) -> int:
        """A chat that blocked or removed the bot is inactive, and what it was owed is given up
        in the same transaction (so that nothing stale is sent if it comes back); returns how
        many messages were given up."""

        def work(conn: sqlite3.Connection) -> int:
            conn.execute(
                "UPDATE chats SET active = ?, inactive_reason = ? WHERE chat_id = ?",
                (int(active), None if active else reason, chat_id),
            )
            return 0 if active else outbox.give_up_chat(conn, chat_id, reason or "")

        return await self._db.write(work)

    async def migrate(self, old_id: int, new_id: int) -> None:
        """Follow a group upgraded to a supergroup: its binding, settings and queue move along."""
        if old_id != new_id:
            await self._db.write(lambda conn: _migrate_chat(conn, old_id, new_id))


MIGRATED_TABLES = ("subscriptions", "digest_settings", "digest_log", "message_tasks")
"""Tables keyed by chat that follow a group into its supergroup (the outbox moves with them)."""


def _migrate_chat(conn: sqlite3.Connection, old_id: int, new_id: int) -> None:
    exists = read_one(conn, "SELECT 1 FROM chats WHERE chat_id = ?", (new_id,)) is not None
    if not exists:
        # ON UPDATE CASCADE carries subscriptions, outbox rows and digest settings along.
        conn.execute(
            "UPDATE chats SET chat_id = ?, type = 'supergroup' WHERE chat_id = ?", (new_id, old_id)
        )
        conn.execute(
            "UPDATE OR IGNORE message_tasks SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
        )
        return
    # The supergroup spoke to the bot first: merge the old chat into it.
    conn.execute(
        "UPDATE chats SET"
        " bound_by = CASE WHEN binding IS NULL THEN"
        " (SELECT bound_by FROM chats WHERE chat_id = :old) ELSE bound_by END,"
        " bound_at = CASE WHEN binding IS NULL THEN"
        " (SELECT bound_at FROM chats WHERE chat_id = :old) ELSE bound_at END,"
        " binding = coalesce(binding, (SELECT binding FROM chats WHERE chat_id = :old)),"
        " language = coalesce(language, (SELECT language FROM chats WHERE chat_id = :old))"
        " WHERE chat_id = :new",
        {"old": old_id, "new": new_id},
    )
    for table in MIGRATED_TABLES:
        conn.execute(
            f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
        )
    outbox.move_chat(conn, old_id, new_id)
    conn.execute("DELETE FROM chats WHERE chat_id = ?", (old_id,))


class Memberships:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def remove(self, user_id: int, dept: str, *, role: Role | None = None) -> bool:
        """End a membership; with ``role``, only if it is still that role (the one that was
        allowed to be removed), so that a promotion in between is not undone by it."""
        sql = "DELETE FROM memberships WHERE user_id = ? AND dept = ?"
        params: tuple[object, ...] = (user_id, dept)
        if role is not None:
            sql += " AND role = ?"
            params += (role.value,)
        return await self._db.execute(sql, params) > 0

    async def get(self, user_id: int, dept: str) -> Membership | None:
        row = await self._db.fetchone(
            "SELECT user_id, dept, role, joined_at FROM memberships WHERE user_id = ? AND dept = ?",
            (user_id, dept),
        )
        return None if row is None else Membership(row[0], row[1], Role(row[2]), from_db(row[3]))

    async def roster(self, dept: str) -> list[Person]:
        """The department's people, managers first, each with their latest report for it."""
        rows = await self._db.fetchall(SELECT_ROSTER, (dept,))
        return [
            Person(
                user_id=r["user_id"],
                username=r["username"],
                full_name=r["full_name"],
                role=Role(r["role"]),
                joined_at=from_db(r["joined_at"]),
                last_report=None if r["last_report"] is None else from_db(r["last_report"]),
            )
            for r in rows
        ]

    async def of_user(self, user_id: int) -> list[Membership]:
        rows = await self._db.fetchall(
            "SELECT user_id, dept, role, joined_at FROM memberships"
            " WHERE user_id = ? ORDER BY joined_at, dept",
            (user_id,),
        )
        return [Membership(r[0], r[1], Role(r[2]), from_db(r[3])) for r in rows]


class Invites:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, dept: str, role: Role, *, created_by: int) -> Invite:
        """A single-use code, valid for :data:`INVITE_TTL`, that fits a ``start`` payload."""
        code = secrets.token_urlsafe(12)  # 16 characters of [A-Za-z0-9_-]
        now = self._db.clock()
        await self._db.execute(
            "INSERT INTO invites (code, dept, role, created_by, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (code, dept, role.value, created_by, to_db(now), to_db(now + INVITE_TTL)),
        )
        return Invite(code, dept, role, created_by, now, now + INVITE_TTL, None)

    async def get(self, code: str) -> Invite | None:
        row = await self._db.fetchone(SELECT_INVITE, (code,))
        return None if row is None else _invite(row)

    async def redeem(
        self, code: str, user_id: int, *, source_update: int | None = None
    ) -> Redemption:
        """Use the code for this user and make them a member, all in one transaction.

        ``source_update`` is the Telegram update that opened the link: handled again (after a
        crash before the welcome went out), it is welcomed again rather than told 'used'.
        """

        def work(conn: sqlite3.Connection) -> Redemption:
            row = read_one(conn, SELECT_INVITE, (code,))
            if row is None:
                return Redemption(Redeemed.UNKNOWN)
            invite = _invite(row)
            again = read_one(
                conn,
                "SELECT 1 FROM invites WHERE code = ? AND used_by = ? AND used_update = ?",
                (code, user_id, source_update),
            )
            if again is not None:
                return Redemption(Redeemed.JOINED, invite)
            if invite.revoked_at is not None:
                return Redemption(Redeemed.REVOKED, invite)
            if invite.used_by is not None:
                return Redemption(Redeemed.USED, invite)
            if invite.expires_at <= self._db.clock():
                return Redemption(Redeemed.EXPIRED, invite)
            now = self._db.now()
            conn.execute(
                "UPDATE invites SET used_by = ?, used_at = ?, used_update = ?"
                " WHERE code = ? AND used_by IS NULL",
                (user_id, now, source_update, code),
            )
            conn.execute(
                UPSERT_MEMBERSHIP,
                {
                    "user_id": user_id,
                    "dept": invite.dept,
                    "role": invite.role.value,
                    "code": code,
                    "now": now,
                },
            )
            return Redemption(Redeemed.JOINED, replace(invite, used_by=user_id))

        return await self._db.write(work)

    async def outstanding(self, depts: Collection[str] | None = None) -> list[Invite]:
        """Codes that would still join: not used, not revoked, not expired; of ``depts`` if
        given. By department, then oldest first."""
        sql = (
            f"SELECT {INVITE_COLUMNS} FROM invites"
            " WHERE used_by IS NULL AND revoked_at IS NULL AND expires_at > ?"
        )
        params: list[object] = [self._db.now()]
        if depts is not None:
            wanted = sorted(set(depts))
            if not wanted:
                return []
            sql += f" AND dept IN ({','.join('?' * len(wanted))})"
            params += wanted
        rows = await self._db.fetchall(sql + " ORDER BY dept, created_at, rowid", params)
        return [_invite(r) for r in rows]

    async def revoke(self, code: str, *, by: int) -> Revoked:
        """Take back a code not used yet, so that it no longer joins."""

        def work(conn: sqlite3.Connection) -> Revoked:
            row = read_one(conn, SELECT_INVITE, (code,))
            if row is None:
                return Revoked.UNKNOWN
            invite = _invite(row)
            if invite.revoked_at is not None:
                return Revoked.ALREADY
            if invite.used_by is not None:
                return Revoked.USED
            if invite.expires_at <= self._db.clock():
                return Revoked.EXPIRED
            conn.execute(
                "UPDATE invites SET revoked_by = ?, revoked_at = ? WHERE code = ?",
                (by, self._db.now(), code),
            )
            return Revoked.REVOKED

        return await self._db.write(work)
