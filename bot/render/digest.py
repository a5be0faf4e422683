"""The weekly digest's text: for a department's group, the whole plan, or a subscriber.

Pure rendering from plain data, so that a digest can be printed at the terminal or checked in a
test. The result is a list of lines; ``split_lines`` makes messages of them without cutting one.
The bot counts in SQL and reads only the rows a digest lists (``storage/counting.py``), and
passes those counts and lists in; given only the tasks' states, the same counts and lists are
made here, by the same rules (the tests compare the two).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.i18n import Language, Markup, esc, t
from bot.lights import is_due_soon, is_overdue, is_quiet
from bot.plan import Plan, Task
from bot.render.tasks import (
    NOTE_EXCERPT,
    Moment,
    Overview,
    counts_text,
    overview_lines,
    plan_overview,
    stage_counts,
    status_label,
    task_line,
)
from bot.render.text import shorten
from bot.statuses import ICONS, Stage
from storage.counting import Listed
from storage.subscriptions import Follow, Subscription
from storage.updates import Status, StatusUpdate, TaskState

MAX_CHANGES = 40
MAX_ATTENTION = 30


@dataclass(frozen=True)
class Week:
    key: str
    """ISO week, ``2026-W48``."""
    monday: date

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)


@dataclass(frozen=True)
class DigestInput:
    plan: Plan
    states: Mapping[int, TaskState]
    changes: Sequence[StatusUpdate]
    """This week's updates, oldest first."""
    at: Moment
    week: Week
    lang: Language
    changes_total: int | None = None
    """How many updates the week had when ``changes`` holds only the first of them (a large
    department's digest reads no more than it shows); ``None`` when it holds them all."""
    changed_tasks: int | None = None
    """About how many tasks the week's updates were (``None``: count ``changes``)."""
    stages: Mapping[str, Counter[Stage]] | None = None
    """Each department's tasks per stage, counted already (``None``: count ``states``)."""
    attention: Mapping[str, Listed] | None = None
    """What a department's digest lists, by kind, found already (``None``: from ``states``)."""
    overview: Overview | None = None
    """The whole plan counted already (``None``: count ``states``)."""

    def stages_of(self, dept: str) -> Counter[Stage]:
        if self.stages is not None:
            return self.stages.get(dept, Counter())
        return stage_counts(self.plan.tasks_of(dept), self.states)

    def counted(self) -> Overview:
        return self.overview or plan_overview(self.plan, self.states, self.at)


def _heading(data: DigestInput, scope: str) -> Markup:
    week = data.week
    return t(
        data.lang, "digest.title", scope=scope, week=week.key.split("-W")[1],
        start=week.monday.strftime("%m-%d"), end=week.sunday.strftime("%m-%d"),
    )  # fmt: skip


def change_line(update: StatusUpdate, data: DigestInput) -> Markup:
    """'Task 12 ⚪→🔵 in progress 40% · Ming: “note”'."""
    parts = [str(t(data.lang, "digest.task", number=update.task))]
    if update.kind == "status":
        if update.status != update.old_status:
            parts.append(
                f"{ICONS[update.old_status]}→{ICONS[update.status]} "
                f"{status_label(update.status, data.lang)}"
            )
        if update.progress is not None:
            parts.append(f"{update.progress}%")
    who = esc(update.author_name or "?")
    note = f": “{esc(shorten(update.note, NOTE_EXCERPT // 2))}”" if update.note else ""
    return Markup(f"• {' '.join(parts)} · {who}{note}")


def _changes(data: DigestInput, tasks: Collection[int]) -> list[Markup]:
    changes = [u for u in data.changes if u.task in tasks]
    total = len(changes) if data.changes_total is None else data.changes_total
    lines = [t(data.lang, "digest.changes", count=total)]
    if not changes:
        lines.append(t(data.lang, "digest.no_changes"))
    lines += [change_line(u, data) for u in changes[:MAX_CHANGES]]
    if total > MAX_CHANGES:
        lines.append(t(data.lang, "digest.more", count=total - MAX_CHANGES))
    return lines


ATTENTION_KINDS = (
    ("blocked", "digest.blocked"),
    ("overdue", "digest.overdue"),
    ("due_soon", "digest.due_soon"),
    ("quiet", "digest.quiet"),
)


def attention_of(
    data: DigestInput, tasks: Sequence[Task], led: Collection[str]
) -> dict[str, Listed]:
    """Blocked tasks, overdue ones, those due within 14 days; led tasks with no update for 14
    days. Each task is listed once, under the first of these it is in; each kind cut at
    :data:`MAX_ATTENTION`, with its whole count."""
    at, states = data.at, data.states
    found: dict[str, list[int]] = {}
    for x in tasks:
        state, due = states.get(x.number), at.due.of(x.number)
        if state is not None and state.status is Status.BLOCKED:
            kind = "blocked"
        elif is_overdue(state, due, at.today):
            kind = "overdue"
        elif is_due_soon(state, due, at.today):
            kind = "due_soon"
        elif x.lead in led and is_quiet(state, at.now, at.tracking_since):
            kind = "quiet"
        else:
            continue
        found.setdefault(kind, []).append(x.number)
    return {k: Listed(numbers[:MAX_ATTENTION], len(numbers)) for k, numbers in found.items()}


def _attention(data: DigestInput, attention: Mapping[str, Listed]) -> list[Markup]:
    lines = [t(data.lang, "digest.attention")]
    if not attention:
        return [*lines, t(data.lang, "digest.all_well")]
    for kind, key in ATTENTION_KINDS:
        found = attention.get(kind)
        if found is None:
            continue
        lines.append(t(data.lang, key, count=found.total))
        for number in found.tasks:
            task = data.plan.task(number)
            if task is not None:
                lines.append(_line(task, data))
        if found.total > len(found.tasks):
            lines.append(t(data.lang, "digest.more", count=found.total - len(found.tasks)))
    return lines


def _status(data: DigestInput, task: Task) -> Status:
    state = data.states.get(task.number)
    return state.status if state else Status.NOT_STARTED


def _line(task: Task, data: DigestInput) -> Markup:
    return task_line(task, data.states.get(task.number), data.at, data.lang)


def department_digest(data: DigestInput, dept: str) -> list[Markup]:
    plan, lang = data.plan, data.lang
    tasks = plan.tasks_of(dept)
    led = plan.tasks_of(dept, lead_only=True)
    attention = data.attention
    if attention is None:
        attention = attention_of(data, tasks, {dept})
    counts = counts_text(data.stages_of(dept))
    return [
        _heading(data, plan.department(dept).display(lang)),
        t(lang, "digest.counts", count=len(tasks), led=len(led), counts=counts),
        Markup(""),
        *_changes(data, {x.number for x in tasks}),
        Markup(""),
        *_attention(data, attention),
    ]


def whole_plan_digest(data: DigestInput, reported: Collection[str]) -> list[Markup]:
    """Progress by section and department, and a roll-call of departments gone silent."""
    plan, lang = data.plan, data.lang
    leads = sorted({x.lead for x in plan.tasks}, key=lambda c: plan.department(c).display(lang))
    silent = [code for code in leads if code not in reported]
    updates = len(data.changes) if data.changes_total is None else data.changes_total
    tasks = (
        len({u.task for u in data.changes}) if data.changed_tasks is None else data.changed_tasks
    )
    lines = [
        _heading(data, t(lang, "digest.whole_plan")),
        t(lang, "digest.plan_changes", updates=updates, tasks=tasks),
        Markup(""),
        *overview_lines(plan, data.counted(), lang)[1:-1],
        Markup(""),
        t(lang, "digest.roll_call", count=len(silent)),
    ]
    if silent:
        separator = "、" if lang == "zh" else ", "
        lines.append(esc(separator.join(plan.department(c).display(lang) for c in silent)))
    else:
        lines.append(t(lang, "digest.all_reported"))
    return lines


def subscriptions_digest(data: DigestInput, follows: Sequence[Subscription]) -> list[Markup]:
    """What the chat follows: this week's changes to it, and each followed task's light."""
    plan, lang = data.plan, data.lang
    everything = any(s.kind is Follow.ALL for s in follows)
    depts = {s.target for s in follows if s.kind is Follow.DEPT}
    task_numbers = {int(s.target) for s in follows if s.kind is Follow.TASK}
    covered = {
        x.number for x in plan.tasks
        if everything or x.number in task_numbers or depts.intersection(x.departments)
    }  # fmt: skip
    lines = [_heading(data, t(lang, "digest.yours")), Markup(""), *_changes(data, covered)]
    if task_numbers:
        lines += [Markup(""), t(lang, "digest.followed_tasks")]
        lines += [_line(x, data) for x in plan.tasks if x.number in task_numbers]
    for code in sorted(depts):
        counts = counts_text(data.stages_of(code))
        lines.append(
            t(lang, "digest.followed_dept", dept=plan.department(code).display(lang), counts=counts)
        )
    if everything:
        total = counts_text(data.counted().total)
        lines.append(t(lang, "digest.followed_all", count=len(plan.tasks), counts=total))
    return lines


def week_of(local: datetime) -> Week:
    year, number, weekday = local.isocalendar()
    return Week(f"{year}-W{number:02d}", local.date() - timedelta(days=weekday - 1))
