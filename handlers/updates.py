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
from bot.permissions import Action
from bot.plan import Task
from bot.render.tasks import status_label
from bot.statuses import ICONS
from handlers.cards import archived, refresh_card, send_card, task_of_message
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
from storage.updates import Recorded, Status, StatusUpdate


def _confirmation(who: Caller, recorded: StatusUpdate) -> Markup:
    if recorded.kind == "note":
        return t(who.lang, "update.noted", number=recorded.task)
    progress = f" {recorded.progress}%" if recorded.progress is not None else ""
    return t(
        who.lang,
        "update.recorded",
        number=recorded.task,
        icon=ICONS[recorded.status],
        label=status_label(recorded.status, who.lang),
        progress=progress,
    )


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
        source_update=who.update_id,
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
    decision = await check(update, who, context, Action.CHANGE_STATUS, task=task)
    if not decision.allowed:
        return
    recorded = await _record(
        context, who, task, decision.acting_for,
        status=args.status, progress=args.progress, note=args.note,
    )  # fmt: skip
    await send_card(update, context, who, task.number, _confirmation(who, recorded.update))


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
    await send_card(update, context, who, number, _confirmation(who, recorded.update))


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
    decision = await check_tap(query, who, context, Action.CHANGE_STATUS, task=task)
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
    await query.answer(plain(_confirmation(who, recorded.update)))
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
    await reply(update, _confirmation(who, recorded.update))
