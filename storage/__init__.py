"""Everything that touches SQLite. The rest of the code calls these named functions.

``Storage`` opens the database, applies the migrations, and groups the repositories by
feature: ``storage.updates.record(...)``, ``storage.invites.redeem(...)`` and so on.
"""

from __future__ import annotations

from pathlib import Path

from storage.db import Clock, Database, utcnow
from storage.digests import DigestQueue, Digests
from storage.messages import MessageTasks
from storage.outbox import Outbox
from storage.people import Chats, Invites, Memberships, Users
from storage.subscriptions import Subscriptions
from storage.updates import Updates


class Storage:
    def __init__(self, path: Path, *, clock: Clock = utcnow) -> None:
        self.db = Database(path, clock=clock)
        self.users = Users(self.db)
        self.chats = Chats(self.db)
        self.memberships = Memberships(self.db)
        self.invites = Invites(self.db)
        self.updates = Updates(self.db)
        self.subscriptions = Subscriptions(self.db)
        self.outbox = Outbox(self.db)
        self.digests = Digests(self.db)
        self.digest_queue = DigestQueue(self.db)
        self.message_tasks = MessageTasks(self.db)

    async def open(self) -> None:
        """Open the database and bring its schema up to date (or leave it closed)."""
        await self.db.open()
        try:
            await self.db.migrate()
        except BaseException:
            await self.db.close()  # else its threads keep the process from exiting
            raise

    async def close(self) -> None:
        await self.db.close()


__all__ = ["Storage"]
