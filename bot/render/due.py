"""Messages about due dates: a date the office changed, reminders before a task falls due, and
notices of tasks gone overdue (to their department, and the office's list)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from telegram import InlineKeyboardMarkup

from bot.i18n import Language, Markup, esc, join, t
from bot.plan import Plan
from bot.render.outgoing import Outgoing
from bot.render.tasks import SHORT_TEXT, Moment, card_keyboard, due_phrase, task_line
from bot.render.text import shorten
from storage.due import DueChange
from storage.updates import TaskState

MAX_LISTED = 30
"""A due change of many tasks names at most this many of them, one per line."""
REMINDER_KINDS = ("day14", "day1", "overdue", "office")


def due_changed(
    plan: Plan,
    changes: Sequence[DueChange],
    states: Mapping[int, TaskState],
    *,
    at: Moment,
    lang: Language,
    following: bool,
) -> Outgoing:
    """The office changed when tasks fall due: one task with its buttons, or a list."""
    first = changes[0]
    if len(changes) == 1:
        task = plan.task(first.task)
        assert task is not None
        text = join(
            [
                t(
                    lang,
                    "duechange.one",
                    number=task.number,
                    text=shorten(task.text, SHORT_TEXT * 2),
                ),
                t(
                    lang,
                    "duechange.dates",
                    previous=first.previous.isoformat(),
                    due=first.due.isoformat(),
                    by=first.by_name,
                ),
                due_phrase(task.number, states.get(task.number), at, lang, full=True),
            ]
        )
        keyboard: InlineKeyboardMarkup | None = card_keyboard(task, lang, following=following)
        return Outgoing(text, keyboard, task.number, first.year)
    lines = [
        t(lang, "duechange.many", count=len(changes), due=first.due.isoformat(), by=first.by_name)
    ]
    for change in changes[:MAX_LISTED]:
        task = plan.task(change.task)
        assert task is not None
        lines.append(
            t(
                lang,
                "duechange.line",
                number=task.number,
                text=shorten(task.text, SHORT_TEXT),
                previous=change.previous.isoformat(),
            )
        )
    if len(changes) > MAX_LISTED:
        lines.append(t(lang, "duechange.more", count=len(changes) - MAX_LISTED))
    return Outgoing(join(lines))


def reminder(
    kind: str,
    plan: Plan,
    dept: str | None,
    tasks: Sequence[int],
    states: Mapping[int, TaskState],
    *,
    at: Moment,
    lang: Language,
) -> Outgoing:
    """Tasks of a department falling due (``day14``, ``day1``) or gone overdue (``overdue``);
    or the office's list of what went overdue (``office``), by lead department."""
    listed = [x for n in tasks if (x := plan.task(n)) is not None]
    if kind == "office":
        lines = [t(lang, "remind.office", count=len(listed))]
        for code in sorted(
            {x.lead for x in listed}, key=lambda c: plan.department(c).display(lang)
        ):
            lines.append(Markup(f"\n<b>{esc(plan.department(code).display(lang))}</b>"))
            lines += [
                task_line(x, states.get(x.number), at, lang) for x in listed if x.lead == code
            ]
        return Outgoing(join(lines))
    assert dept is not None
    name = plan.department(dept).display(lang)
    lines = [t(lang, f"remind.{kind}", dept=name, count=len(listed))]
    lines += [task_line(x, states.get(x.number), at, lang) for x in listed]
    lines.append(t(lang, "remind.hint"))
    return Outgoing(join(lines))
