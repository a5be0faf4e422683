"""Everything that touches SQLite. The rest of the code calls these named functions.

``Storage`` opens the database, applies the migrations, and groups the repositories by
feature: ``storage.updates.record(...)``, ``storage.invites.redeem(...)`` and so on.
"""

from __future__ import annotations

from pathlib import Path

from storage.closing import Closing
from storage.closures import Closures
from storage.counting import Counting
from storage.db import Clock, Database, utcnow
from storage.digests import DigestQueue, Digests
from storage.due import Due
from storage.inbox import Inbox
from storage.message_tasks import MessageTasks
from storage.outbox import Outbox
from storage.people import Chats, Invites, Memberships, Users
from storage.plans import Plans
from storage.rounds import Rounds
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
        self.inbox = Inbox(self.db)
        self.plans = Plans(self.db)
        self.counting = Counting(self.db)
        self.rounds = Rounds(self.db)
        self.due = Due(self.db)
        self.closures = Closures(self.db)
        self.closing = Closing(self.db)

    async def open(self, *, plan_year: int | None = None) -> None:
        """Open the database and bring its schema up to date (or leave it closed).

        ``plan_year`` is the year of the plan in TASKS_FILE: rows written before the database
        knew plan years belong to it. It is also the current year until the plans are
        reconciled (``bot/plan_years.py``), or for a database that has no plan yet.
        """
        await self.db.open()
        try:
            await self.db.migrate(values={"plan_year": plan_year})
            current = await self.db.fetchvalue("SELECT year FROM plans WHERE is_current = 1")
        except BaseException:
            await self.db.close()  # else its threads keep the process from exiting
            raise
        self.db.plan_year = int(current) if current is not None else plan_year

    async def close(self) -> None:
        await self.db.close()


__all__ = ["Storage"]
