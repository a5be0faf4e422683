"""The weekly digest's text: for a department's group, the whole plan, or a subscriber.

Pure rendering from plain data, so that a digest can be printed at the terminal or checked in a
test. The result is a list of lines; ``split_lines`` makes messages of them without cutting one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.i18n import Language, Markup, esc, t
from bot.lights import is_due_soon, is_overdue, is_quiet
from bot.plan import Plan, Task
from bot.render.tasks import (
    NOTE_EXCERPT,
    Moment,
    counts_text,
    overview,
    stage_counts,
    status_label,
    task_line,
)
from bot.render.text import shorten
from bot.statuses import ICONS
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


def _attention(data: DigestInput, tasks: Sequence[Task], led: Collection[str]) -> list[Markup]:
    """Blocked tasks, overdue ones, those due within 14 days; led tasks with no update for 14
    days. Each task is listed once, under the first of these it is in."""
    at, states = data.at, data.states
    blocked = [x for x in tasks if _status(data, x) is Status.BLOCKED]
    # By number, in a set: `x not in blocked` compared Task models field by field, once per
    # blocked task for every task (1 s for a department of 4,000 tasks).
    listed = {x.number for x in blocked}
    overdue = [
        x for x in tasks
        if x.number not in listed and is_overdue(states.get(x.number), at.due.of(x.number), at.today)
    ]  # fmt: skip
    listed |= {x.number for x in overdue}
    soon = [
        x for x in tasks
        if x.number not in listed and is_due_soon(states.get(x.number), at.due.of(x.number), at.today)
    ]  # fmt: skip
    listed |= {x.number for x in soon}
    quiet = [
        x for x in tasks
        if x.lead in led and x.number not in listed
        and is_quiet(states.get(x.number), at.now, at.tracking_since)
    ]  # fmt: skip
    lines = [t(data.lang, "digest.attention")]
    if not (blocked or overdue or soon or quiet):
        return [*lines, t(data.lang, "digest.all_well")]
    for key, found in (
        ("digest.blocked", blocked), ("digest.overdue", overdue), ("digest.due_soon", soon),
        ("digest.quiet", quiet),
    ):  # fmt: skip
        if found:
            lines.append(t(data.lang, key, count=len(found)))
            lines += [_line(x, data) for x in found[:MAX_ATTENTION]]
            if len(found) > MAX_ATTENTION:
                lines.append(t(data.lang, "digest.more", count=len(found) - MAX_ATTENTION))
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
    counts = stage_counts(tasks, data.states)
    return [
        _heading(data, plan.department(dept).display(lang)),
        t(lang, "digest.counts", count=len(tasks), led=len(led), counts=counts_text(counts)),
        Markup(""),
        *_changes(data, {x.number for x in tasks}),
        Markup(""),
        *_attention(data, tasks, {dept}),
    ]


def whole_plan_digest(data: DigestInput, reported: Collection[str]) -> list[Markup]:
    """Progress by section and department, and a roll-call of departments gone silent."""
    plan, lang = data.plan, data.lang
    leads = sorted({x.lead for x in plan.tasks}, key=lambda c: plan.department(c).display(lang))
    silent = [code for code in leads if code not in reported]
    changed_tasks = {u.task for u in data.changes}
    lines = [
        _heading(data, t(lang, "digest.whole_plan")),
        t(lang, "digest.plan_changes", updates=len(data.changes), tasks=len(changed_tasks)),
        Markup(""),
        *overview(plan, data.states, lang, data.at)[1:-1],
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
        tasks = plan.tasks_of(code)
        counts = counts_text(stage_counts(tasks, data.states))
        lines.append(
            t(lang, "digest.followed_dept", dept=plan.department(code).display(lang), counts=counts)
        )
    if everything:
        total = counts_text(stage_counts(plan.tasks, data.states))
        lines.append(t(lang, "digest.followed_all", count=len(plan.tasks), counts=total))
    return lines


def week_of(local: datetime) -> Week:
    year, number, weekday = local.isocalendar()
    return Week(f"{year}-W{number:02d}", local.date() - timedelta(days=weekday - 1))
