"""Reminders of due dates: 14 days before, the day before, and the morning after (overdue).

The database decides what is due, not the scheduler's memory: a reminder is owed once its
moment (09:00 in ``BOT_TIMEZONE`` on its day) has passed and ``due_reminders`` has no row for
the task, its due date and the kind. Logging the row and owing the messages are one
transaction, so any number of restarts yields each reminder once; a changed due date is a new
key, so its reminders are armed afresh. A moment passed while the bot was down (or before the
date was set) is made up for at once: a reminder while the due date is still ahead, an overdue
notice unless the task was already more than 7 days overdue when first found so (then it is
shown red, and noted, but not announced: a bot started on an old plan floods nobody). A closed
task is reminded of nothing; a task done and awaiting the office is told only that it is late.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.lights import SOON, is_done, year_end
from bot.plan import Plan
from storage import Storage
from storage.due import Remind, Reminder, Standing, Unreminded
from storage.updates import TaskState

log = logging.getLogger(__name__)

AT = time(9, 0)
"""Local time of every reminder on its day."""
LATE_SILENCE = 7
"""An overdue task found more than this many days late is not announced."""
OFFSETS = {Remind.DAY14: -SOON, Remind.DAY1: -1, Remind.OVERDUE: 1}
"""Each reminder's day, counted from the due date."""
AHEAD = (Remind.DAY14, Remind.DAY1)
"""The reminders sent while the due date is still ahead, earliest first."""
KINDS = tuple(Remind)
"""Every kind, in order, as a tuple: ``decide`` looks at each for every task found."""


def standing_of(state: TaskState | None) -> Standing:
    """Where a task's state leaves it, as its reminders care (never reported: not done)."""
    return Standing(done=is_done(state), closed=state is not None and state.closed)


def moment_of(kind: Remind, due: date, zone: ZoneInfo) -> datetime:
    """When a reminder is due: 09:00 local on its day."""
    return datetime.combine(due + timedelta(days=OFFSETS[kind]), AT, tzinfo=zone)


def passed_until(now: datetime, zone: ZoneInfo) -> dict[Remind, date]:
    """For each kind, the latest due date whose reminder's moment has passed at ``now``: the
    last day whose 09:00 has come, less the kind's offset."""
    today = now.astimezone(zone).date()
    last = today if now >= datetime.combine(today, AT, tzinfo=zone) else today - timedelta(days=1)
    return {kind: last - timedelta(days=offset) for kind, offset in OFFSETS.items()}


def decide(
    task: int,
    due: date,
    standing: Standing,
    now: datetime,
    zone: ZoneInfo,
    logged: Collection[Remind],
    *,
    until: Mapping[Remind, date] | None = None,
    today: date | None = None,
) -> list[Reminder]:
    """What to log for one task now: each reminder whose moment has passed and which is not
    logged yet, announced or only noted. Of the reminders ahead, only the latest that has come
    is announced (set late, a task is not told "14 days" and "tomorrow" at once). ``until`` is
    :func:`passed_until` of ``now`` and ``today`` its local date, given when deciding for many
    tasks at once."""
    if standing.closed:
        return []
    today = now.astimezone(zone).date() if today is None else today
    until = passed_until(now, zone) if until is None else until
    passed = [kind for kind in KINDS if kind not in logged and due <= until[kind]]
    if Remind.OVERDUE in passed:
        late = (today - due).days
        return [Reminder(task, due, Remind.OVERDUE, announce=late <= LATE_SILENCE)]
    ahead = [kind for kind in AHEAD if kind in passed]
    if not ahead or today > due or standing.done:
        return []
    *superseded, latest = ahead
    return [Reminder(task, due, kind, announce=False) for kind in superseded] + [
        Reminder(task, due, latest, announce=True)
    ]


class Reminders:
    """Decides which reminders are due and owes them through the outbox."""

    def __init__(
        self, storage: Storage, plan: Plan, *, zone: ZoneInfo, office: Collection[int]
    ) -> None:
        self.storage = storage
        self.plan = plan
        self.zone = zone
        self.office = tuple(sorted(office))

    async def unreminded(self, now: datetime) -> list[Unreminded]:
        """The tasks some reminder is owed for at ``now``, as SQL finds them."""
        return await self.storage.due.unreminded(
            today=now.astimezone(self.zone).date(),
            passed=passed_until(now, self.zone),
            default=year_end(self.plan.year),
            year=self.plan.year,
        )

    async def decided(self, now: datetime) -> list[Reminder]:
        """What to log now, in task order: SQL finds the few tasks a reminder may be owed for,
        and :func:`decide` says which and how."""
        waiting = await self.unreminded(now)
        if not waiting:
            return []
        until, today = passed_until(now, self.zone), now.astimezone(self.zone).date()
        reminders = []
        for w in waiting:
            reminders += decide(
                w.task, w.due, w.standing, now, self.zone, w.logged, until=until, today=today
            )
        return reminders

    async def owe_due(self) -> int:
        """Log every reminder whose moment has come and owe those announced; returns how many
        messages are owed."""
        return await self.owe(await self.decided(self.storage.db.clock()))

    async def owe(self, reminders: list[Reminder]) -> int:
        """Log the reminders decided and owe those announced, in one transaction; returns how
        many messages are owed."""
        if not reminders:
            return 0
        leads = {r.task: self.plan.task_by_number[r.task].lead for r in reminders}
        owed = await self.storage.due.remind(reminders, leads=leads, office=self.office)
        silent = sum(not r.announce for r in reminders)
        log.info(
            "due reminders: %d logged (%d not announced), %d messages owed",
            len(reminders), silent, owed,
        )  # fmt: skip
        return owed
