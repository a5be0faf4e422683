"""The message a following chat gets when a task moves."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import Language, Markup, esc, join, t
from bot.plan import Plan, Task
from bot.render.outgoing import Outgoing
from bot.render.tasks import SHORT_TEXT, card_keyboard, update_line
from bot.render.text import shorten
from storage.updates import StatusUpdate


def notification_text(plan: Plan, task_number: int, line: Markup, lang: Language) -> Markup:
    task = plan.task(task_number)
    assert task is not None
    lead = plan.department(task.lead).display(lang)
    return join(
        [
            t(lang, "notify.title", number=task_number, text=shorten(task.text, SHORT_TEXT * 2)),
            t(lang, "notify.lead", dept=lead),
            line,
        ]
    )


def notification(
    plan: Plan,
    task: Task,
    update: StatusUpdate,
    *,
    now: datetime,
    lang: Language,
    following: bool,
) -> Outgoing:
    """The notification of ``update``, with the task's buttons as this chat sees them."""
    text = notification_text(plan, task.number, update_line(update, plan, now, lang), lang)
    keyboard = card_keyboard(task, lang, following=following)
    return Outgoing(esc(text), keyboard, task.number, update.year)
