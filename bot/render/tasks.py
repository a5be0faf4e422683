"""Task lists, the task card, the department table and the overview, as HTML and keyboards."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.i18n import Language, Markup, esc, join, t
from bot.lights import LIGHTS, light
from bot.plan import Plan, Task
from bot.render.text import age, shorten
from bot.statuses import ICONS
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


@dataclass(frozen=True)
class Moment:
    """When a text is rendered, and since when tasks are tracked (for health lights)."""

    now: datetime
    tracking_since: datetime

    def light(self, state: TaskState | None) -> str:
        return LIGHTS[light(state, self.now, self.tracking_since)]


def task_line(task: Task, state: TaskState | None, at: Moment, lang: Language) -> Markup:
    """One line of a list: health light, status icon, number, short text, last update's age."""
    when = age(state.updated_at if state else None, at.now, lang)
    progress = f" {state.progress}%" if state and state.progress is not None else ""
    return Markup(
        f"{at.light(state)}{ICONS[status_of(state)]} <b>{task.number}</b> "
        f"{esc(shorten(task.text, SHORT_TEXT))}{progress} · <i>{when}</i>"
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
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(page, 1), pages)
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
    buttons = []
    if page.number > 1 and (data := callbacks.page(kind, page.number - 1, query)):
        buttons.append(InlineKeyboardButton(t(lang, "button.previous"), callback_data=data))
    if page.number < page.pages and (data := callbacks.page(kind, page.number + 1, query)):
        buttons.append(InlineKeyboardButton(t(lang, "button.next"), callback_data=data))
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
) -> Markup:
    """Everything about one task, with its latest updates; always well under 4,096 characters."""
    section = plan.section(task.section)
    where = f"{section.numeral}、{section.title}"
    if task.subsection is not None:
        where += f" · {section.subsections[task.subsection - 1].title}"
    status = status_of(state)
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
        t(lang, "card.status", icon=ICONS[status], label=status_label(status, lang))
        + Markup(progress)
        + Markup(" · ")
        + t(lang, f"health.{light(state, at.now, at.tracking_since).value}", icon=at.light(state))
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


def departments_table(plan: Plan, states: Mapping[int, TaskState], lang: Language) -> list[Markup]:
    """Every department: code, name, tasks led and joined, and how many of its led tasks are done."""
    led: Counter[str] = Counter(task.lead for task in plan.tasks)
    joined: Counter[str] = Counter(code for task in plan.tasks for code in task.participants)
    done: Counter[str] = Counter(
        task.lead for task in plan.tasks if status_of(states.get(task.number)) is Status.DONE
    )
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
                done=done[dept.code],
            )
        )
    lines.append(t(lang, "depts.hint"))
    return lines


def status_counts(tasks: Sequence[Task], states: Mapping[int, TaskState]) -> Counter[Status]:
    return Counter(status_of(states.get(task.number)) for task in tasks)


def counts_text(counts: Counter[Status]) -> str:
    return " ".join(f"{ICONS[s]}{counts[s]}" for s in Status)


def overview(plan: Plan, states: Mapping[int, TaskState], lang: Language) -> list[Markup]:
    """Progress of the whole plan, by section and by lead department."""
    total = status_counts(plan.tasks, states)
    lines = [
        t(lang, "overview.title", title=plan.title),
        t(lang, "overview.total", count=len(plan.tasks), counts=counts_text(total)),
        Markup(""),
        t(lang, "overview.by_section"),
    ]
    for section in plan.sections:
        tasks = [task for task in plan.tasks if task.section == section.number]
        lines.append(
            esc(f"{section.numeral}、{section.title}  {counts_text(status_counts(tasks, states))}")
        )
    lines += [Markup(""), t(lang, "overview.by_department")]
    by_lead: dict[str, list[Task]] = {}
    for task in plan.tasks:
        by_lead.setdefault(task.lead, []).append(task)
    for code, tasks in sorted(by_lead.items(), key=lambda item: (-len(item[1]), item[0])):
        counts = status_counts(tasks, states)
        lines.append(
            t(
                lang,
                "overview.department",
                name=plan.department(code).display(lang),
                done=counts[Status.DONE],
                total=len(tasks),
                counts=counts_text(counts),
            )
        )
    lines.append(t(lang, "overview.legend"))
    return lines
