"""Supervision rounds beside the chat: when statements are due and reminders go out, the lists
the chat and the outbox show, and a round compiled for the office's document.

The schedule follows the digest's design: the database decides what is due. A reminder is due
while its window holds (three days before the due date from 09:00 until the due date's 09:00;
the due date from 09:00 until its end; the office's missing list from 09:00 the morning after)
and ``round_reminders`` has no row for it; logging it and owing its messages is one transaction
(``storage/rounds.py``), so it goes out once through restarts, and at once when its moment has
passed while the bot was down or the round was opened late. The JobQueue only asks.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.i18n import Language, Markup, t
from bot.plan import Plan
from bot.plan_years import stored_years
from bot.render.round_docx import round_docx
from bot.render.round_xlsx import round_xlsx
from bot.render.rounds import (
    Rendered,
    RoundView,
    department_page,
    missing_page,
    office_page,
    worst_first,
)
from bot.round_report import CompiledRound, DepartmentTally, Statement, TaskStatements
from storage import Storage
from storage.files import unreadable
from storage.rounds import Owed, Reminder, Round, SlotState, Tally

log = logging.getLogger(__name__)

REMIND_AT = time(9, 0)
DAYS_BEFORE = 3


def owed_statements(plan: Plan) -> list[Owed]:
    """What a round of this plan asks: each task, of each department named on it."""
    return [
        Owed(task.number, code, code == task.lead)
        for task in plan.tasks
        for code in task.departments
    ]


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def deadline(due: date, zone: ZoneInfo) -> datetime:
    """When statements become late: the end of the due date, local time."""
    return datetime.combine(due + timedelta(days=1), time(0, 0), tzinfo=zone)


def window(kind: Reminder, due: date, zone: ZoneInfo) -> tuple[datetime, datetime | None]:
    """When a reminder of this kind is due: from its moment until the next one takes over."""
    at = {
        Reminder.BEFORE: due - timedelta(days=DAYS_BEFORE),
        Reminder.DUE: due,
        Reminder.MISSING: due + timedelta(days=1),
    }
    start = datetime.combine(at[kind], REMIND_AT, tzinfo=zone)
    if kind is Reminder.BEFORE:
        return start, datetime.combine(due, REMIND_AT, tzinfo=zone)
    if kind is Reminder.DUE:
        return start, deadline(due, zone)
    return start, None


def due_kinds(due: date, now: datetime, zone: ZoneInfo) -> list[Reminder]:
    """The kinds of reminder whose window holds ``now``."""
    kinds = []
    for kind in Reminder:
        start, end = window(kind, due, zone)
        if start <= now and (end is None or now < end):
            kinds.append(kind)
    return kinds


class RoundKeeper:
    """Owes the open round's reminders when they are due (the JobQueue asks every minute)."""

    def __init__(self, storage: Storage, *, zone: ZoneInfo, admins: Collection[int]) -> None:
        self.storage = storage
        self.zone = zone
        self.admins = frozenset(admins)

    async def owe_due(self) -> int:
        """Owe every reminder of the open round whose time has come; returns how many."""
        rounds = self.storage.rounds
        current = await rounds.current()
        if current is None:
            return 0
        owed = 0
        for kind in due_kinds(current.due, self.storage.db.clock(), self.zone):
            if kind is Reminder.MISSING:
                pending = await rounds.office_due(current.id)
            else:
                pending = bool(await rounds.owing(current.id, kind))
            if pending and (count := await rounds.remind(current.id, kind, admins=self.admins)):
                log.info("round %d: %s reminder owed to %d recipient(s)", current.id, kind, count)
                owed += count
        return owed


# --- the lists the chat and the outbox show ---------------------------------------------------


def view_of(round_: Round, plan: Plan, now: datetime, zone: ZoneInfo) -> RoundView:
    return RoundView(round_, plan, local_date(now, zone))


async def department_view(
    storage: Storage,
    view: RoundView,
    dept: str,
    *,
    page: int = 1,
    lang: Language,
    intro: Markup | None = None,
) -> Rendered:
    slots = await storage.rounds.slots(view.round.id, dept)
    return department_page(view, dept, slots, page=page, lang=lang, intro=intro)


async def office_view(
    storage: Storage, view: RoundView, *, page: int = 1, lang: Language
) -> Rendered:
    return office_page(view, await storage.rounds.tally(view.round.id), page=page, lang=lang)


async def missing_view(
    storage: Storage,
    view: RoundView,
    *,
    page: int = 1,
    lang: Language,
    intro: Markup | None = None,
) -> Rendered:
    missing: dict[str, list[int]] = {}
    for slot in await storage.rounds.slots(view.round.id):
        if slot.state is SlotState.MISSING:
            missing.setdefault(slot.dept, []).append(slot.task)
    return missing_page(view, missing, page=page, lang=lang, intro=intro)


# --- a round compiled ----------------------------------------------------------------------


def tally_of(tally: Tally) -> DepartmentTally:
    return DepartmentTally(tally.dept, tally.owed, tally.on_time, tally.late, tally.missing)


async def round_summary(
    storage: Storage, round_id: int, plan: Plan | None = None
) -> tuple[DepartmentTally, ...]:
    """Per department that owes statements in the round: owed, on time, late, missing; worst
    first (most missing, then most late; then in ``plan``'s order of departments, else by code).
    """
    tallies = await storage.rounds.tally(round_id)
    if plan is not None:
        tallies = worst_first(tallies, plan)
    else:
        tallies = sorted(tallies, key=lambda x: (-x.missing, -x.late, x.dept))
    return tuple(tally_of(x) for x in tallies)


async def compiled(
    storage: Storage, plan: Plan, round_id: int, *, zone: ZoneInfo | None = None
) -> CompiledRound:
    """The round as the office's document shows it: every task of the round's plan in plan
    order with each department's latest statement, and the tally worst first. Times are aware,
    in ``zone`` when given. Raises ``LookupError`` for an unknown round, ``ValueError`` when
    ``plan`` is not the round's."""
    round_ = await storage.rounds.get(round_id)
    if round_ is None:
        raise LookupError(f"no round {round_id}")
    if plan.year != round_.plan_year:
        raise ValueError(f"round {round_id} is of the {round_.plan_year} plan, not {plan.year}")

    def local(moment: datetime) -> datetime:
        return moment.astimezone(zone) if zone is not None else moment

    latest = await storage.rounds.latest_statements(round_id)
    owed = await storage.rounds.owed(round_id)
    tasks = []
    for task in plan.tasks:
        statements = {
            code: Statement(
                dept=code,
                author=found.author_name,
                submitted_at=local(found.created_at),
                text=found.text,
                file_name=found.document.file_name if found.document else None,
                late=found.late,
            )
            for code in task.departments
            if (task.number, code) in owed and (found := latest.get((task.number, code)))
        }
        tasks.append(
            TaskStatements(
                number=task.number,
                section=task.section,
                subsection=task.subsection,
                text=task.text,
                lead=task.lead,
                participants=task.participants,
                statements=statements,
            )
        )
    return CompiledRound(
        round_id=round_.id,
        title=round_.title,
        plan_year=round_.plan_year,
        plan_title=plan.title,
        opened_at=local(round_.opened_at),
        due=round_.due,
        closed_at=local(round_.closed_at) if round_.closed_at else None,
        tasks=tuple(tasks),
        tally=await round_summary(storage, round_id, plan),
    )


# --- the office's document ------------------------------------------------------------------

Format = Literal["docx", "xlsx"]
EXPORT_FORMATS: dict[str, Format] = {
    "docx": "docx",
    "word": "docx",
    "xlsx": "xlsx",
    "excel": "xlsx",
}
"""What may follow /round export (folded); nothing means docx, the document reported upward."""
RENDERERS = {"docx": round_docx, "xlsx": round_xlsx}
"""Each format's pure renderer (they import python-docx and openpyxl when first called)."""


@dataclass(frozen=True)
class RoundExport:
    data: bytes
    filename: str
    caption: Markup
    compiled: CompiledRound


async def export_round(
    storage: Storage, plan: Plan, round_: Round, *, fmt: Format, lang: Language, zone: ZoneInfo
) -> RoundExport:
    """The round compiled and rendered (off the event loop: a document takes a moment)."""
    made = await compiled(storage, plan, round_.id, zone=zone)
    render = RENDERERS[fmt]
    data = await asyncio.to_thread(lambda: render(made, plan, lang=lang, zone=zone))
    today = local_date(storage.db.clock(), zone)
    owed = sum(x.owed for x in made.tally)
    missing = sum(x.missing for x in made.tally)
    late = sum(x.late for x in made.tally)
    caption = t(
        lang, "round.export_caption", title=round_.title, depts=len(made.tally), count=owed,
        done=owed - missing, late=late,
    )  # fmt: skip
    return RoundExport(data, f"round-{round_.id}-{today:%Y%m%d}.{fmt}", caption, made)


class RoundExportError(Exception):
    """The round cannot be exported from the database; the message says which and why."""


async def export_database(
    settings: Settings, plan: Plan, *, round_id: int | None, fmt: Format, lang: Language
) -> RoundExport:
    """``python -m bot round export``: a round (the open one, else the last) compiled from the
    database at DATABASE_URL, which it never creates."""
    path = settings.database_path
    if (problem := unreadable(path)) is not None:
        raise RoundExportError(problem)
    storage = Storage(path)
    try:
        await storage.open(plan_year=plan.year)
        years = await stored_years(storage, plan)
        rounds = storage.rounds
        round_ = await rounds.latest() if round_id is None else await rounds.get(round_id)
        if round_ is None:
            known = "no round yet" if round_id is None else f"no round {round_id}"
            raise RoundExportError(f"the database at {path} holds {known}")
        chosen = years.get(round_.plan_year)
        if chosen is None:
            raise RoundExportError(
                f"round {round_.id} is of the {round_.plan_year} plan, which the database no longer keeps"
            )
        return await export_round(
            storage, chosen, round_, fmt=fmt, lang=lang, zone=settings.timezone
        )
    except sqlite3.Error as exc:
        raise RoundExportError(
            f"cannot read the database at {path} (DATABASE_URL): {exc}"
        ) from None
    finally:
        await storage.close()
