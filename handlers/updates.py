"""Recording progress: /update, /note, the status buttons, the note button and replies.

Each checks permission through :mod:`bot.permissions`, commits the update (with the
notifications it owes) and only then answers, so what the person is told is on disk.
"""

from __future__ import annotations

from telegram import ForceReply, Update

from bot import callbacks
from bot.context import BotContext
from bot.i18n import Markup, plain, t
from bot.parsing import parse_note, parse_note_args, parse_update
from bot.permissions import Action, decide
from bot.plan import Task
from bot.render.tasks import status_label
from bot.statuses import ICONS, STAGE_ICONS, Stage
from handlers.cards import archived, refresh_card, send_card, task_of_message
from handlers.closing import answer_reason
from handlers.common import (
    Caller,
    caller,
    check,
    check_tap,
    command_text,
    known,
    read_args,
    read_tap,
    reply,
)
from handlers.errors import private_text
from storage.closures import Closure, DoneRule
from storage.updates import Recorded, Status


def _confirmation(who: Caller, recorded: Recorded) -> Markup:
    update = recorded.update
    if update.kind == "note":
        return t(who.lang, "update.noted", number=update.task)
    progress = f" {update.progress}%" if update.progress is not None else ""
    if update.status is Status.DONE and recorded.closure is Closure.AWAITING:
        return t(
            who.lang, "update.awaiting", number=update.task, icon=STAGE_ICONS[Stage.AWAITING],
            progress=progress,
        )  # fmt: skip
    return t(
        who.lang,
        "update.recorded",
        number=update.task,
        icon=ICONS[update.status],
        label=status_label(update.status, who.lang),
        progress=progress,
    )


def done_rule(context: BotContext, who: Caller) -> DoneRule:
    """What this person's done does: closes the task at once (the office's own, or when the
    office need not confirm), or asks the office, whose chats get its card."""
    closes = decide(who.actor, Action.CLOSE_TASK, chat=who.chat).allowed
    admins = tuple(sorted(context.settings.bot_admins))
    return DoneRule(closes or not context.settings.close_needs_confirmation, admins)


async def is_closed(context: BotContext, task: Task) -> bool:
    """Whether the office closed the task (only the office changes its status then)."""
    state = await context.storage.updates.state(task.number)
    return state is not None and state.closed


async def _record(
    context: BotContext,
    who: Caller,
    task: Task,
    acting_for: str | None,
    *,
    status: Status | None = None,
    progress: int | None = None,
    note: str | None = None,
) -> Recorded:
    """Commit the update and its notifications, then set the sender going."""
    recorded = await context.storage.updates.record(
        task.number, author_id=who.user_id, dept=acting_for, chat_id=who.chat.chat_id,
        status=status, progress=progress, note=note, departments=task.departments,
        source_update=who.update_id, done=done_rule(context, who),
    )  # fmt: skip
    if recorded.notifications:
        context.wake_sender()
    return recorded


async def update_command(update: Update, context: BotContext) -> None:
    """/update <n> <status> [NN%] [note]."""
    who = await caller(update, context)
    text, count = command_text(update), len(context.plan.tasks)
    args = await read_args(update, who, lambda: parse_update(text, count))
    if args is None:
        return
    task = context.plan.task(args.task)
    assert task is not None
    closed = await is_closed(context, task)
    decision = await check(update, who, context, Action.CHANGE_STATUS, task=task, closed=closed)
    if not decision.allowed:
        return
    recorded = await _record(
        context, who, task, decision.acting_for,
        status=args.status, progress=args.progress, note=args.note,
    )  # fmt: skip
    await send_card(update, context, who, task.number, _confirmation(who, recorded))


async def note_command(update: Update, context: BotContext) -> None:
    """/note <n> <text>."""
    who = await caller(update, context)
    text, count = command_text(update), len(context.plan.tasks)
    args = await read_args(update, who, lambda: parse_note_args(text, count))
    if args is None:
        return
    number, note = args
    task = context.plan.task(number)
    assert task is not None
    decision = await check(update, who, context, Action.ADD_NOTE, task=task)
    if not decision.allowed:
        return
    recorded = await _record(context, who, task, decision.acting_for, note=note)
    await send_card(update, context, who, number, _confirmation(who, recorded))


async def status_tap(update: Update, context: BotContext) -> None:
    """A status button: the same check as /update, a toast, then the card edited in place."""
    tap = await read_tap(update, context, callbacks.parse_status, lambda d: known(context, d.task))
    if tap is None:
        return
    query, who, wanted = tap.query, tap.who, tap.data.status
    task = context.plan.task(tap.data.task)
    assert task is not None
    if await archived(context, query, who, tap.message):
        return
    closed = await is_closed(context, task)
    decision = await check_tap(query, who, context, Action.CHANGE_STATUS, task=task, closed=closed)
    if not decision.allowed:
        return
    state = await context.storage.updates.state(task.number)
    if state is not None and state.status is wanted:
        already = t(who.lang, "update.already", label=status_label(wanted, who.lang))
        await query.answer(plain(already))
        return
    progress = 100 if wanted is Status.DONE else None
    recorded = await _record(
        context, who, task, decision.acting_for, status=wanted, progress=progress
    )
    await query.answer(plain(_confirmation(who, recorded)))
    await refresh_card(context, who, tap.message, task.number)


async def note_tap(update: Update, context: BotContext) -> None:
    """The note button: ask for the text with a forced reply, remembered as this task's."""
    tap = await read_tap(update, context, callbacks.parse_note, lambda n: known(context, n))
    if tap is None:
        return
    query, who = tap.query, tap.who
    task = context.plan.task(tap.data)
    assert task is not None
    if await archived(context, query, who, tap.message):
        return
    decision = await check_tap(query, who, context, Action.ADD_NOTE, task=task)
    if not decision.allowed:
        return
    await query.answer()
    placeholder = plain(t(who.lang, "note.placeholder", number=task.number), 64)
    prompt = await context.bot.send_message(
        who.chat.chat_id,
        t(who.lang, "note.prompt", number=task.number, name=who.name),
        reply_markup=ForceReply(selective=True, input_field_placeholder=placeholder),
    )
    await context.storage.message_tasks.remember(prompt.chat_id, prompt.message_id, task.number)


async def reply_to_task(update: Update, context: BotContext) -> None:
    """Text replying to a card, a notification or a note prompt: a note on that task."""
    message = update.effective_message
    if message is None or message.reply_to_message is None or message.text is None:
        return
    replied = message.reply_to_message
    shown = None
    if replied.from_user is not None and replied.from_user.id == context.bot.id:
        if await answer_reason(update, context, replied.message_id):
            return  # the reason a task is returned, not a note
        shown = await task_of_message(context, message.chat_id, replied.message_id)
    if shown is None:
        if message.chat.type == "private":
            await private_text(update, context)
        return  # in a group: a conversation between people, not meant for the bot
    year, number = shown
    who = await caller(update, context)
    if year != context.plan.year:
        await reply(update, t(who.lang, "plan.read_only", year=year))
        return
    task = context.plan.task(number)
    if task is None:
        return
    text = message.text
    note = await read_args(update, who, lambda: parse_note(text))
    if note is None:
        return
    decision = await check(update, who, context, Action.ADD_NOTE, task=task)
    if not decision.allowed:
        return
    recorded = await _record(context, who, task, decision.acting_for, note=note)
    await reply(update, _confirmation(who, recorded))
