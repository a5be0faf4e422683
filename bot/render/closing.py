"""Closing a task (销号): the office's card with its two buttons, and the notices of a task
confirmed closed or returned."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.i18n import Language, Markup, join, t
from bot.plan import Plan, Task
from bot.render.outgoing import Outgoing
from bot.render.tasks import (
    NOTE_EXCERPT,
    SHORT_TEXT,
    Moment,
    card_keyboard,
    dept_names,
    due_phrase,
    status_label,
)
from bot.render.text import shorten
from bot.statuses import ICONS
from storage.closures import ClosureEvent, Event
from storage.updates import StatusUpdate, TaskState

TITLES = {
    None: "close.title_open",
    Event.CONFIRM: "close.title_confirmed",
    Event.RETURN: "close.title_returned",
    Event.WITHDRAW: "close.title_withdrawn",
}


def close_keyboard(request: int, lang: Language) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "button.confirm"), callback_data=callbacks.close(request, True)
                ),
                InlineKeyboardButton(
                    t(lang, "button.return"), callback_data=callbacks.close(request, False)
                ),
            ]
        ]
    )


def close_card(
    plan: Plan,
    task: Task,
    request: ClosureEvent,
    report: StatusUpdate | None,
    answer: ClosureEvent | None,
    state: TaskState | None,
    *,
    at: Moment,
    lang: Language,
) -> Outgoing:
    """The office's card for a task reported done: who reported it and when, its note, when it
    is due; the buttons while it awaits an answer, who answered and how once it has one."""
    kind = None if answer is None else answer.kind
    who = request.by_name
    if report is not None and report.dept:
        who = f"{who}（{plan.department(report.dept).display(lang)}）"
    lines = [
        t(lang, TITLES[kind], number=task.number, text=shorten(task.text, SHORT_TEXT * 2)),
        t(lang, "card.lead", names=dept_names(plan, [task.lead], lang)),
        t(lang, "close.reported", who=who, when=at.local(request.created_at)),
    ]
    if report is not None and report.note:
        lines.append(t(lang, "close.note", note=shorten(report.note, NOTE_EXCERPT)))
    lines.append(t(lang, "card.due", due=due_phrase(task.number, state, at, lang, full=True)))
    if answer is None:
        return Outgoing(join(lines), close_keyboard(request.id, lang))
    when = at.local(answer.created_at)
    if answer.kind is Event.RETURN:
        line = t(lang, "close.returned", name=answer.by_name, when=when, reason=answer.reason or "")
    elif answer.kind is Event.WITHDRAW:
        status = state.status if state is not None else None
        label = Markup(f"{ICONS[status]} {status_label(status, lang)}") if status else Markup("")
        line = t(lang, "close.withdrawn", name=answer.by_name, when=when, status=label)
    else:
        line = t(lang, "close.confirmed", name=answer.by_name, when=when)
    return Outgoing(join([*lines, Markup(""), line]))


def closure_notice(
    plan: Plan,
    task: Task,
    event: ClosureEvent,
    state: TaskState | None,
    *,
    at: Moment,
    lang: Language,
    following: bool,
) -> Outgoing:
    """A task confirmed closed, or returned with the office's reason (with the task's buttons,
    so that the department can carry on from the message)."""
    text = shorten(task.text, SHORT_TEXT * 2)
    when = at.local(event.created_at)
    if event.kind is Event.CONFIRM:
        lines = [
            t(lang, "closed.title", number=task.number, text=text),
            t(lang, "closed.by", name=event.by_name, when=when),
        ]
        return Outgoing(join(lines), None, task.number, event.year)
    progress = f" {state.progress}%" if state is not None and state.progress is not None else ""
    lines = [
        t(lang, "returned.title", number=task.number, text=text),
        t(lang, "returned.reason", reason=event.reason or ""),
        t(lang, "returned.by", name=event.by_name, when=when, progress=progress),
    ]
    keyboard = card_keyboard(task, lang, following=following)
    return Outgoing(join(lines), keyboard, task.number, event.year)
