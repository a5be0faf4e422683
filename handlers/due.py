"""/due <n|all> <date>: the office sets when tasks fall due (a date already past is accepted:
the task is late), the followers are told, and reminders whose moment has passed go at once."""

from __future__ import annotations

import logging
from datetime import date

from telegram import Update

from bot.context import BotContext
from bot.i18n import Markup, t
from bot.lights import year_end
from bot.parsing import parse_due
from bot.permissions import Action
from bot.render.tasks import due_phrase
from handlers.cards import send_card
from handlers.common import Caller, caller, check, command_text, read_args, reply
from storage.db import DatabaseUnusable
from storage.due import DueSet

log = logging.getLogger(__name__)


async def due_command(update: Update, context: BotContext) -> None:
    """/due 12 2024-06-30, /due all 12-31."""
    who = await caller(update, context)
    if not (await check(update, who, context, Action.SET_DUE)).allowed:
        return
    plan, text = context.plan, command_text(update)
    this_year = context.storage.db.clock().astimezone(context.settings.timezone).year
    args = await read_args(update, who, lambda: parse_due(text, len(plan.tasks), this_year))
    if args is None:
        return
    chosen = (
        plan.tasks
        if args.task is None
        else [task for task in plan.tasks if task.number == args.task]
    )
    done = await context.storage.due.change(
        {task.number: task.departments for task in chosen}, args.due,
        default=year_end(plan.year), by=who.user_id, chat_id=who.chat.chat_id,
        source_update=who.update_id,
    )  # fmt: skip
    try:
        await _answer(update, context, who, args.task, args.due, done)
    finally:
        await _owe_what_came_due(context, done.notifications)


async def _owe_what_came_due(context: BotContext, owed: int) -> None:
    """A date already close or past: its reminder or overdue notice goes now, not at the next
    minute's tick, and after the answer, which it would otherwise often overtake in this very
    chat. The date is recorded by now: if the reminders cannot be owed, the tick owes them
    later, and the person is not told that the date was not saved."""
    try:
        owed += await context.reminders.owe_due()
    except DatabaseUnusable as exc:
        log.warning("due: reminders left to the next tick: %s", exc)
    if owed:
        context.wake_sender()


async def _answer(
    update: Update, context: BotContext, who: Caller, task: int | None, due: date, done: DueSet
) -> None:
    """What ``/due`` did: the count of tasks changed, or the task's card with its new date."""
    if task is None:
        key = "due.set_all" if done.changed else "due.unchanged_all"
        text = t(
            who.lang, key, count=len(done.changed), same=len(done.unchanged), due=due.isoformat()
        )
        await reply(update, text)
        return
    state = await context.storage.updates.state(task)
    at = await context.moment(tasks=[task])
    key = "due.set" if done.changed else "due.unchanged"
    prefix: Markup = t(
        who.lang, key, number=task, due=due_phrase(task, state, at, who.lang, full=True)
    )
    await send_card(update, context, who, task, prefix)
