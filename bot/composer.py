"""What an outbox row becomes when it is sent: composed at delivery, in the chat's language.

An outbox row stores what is owed (``{"task": 12, "update_id": 345}``), not a finished text, so
that a message waiting out a restart or a 429 is composed with the chat's current language and
the task's latest buttons when it finally goes. This is the delivery side: each kind's loader
reads what it needs from storage and hands plain data to a pure renderer in ``bot/render/``.
Adding a kind of message is one :class:`~storage.outbox.OutKind` member and one entry in
:data:`LOADERS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from bot.due import moment
from bot.i18n import Language, Markup, esc, pick_language, t
from bot.plan import Plan
from bot.plan_years import PlanYears
from bot.render.outgoing import Edit, Outgoing
from bot.render.rounds import RoundView, department_page
from bot.render.tasks import Moment
from bot.rounds import missing_view, view_of
from storage import Storage
from storage.closures import Event
from storage.outbox import OutboxItem, OutKind
from storage.rounds import Reminder, SlotState
from storage.subscriptions import Follow

Compose = Callable[[OutboxItem], Awaitable[Outgoing | None]]
"""Turns a row into a message; ``None`` when there is nothing left to send for it."""


@dataclass(frozen=True)
class Sources:
    """What a loader may read: the bot's storage and plans, and the default language."""

    storage: Storage
    plans: PlanYears
    default_language: str
    zone: ZoneInfo

    async def chat_language(self, chat_id: int) -> Language:
        chat = await self.storage.chats.get(chat_id)
        return pick_language(chat.language if chat else None, None, self.default_language)

    async def moment(self, plan: Plan, tasks: Iterable[int] | None = None) -> Moment:
        """Now, with ``plan``'s due dates: for the health lights of what is sent."""
        since = await self.storage.db.tracking_since()
        return await moment(self.storage, plan, tracking_since=since, zone=self.zone, tasks=tasks)

    async def follows(self, chat_id: int, year: int, number: int) -> bool:
        """Whether the chat follows this task of this year (for its follow button)."""
        return any(
            s.kind is Follow.TASK and s.target == str(number) and s.year == year
            for s in await self.storage.subscriptions.of_chat(chat_id)
        )


async def _text(sources: Sources, item: OutboxItem) -> Outgoing | None:
    return Outgoing(Markup(item.payload["text"]))


async def _chart(sources: Sources, item: OutboxItem) -> Outgoing | None:
    from bot.render.chart import progress_chart  # matplotlib: imported when first drawn

    lang = pick_language(item.payload.get("lang"), None, sources.default_language)
    plan = sources.plans.current
    states = await sources.storage.updates.states()
    at = await sources.moment(plan)
    # Drawing takes a few hundred milliseconds of CPU: off the event loop.
    png = await asyncio.to_thread(progress_chart, plan, states, lang, at)
    return Outgoing(esc(item.payload.get("caption", "")[:1024]), photo=png)


async def _notification(sources: Sources, item: OutboxItem) -> Outgoing | None:
    from bot.render.notifications import notification

    update = await sources.storage.updates.get(int(item.payload.get("update_id", 0)))
    plan = sources.plans.get(update.year) if update is not None else None
    task = plan.task(update.task) if plan is not None and update is not None else None
    if plan is None or task is None or update is None:
        return None
    following = await sources.follows(item.chat_id, update.year, task.number)
    return notification(
        plan, task, update, now=sources.storage.db.clock(),
        lang=await sources.chat_language(item.chat_id), following=following,
    )  # fmt: skip


async def _round(sources: Sources, item: OutboxItem) -> tuple[RoundView, Language] | None:
    """The open round a round message is about, as its chat reads it; ``None`` once closed."""
    found = await sources.storage.rounds.get(int(item.payload.get("round", 0)))
    plan = sources.plans.get(found.plan_year) if found is not None else None
    if found is None or plan is None or not found.is_open:
        return None
    view = view_of(found, plan, sources.storage.db.clock(), sources.zone)
    return view, await sources.chat_language(item.chat_id)


async def _round_department(sources: Sources, item: OutboxItem, intro_key: str) -> Outgoing | None:
    """A department's list under a line of its own (the request, a reminder); a reminder
    finds nothing to send once everything was answered."""
    seen, dept = await _round(sources, item), str(item.payload.get("dept", ""))
    if seen is None or dept not in seen[0].plan.department_by_code:
        return None
    view, lang = seen
    slots = await sources.storage.rounds.slots(view.round.id, dept)
    if intro_key != "round.request" and all(s.state is not SlotState.MISSING for s in slots):
        return None
    intro = t(lang, intro_key, dept=view.plan.department(dept).display(lang))
    shown = department_page(view, dept, slots, page=1, lang=lang, intro=intro)
    return Outgoing(shown.text, shown.keyboard)


async def _round_request(sources: Sources, item: OutboxItem) -> Outgoing | None:
    return await _round_department(sources, item, "round.request")


async def _round_reminder(sources: Sources, item: OutboxItem) -> Outgoing | None:
    kind = "due" if item.payload.get("kind") == Reminder.DUE else "before"
    return await _round_department(sources, item, f"round.remind_{kind}")


async def _round_missing(sources: Sources, item: OutboxItem) -> Outgoing | None:
    seen = await _round(sources, item)
    if seen is None:
        return None
    view, lang = seen
    intro = t(lang, "round.missing_intro")
    shown = await missing_view(sources.storage, view, lang=lang, intro=intro)
    return Outgoing(shown.text, shown.keyboard)


async def _due_changed(sources: Sources, item: OutboxItem) -> Outgoing | None:
    from bot.render.due import due_changed

    changes = await sources.storage.due.changes(int(n) for n in item.payload.get("changes", []))
    plan = sources.plans.get(changes[0].year) if changes else None
    if plan is None or any(plan.task(c.task) is None for c in changes):
        return None
    changes.sort(key=lambda c: c.task)
    numbers = [c.task for c in changes]
    states = await sources.storage.updates.states(numbers, year=plan.year)
    following = len(numbers) == 1 and await sources.follows(item.chat_id, plan.year, numbers[0])
    return due_changed(
        plan, changes, states, at=await sources.moment(plan, numbers),
        lang=await sources.chat_language(item.chat_id), following=following,
    )  # fmt: skip


async def _due_reminder(sources: Sources, item: OutboxItem) -> Outgoing | None:
    from bot.render.due import REMINDER_KINDS, reminder

    kind, dept = item.payload.get("kind"), item.payload.get("dept")
    plan = sources.plans.get(int(item.payload.get("year", 0)))
    numbers = [int(n) for n in item.payload.get("tasks", [])]
    if plan is None or kind not in REMINDER_KINDS or not numbers:
        return None
    if (dept is None) != (kind == "office") or (dept and dept not in plan.department_by_code):
        return None
    states = await sources.storage.updates.states(numbers, year=plan.year)
    return reminder(
        kind, plan, dept, numbers, states, at=await sources.moment(plan, numbers),
        lang=await sources.chat_language(item.chat_id),
    )  # fmt: skip


async def _close_card(sources: Sources, item: OutboxItem) -> Outgoing | None:
    from bot.render.closing import close_card

    storage = sources.storage
    request = await storage.closures.get(int(item.payload.get("request", 0)))
    plan = sources.plans.get(request.year) if request is not None else None
    task = plan.task(request.task) if plan is not None and request is not None else None
    if request is None or plan is None or task is None or request.kind is not Event.REQUEST:
        return None
    report = await storage.updates.get(request.update_id) if request.update_id else None
    return close_card(
        plan, task, request, report, await storage.closures.answer(request.id),
        await storage.updates.state(task.number, year=plan.year),
        at=await sources.moment(plan, [task.number]),
        lang=await sources.chat_language(item.chat_id),
    )  # fmt: skip


async def _closure(sources: Sources, item: OutboxItem) -> Outgoing | None:
    from bot.render.closing import closure_notice

    event = await sources.storage.closures.get(int(item.payload.get("event", 0)))
    plan = sources.plans.get(event.year) if event is not None else None
    task = plan.task(event.task) if plan is not None and event is not None else None
    if event is None or plan is None or task is None:
        return None
    if event.kind not in (Event.CONFIRM, Event.RETURN):
        return None
    return closure_notice(
        plan, task, event, await sources.storage.updates.state(task.number, year=plan.year),
        at=await sources.moment(plan, [task.number]),
        lang=await sources.chat_language(item.chat_id),
        following=await sources.follows(item.chat_id, plan.year, task.number),
    )  # fmt: skip


async def _edit(sources: Sources, item: OutboxItem) -> Outgoing | None:
    """What another row sent, drawn again as it stands now, to edit its message into."""
    original = await sources.storage.outbox.get(int(item.payload.get("of", 0)))
    if original is None or original.message_id is None or original.chat_id != item.chat_id:
        return None
    if original.kind not in LOADERS or original.kind in (OutKind.EDIT, OutKind.CHART):
        return None
    drawn = await LOADERS[OutKind(original.kind)](sources, original)
    if drawn is None or drawn.photo is not None:
        return None
    edit = Edit(original.message_id, original.id, original.shown)
    return replace(drawn, edit=edit, task=None)  # already remembered, if it shows a task


LOADERS: dict[OutKind, Callable[[Sources, OutboxItem], Awaitable[Outgoing | None]]] = {
    OutKind.TEXT: _text,
    OutKind.NOTIFICATION: _notification,
    OutKind.CHART: _chart,
    OutKind.ROUND_REQUEST: _round_request,
    OutKind.ROUND_REMINDER: _round_reminder,
    OutKind.ROUND_MISSING: _round_missing,
    OutKind.DUE_CHANGED: _due_changed,
    OutKind.DUE_REMINDER: _due_reminder,
    OutKind.CLOSE_CARD: _close_card,
    OutKind.CLOSURE: _closure,
    OutKind.EDIT: _edit,
}
"""One loader per kind of outbox row (a test checks that every kind has one)."""


def composer(
    storage: Storage, plans: PlanYears, default_language: str, *, zone: ZoneInfo
) -> Compose:
    """The function the outbox sender turns rows into messages with (``zone``: the local
    dates of rounds)."""
    sources = Sources(storage, plans, default_language, zone)

    async def compose(item: OutboxItem) -> Outgoing | None:
        try:
            kind = OutKind(item.kind)
        except ValueError:
            return None  # a kind this version does not know: nothing it can send
        return await LOADERS[kind](sources, item)

    return compose
