"""Task lists, the task card, the department table and the overview, as HTML and keyboards."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.i18n import Language, Markup, esc, join, t
from bot.lights import (
    LIGHTS,
    SOON,
    DueDates,
    Light,
    Reason,
    days_left,
    health,
    is_due_soon,
    is_overdue,
)
from bot.plan import Plan, Task
from bot.render.paging import nav_buttons, pages_of
from bot.render.text import age, shorten
from bot.standing import standings
from bot.statuses import ICONS, STAGE_ICONS, Stage, stage_of
from storage.closures import ClosureEvent, Event
from storage.due import DueChange
from storage.updates import NOT_REPORTED, Status, StatusUpdate, TaskState

PAGE_SIZE = 15
SHORT_TEXT = 28
NOTE_EXCERPT = 160


def status_of(state: TaskState | None) -> Status:
    return state.status if state else NOT_REPORTED


def status_label(status: Status, lang: Language) -> Markup:
    return t(lang, f"status.{status.value}")


def dept_names(plan: Plan, codes: Sequence[str], lang: Language) -> Markup:
    separator = "、" if lang == "zh" else ", "
    return esc(separator.join(plan.department(code).display(lang) for code in codes))


def stage_label(stage: Stage, lang: Language) -> Markup:
    return t(lang, f"stage.{stage.value}")


@dataclass(frozen=True)
class Moment:
    """When a text is rendered, in which time zone, since when tasks are tracked and when they
    fall due: everything a health light needs besides the task's state."""

    now: datetime
    tracking_since: datetime
    zone: ZoneInfo
    due: DueDates

    @cached_property
    def today(self) -> date:
        """The local date, by which due dates are counted."""
        return self.now.astimezone(self.zone).date()

    def health(self, task: int, state: TaskState | None) -> tuple[Light, Reason]:
        return health(state, self.now, self.tracking_since, due=self.due.of(task), today=self.today)

    def light(self, task: int, state: TaskState | None) -> str:
        return LIGHTS[self.health(task, state)[0]]

    def local(self, moment: datetime) -> str:
        """A moment as the office reads it: local date and minute."""
        return f"{moment.astimezone(self.zone):%Y-%m-%d %H:%M}"


def short_date(day: date, today: date) -> str:
    """``12-31`` this year, ``2025-03-31`` another."""
    return f"{day:%m-%d}" if day.year == today.year else day.isoformat()


def due_phrase(
    number: int, state: TaskState | None, at: Moment, lang: Language, *, full: bool = False
) -> Markup:
    """When the task is due, and, within 14 days or once past (unless closed), how many days
    are left or over: ``截止 12-31``, ``截止 12-31，还剩 5 天``, ``逾期 3 天（截止 12-31）``."""
    due = at.due.of(number)
    shown = due.isoformat() if full else short_date(due, at.today)
    left = days_left(due, at.today)
    if state is not None and state.closed:
        return t(lang, "due.on", date=shown)
    if is_overdue(state, due, at.today):
        return t(lang, "due.over", date=shown, n=-left)
    if left == 0:
        return t(lang, "due.today", date=shown)
    if left <= SOON:
        return t(lang, "due.left", date=shown, n=left)
    return t(lang, "due.on", date=shown)


def task_line(task: Task, state: TaskState | None, at: Moment, lang: Language) -> Markup:
    """One line of a list: health light, stage icon, number, short text, progress, when it is
    due, and the last update's age."""
    when = age(state.updated_at if state else None, at.now, lang)
    progress = f" {state.progress}%" if state and state.progress is not None else ""
    return Markup(
        f"{at.light(task.number, state)}{STAGE_ICONS[stage_of(state)]} <b>{task.number}</b> "
        f"{esc(shorten(task.text, SHORT_TEXT))}{progress} · {due_phrase(task.number, state, at, lang)}"
        f" · <i>{when}</i>"
    )


@dataclass(frozen=True)
class ListItem:
    task: Task
    group: Markup | None = None
    """A heading shown above the first item of each group (e.g. 'led' / 'participating')."""


@dataclass(frozen=True)
class Page:
    text: Markup
    number: int
    pages: int


def list_page(
    title: Markup,
    items: Sequence[ListItem],
    states: Mapping[int, TaskState],
    *,
    page: int,
    at: Moment,
    lang: Language,
    empty: Markup,
) -> Page:
    """One page of a task list; headings repeat at the top of a page so each page reads alone."""
    page, pages = pages_of(len(items), PAGE_SIZE, page)
    lines = [title]
    if not items:
        lines.append(empty)
    shown_group: Markup | None = None
    for item in items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        if item.group is not None and item.group != shown_group:
            lines.append(Markup(f"\n<b>{item.group}</b>"))
            shown_group = item.group
        lines.append(task_line(item.task, states.get(item.task.number), at, lang))
    if pages > 1:
        lines.append(Markup("\n") + t(lang, "list.page", page=page, pages=pages))
    return Page(join(lines), page, pages)


def page_keyboard(kind: str, query: str, page: Page, lang: Language) -> InlineKeyboardMarkup | None:
    """‹ and › buttons; none when the list fits one page or its query is too long to carry."""
    if page.pages <= 1:
        return None
    buttons = nav_buttons(page.number, page.pages, lang, lambda n: callbacks.page(kind, n, query))
    return InlineKeyboardMarkup([buttons]) if buttons else None


def update_line(update: StatusUpdate, plan: Plan, now: datetime, lang: Language) -> Markup:
    """'2 d ago · Li Wei (CNIPA): ⚪ → 🔵 in progress 40% — note'."""
    who = esc(update.author_name or "?")
    if update.dept:
        who = Markup(f"{who}（{dept_names(plan, [update.dept], lang)}）")
    parts: list[str] = []
    if update.kind == "status":
        if update.status != update.old_status:
            parts.append(
                f"{ICONS[update.old_status]}→{ICONS[update.status]} {status_label(update.status, lang)}"
            )
        if update.progress is not None:
            parts.append(f"{update.progress}%")
    if update.note:
        parts.append(f"“{esc(shorten(update.note, NOTE_EXCERPT))}”")
    return Markup(f"• <i>{age(update.created_at, now, lang)}</i> {who}: {' '.join(parts)}")


def task_card(
    plan: Plan,
    task: Task,
    state: TaskState | None,
    history: Sequence[StatusUpdate],
    *,
    at: Moment,
    lang: Language,
    due_change: DueChange | None = None,
    closing: ClosureEvent | None = None,
) -> Markup:
    """Everything about one task, with its latest updates; always well under 4,096 characters.
    ``due_change``: who set the date in force; ``closing``: the event that closed the task."""
    section = plan.section(task.section)
    where = f"{section.numeral}、{section.title}"
    if task.subsection is not None:
        where += f" · {section.subsections[task.subsection - 1].title}"
    stage = stage_of(state)
    progress = f" · {state.progress}%" if state and state.progress is not None else ""
    lines = [
        t(lang, "card.title", number=task.number, where=where),
        esc(task.text),
        "",
        t(lang, "card.lead", names=dept_names(plan, [task.lead], lang)),
    ]
    if task.participants or task.and_others:
        names = dept_names(plan, task.participants, lang)
        if task.and_others:
            names = Markup(names + t(lang, "card.and_others"))
        lines.append(t(lang, "card.participants", names=names))
    if task.by_duty:
        lines.append(t(lang, "card.by_duty"))
    lines.append(
        t(lang, "card.status", icon=STAGE_ICONS[stage], label=stage_label(stage, lang))
        + Markup(progress)
        + Markup(" · ")
        + t(
            lang,
            f"health.{at.health(task.number, state)[1].value}",
            icon=at.light(task.number, state),
        )
    )
    due = t(lang, "card.due", due=due_phrase(task.number, state, at, lang, full=True))
    if due_change is not None:
        due += t(lang, "card.due_set", name=due_change.by_name, when=at.local(due_change.set_at))
    lines.append(due)
    if stage is Stage.AWAITING:
        lines.append(t(lang, "card.awaiting"))
    elif stage is Stage.CLOSED and closing is not None and closing.kind is Event.CONFIRM:
        lines.append(
            t(lang, "card.confirmed", name=closing.by_name, when=at.local(closing.created_at))
        )
    if history:
        lines.append(t(lang, "card.history"))
        lines.extend(update_line(u, plan, at.now, lang) for u in history)
    else:
        lines.append(t(lang, "card.no_history"))
    return join([Markup(line) for line in lines])


def card_keyboard(
    task: Task, lang: Language, *, following: bool, round_id: int | None = None
) -> InlineKeyboardMarkup:
    """The quick replies under a card or a notification: a tap per status, a note, follow;
    during a supervision round (``round_id``), the statement too."""
    row = [
        InlineKeyboardButton(
            f"{ICONS[status]} {t(lang, f'status.{status.value}')}",
            callback_data=callbacks.status(task.number, status),
        )
        for status in Status
    ]
    extra = [
        InlineKeyboardButton(t(lang, "button.note"), callback_data=callbacks.note(task.number)),
        InlineKeyboardButton(
            t(lang, "button.unfollow" if following else "button.follow"),
            callback_data=callbacks.follow(task.number, not following),
        ),
    ]
    rows = [row[:2], row[2:], extra]
    if round_id is not None:
        data = callbacks.submit(round_id, task.number)
        rows.append([InlineKeyboardButton(t(lang, "button.submit_card"), callback_data=data)])
    return InlineKeyboardMarkup(rows)


def departments_table(
    plan: Plan, states: Mapping[int, TaskState], lang: Language, at: Moment
) -> list[Markup]:
    """Every department: code, name, tasks led and joined, and how many of its led tasks are
    closed and how many await the office's confirmation."""
    led: Counter[str] = Counter(task.lead for task in plan.tasks)
    joined: Counter[str] = Counter(code for task in plan.tasks for code in task.participants)
    standing = standings(plan, states, at.due, at.today)
    lines = [t(lang, "depts.title", count=len(plan.departments))]
    for dept in sorted(plan.departments, key=lambda d: (-led[d.code], -joined[d.code], d.code)):
        lines.append(
            t(
                lang,
                "depts.line",
                code=dept.code,
                name=dept.display(lang),
                led=led[dept.code],
                joined=joined[dept.code],
                closed=standing[dept.code].closed if dept.code in standing else 0,
                awaiting=standing[dept.code].awaiting if dept.code in standing else 0,
            )
        )
    lines.append(t(lang, "depts.hint"))
    return lines


def stage_counts(tasks: Sequence[Task], states: Mapping[int, TaskState]) -> Counter[Stage]:
    """Tasks per stage: closed and awaiting confirmation counted apart."""
    return Counter(stage_of(states.get(task.number)) for task in tasks)


def counts_text(counts: Counter[Stage]) -> str:
    return " ".join(f"{STAGE_ICONS[s]}{counts[s]}" for s in Stage)


@dataclass(frozen=True)
class TimeCounts:
    """How many tasks are overdue, and how many not done fall due within 14 days."""

    overdue: int
    soon: int


def time_counts(tasks: Sequence[Task], states: Mapping[int, TaskState], at: Moment) -> TimeCounts:
    overdue = soon = 0
    for x in tasks:
        state, due = states.get(x.number), at.due.of(x.number)
        overdue += is_overdue(state, due, at.today)
        soon += is_due_soon(state, due, at.today)
    return TimeCounts(overdue, soon)


@dataclass(frozen=True)
class Overview:
    """The plan's tasks counted: per stage, by section, by lead department; overdue and soon."""

    total: Counter[Stage]
    by_section: Mapping[int, Counter[Stage]]
    by_lead: Mapping[str, Counter[Stage]]
    timing: TimeCounts


def plan_overview(plan: Plan, states: Mapping[int, TaskState], at: Moment) -> Overview:
    """The counts, from every task's state (what /overview has at hand for its chart)."""
    by_section: dict[int, Counter[Stage]] = {}
    by_lead: dict[str, Counter[Stage]] = {}
    for task in plan.tasks:
        stage = stage_of(states.get(task.number))
        by_section.setdefault(task.section, Counter())[stage] += 1
        by_lead.setdefault(task.lead, Counter())[stage] += 1
    return Overview(
        stage_counts(plan.tasks, states), by_section, by_lead, time_counts(plan.tasks, states, at)
    )


def overview(
    plan: Plan, states: Mapping[int, TaskState], lang: Language, at: Moment
) -> list[Markup]:
    """Progress of the whole plan, by section and by lead department."""
    return overview_lines(plan, plan_overview(plan, states, at), lang)


def overview_lines(plan: Plan, counted: Overview, lang: Language) -> list[Markup]:
    """The overview's text from its counts (however they were counted)."""
    timing = counted.timing
    lines = [
        t(lang, "overview.title", title=plan.title),
        t(lang, "overview.total", count=counted.total.total(), counts=counts_text(counted.total)),
        t(lang, "overview.time", overdue=timing.overdue, soon=timing.soon),
        Markup(""),
        t(lang, "overview.by_section"),
    ]
    for section in plan.sections:
        counts = counted.by_section.get(section.number, Counter())
        lines.append(esc(f"{section.numeral}、{section.title}  {counts_text(counts)}"))
    lines += [Markup(""), t(lang, "overview.by_department")]
    leads = sorted(counted.by_lead.items(), key=lambda item: (-item[1].total(), item[0]))
    for code, counts in leads:
        lines.append(
            t(
                lang,
                "overview.department",
                name=plan.department(code).display(lang),
                done=counts[Stage.CLOSED],
                total=counts.total(),
                counts=counts_text(counts),
            )
        )
    lines.append(t(lang, "overview.legend"))
    return lines
