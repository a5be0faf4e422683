"""The weekly digest: what is due, what it says, and owing it through the outbox.

The database decides what is due, not the scheduler's memory: a chat is due once this ISO week's
digest time (its weekday and HH:MM, in ``BOT_TIMEZONE``) has passed and ``digest_log`` has no
row for the chat and week. Logging the week and owing the messages happen in one transaction,
so any number of restarts and crashes yield exactly one digest per chat per week; a digest missed
while the bot was down goes out when it is back, within the same week, and never in the next.
The JobQueue only asks, every minute and once at start.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.due import moment
from bot.i18n import Language, Markup, pick_language, plain, t
from bot.lights import year_end
from bot.plan import Plan
from bot.render.digest import (
    MAX_ATTENTION,
    MAX_CHANGES,
    DigestInput,
    Week,
    department_digest,
    subscriptions_digest,
    week_of,
    whole_plan_digest,
)
from bot.render.scorecard import worst_rows
from bot.render.tasks import Overview, TimeCounts
from bot.render.text import split_lines
from bot.scorecard import scorecard
from bot.statuses import Stage
from storage import Storage
from storage.counting import PlanCounts, When
from storage.digests import DigestChat, DigestSettings, Message
from storage.outbox import OutKind
from storage.people import WHOLE_PLAN
from storage.subscriptions import Follow
from storage.updates import StatusUpdate

log = logging.getLogger(__name__)

REPORTING_WINDOW = timedelta(days=14)


def scheduled_at(settings: DigestSettings, week: Week, zone: ZoneInfo) -> datetime:
    """This week's digest moment for the chat, as an aware datetime."""
    day = week.monday + timedelta(days=settings.weekday - 1)
    hour, minute = (int(part) for part in settings.at_time.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def is_due(chat: DigestChat, now: datetime, zone: ZoneInfo) -> bool:
    week = week_of(now.astimezone(zone))
    return (
        chat.settings.enabled
        and not chat.sent_this_week
        and now >= scheduled_at(chat.settings, week, zone)
    )


class Digester:
    """Renders digests from storage and owes them to chats through the outbox."""

    def __init__(
        self, storage: Storage, plan: Plan, *, zone: ZoneInfo, default_language: str,
        tracking_since: datetime,
    ) -> None:  # fmt: skip
        self.storage = storage
        self.plan = plan
        self.zone = zone
        self.default_language = default_language
        self.tracking_since = tracking_since

    def week(self, now: datetime) -> Week:
        return week_of(now.astimezone(self.zone))

    async def owe_due(self) -> int:
        """Owe this week's digest to every chat whose time has come; returns how many."""
        now = self.storage.db.clock()
        week = self.week(now)
        owed = 0
        for chat in await self.storage.digest_queue.chats(week.key):
            if not is_due(chat, now, self.zone):
                continue
            messages = await self.messages(chat, now)
            if await self.storage.digest_queue.send_weekly(chat.chat_id, week.key, messages):
                owed += 1
                log.info(
                    "digest %s owed to chat %s (%d messages)", week.key, chat.chat_id, len(messages)
                )
        return owed

    async def owe_now(self, chat: DigestChat) -> None:
        """/digest now: one at once, not counted as the week's."""
        now = self.storage.db.clock()
        await self.storage.digest_queue.send_now(chat.chat_id, await self.messages(chat, now))

    async def messages(self, chat: DigestChat, now: datetime) -> list[Message]:
        lang = pick_language(chat.language, None, self.default_language)
        lines, chart = await self.render(chat, now, lang)
        lines += await self.endings(chat.chat_id, lang)
        messages: list[Message] = [
            (OutKind.TEXT, {"text": str(text)}) for text in split_lines(lines)
        ]
        if chart:
            title = t(lang, "digest.chart_caption", title=self.plan.title, week=self.week(now).key)
            messages.append((OutKind.CHART, {"caption": plain(title, 1024), "lang": lang}))
        return messages

    async def endings(self, chat_id: int, lang: Language) -> list[Markup]:
        """Task subscriptions that ended with their plan year, told once (the weekly digest
        that says so marks them told)."""
        ended = await self.storage.subscriptions.ended_untold(chat_id)
        by_year: dict[int, list[str]] = {}
        for sub in ended:
            by_year.setdefault(sub.year, []).append(sub.target)
        return [
            t(lang, "digest.follows_ended", year=year, tasks="、".join(tasks))
            for year, tasks in sorted(by_year.items())
        ]

    async def render(
        self, chat: DigestChat, now: datetime, lang: Language
    ) -> tuple[list[Markup], bool]:
        """The digest's lines for this chat, and whether a progress chart goes with it.

        What it reads is what it shows: counts are made in SQL, and of the tasks only those
        listed (and of the week's changes the first :data:`MAX_CHANGES`) are read."""
        plan, storage = self.plan, self.storage
        week = self.week(now)
        start = scheduled_start(week, self.zone)
        end = now + timedelta(microseconds=1)
        when = When(
            today=now.astimezone(self.zone).date(),
            now=now,
            tracking_since=self.tracking_since,
            year_end=year_end(plan.year),
        )
        counting, updates = storage.counting, storage.updates
        if chat.binding == WHOLE_PLAN:
            total, changed = await updates.tally_between(start, end)
            data = await self._input(
                now, week, lang, [], changes_total=total, changed_tasks=changed,
                overview=overview_of(await counting.plan(when)),
            )  # fmt: skip
            reported = await counting.reporting(now - REPORTING_WINDOW)
            worst = await scorecard(storage, plan, today=when.today)
            lines = whole_plan_digest(data, reported)
            return lines + worst_rows(worst, plan, now=now, lang=lang), True
        if chat.binding is not None:
            dept = chat.binding
            attention = await counting.attention(dept, when, limit=MAX_ATTENTION)
            listed = sorted({n for found in attention.values() for n in found.tasks})
            data = await self._input(
                now, week, lang, listed,
                changes=await updates.between(start, end, depts=[dept], limit=MAX_CHANGES),
                changes_total=await updates.count_between(start, end, depts=[dept]),
                stages={dept: stages_of(await counting.department_stages(dept))},
                attention=attention,
            )  # fmt: skip
            return department_digest(data, dept), False
        follows = await storage.subscriptions.of_chat(chat.chat_id)
        everything = any(f.kind is Follow.ALL for f in follows)
        depts = sorted({f.target for f in follows if f.kind is Follow.DEPT})
        numbers = sorted({int(f.target) for f in follows if f.kind is Follow.TASK})
        tasks, named = (None, None) if everything else (numbers, depts)
        data = await self._input(
            now, week, lang, numbers,
            changes=await updates.between(
                start, end, tasks=tasks, depts=named, limit=MAX_CHANGES
            ),
            changes_total=await updates.count_between(start, end, tasks=tasks, depts=named),
            stages={d: stages_of(await counting.department_stages(d)) for d in depts},
            overview=overview_of(await counting.plan(when)) if everything else None,
        )  # fmt: skip
        return subscriptions_digest(data, follows), False

    async def _input(
        self,
        now: datetime,
        week: Week,
        lang: Language,
        listed: list[int],
        *,
        changes: list[StatusUpdate] | None = None,
        **counted: Any,
    ) -> DigestInput:
        """What the renderer needs: the states and due dates of the tasks it lists, only."""
        at = await moment(
            self.storage, self.plan, tracking_since=self.tracking_since, zone=self.zone,
            tasks=listed, now=now,
        )  # fmt: skip
        return DigestInput(
            plan=self.plan,
            states=await self.storage.updates.states(listed) if listed else {},
            changes=changes or [],
            at=at,
            week=week,
            lang=lang,
            **counted,
        )


def stages_of(counted: Mapping[str, int]) -> Counter[Stage]:
    """Counts by stage as SQL names them, as the renderer's :class:`Stage`."""
    return Counter({Stage(stage): n for stage, n in counted.items()})


def overview_of(counted: PlanCounts) -> Overview:
    """The whole plan counted in SQL, as the renderer takes it."""
    return Overview(
        total=stages_of(counted.total),
        by_section={k: stages_of(v) for k, v in counted.by_section.items()},
        by_lead={k: stages_of(v) for k, v in counted.by_lead.items()},
        timing=TimeCounts(counted.overdue, counted.soon),
    )


def scheduled_start(week: Week, zone: ZoneInfo) -> datetime:
    """Monday 00:00 local: 'this week' in a digest."""
    return datetime.combine(week.monday, time(0, 0), tzinfo=zone)
