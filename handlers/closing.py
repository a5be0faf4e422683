"""Closing a task (销号): /confirm, /return, the office card's ✅ 销号 and ↩️ 退回 buttons, and the
forced reply that gives a return's reason. Each answer is recorded once (by the update's id);
the cards' other copies are edited and the department told through the outbox."""

from __future__ import annotations

from telegram import ForceReply, Update

from bot import callbacks
from bot.context import BotContext
from bot.i18n import Markup, plain, t
from bot.parsing import parse_note, parse_return, parse_task_only
from bot.permissions import Action
from bot.plan import Task
from bot.render.tasks import stage_label
from bot.statuses import stage_of
from handlers.cards import send_card
from handlers.common import (
    Caller,
    caller,
    check,
    check_tap,
    command_text,
    read_args,
    read_tap,
    reply,
    stale,
)
from storage.closing import Answer, Answered, Asked
from storage.closures import ClosureEvent, Event


def asked(who: Caller, task: Task, request: int | None = None) -> Asked:
    """The answer's question: this task, by this person, here, for this update."""
    return Asked(
        task.number, task.lead, task.departments, who.user_id, who.chat.chat_id,
        who.update_id, request,
    )  # fmt: skip


def outcome_text(context: BotContext, who: Caller, task: Task, answered: Answered) -> Markup:
    """What the admin is told: done, answered before (by whom), or not awaiting at all."""
    if answered.outcome is Answer.DONE:
        event = answered.event
        key = "confirm.done" if event is not None and event.kind is Event.CONFIRM else "return.done"
        return t(who.lang, key, number=task.number)
    if answered.outcome is Answer.ANSWERED:
        return earlier_answer(context, who, task.number, answered.event)
    stage = stage_label(stage_of(answered.state), who.lang)
    return t(who.lang, "close.not_awaiting", number=task.number, stage=stage)


def earlier_answer(
    context: BotContext, who: Caller, number: int, event: ClosureEvent | None
) -> Markup:
    if event is None:
        return t(who.lang, "close.gone", number=number)
    when = f"{event.created_at.astimezone(context.settings.timezone):%m-%d %H:%M}"
    return t(
        who.lang, f"close.already_{event.kind.value}", number=number, name=event.by_name, when=when
    )


async def _answered(
    update: Update, context: BotContext, who: Caller, task: Task, answered: Answered
) -> None:
    if answered.outcome is not Answer.DONE:
        await reply(update, outcome_text(context, who, task, answered))
        return
    try:
        await send_card(
            update, context, who, task.number, outcome_text(context, who, task, answered)
        )
    finally:
        context.wake_sender()  # the cards' edits and the department's notice, after the answer


async def confirm_command(update: Update, context: BotContext) -> None:
    """/confirm <n>: close a task awaiting confirmation."""
    who = await caller(update, context)
    if not (await check(update, who, context, Action.CLOSE_TASK)).allowed:
        return
    text, count = command_text(update), len(context.plan.tasks)
    number = await read_args(update, who, lambda: parse_task_only(text, count, "usage.confirm"))
    if number is None:
        return
    task = context.plan.task(number)
    assert task is not None
    await _answered(
        update, context, who, task, await context.storage.closing.confirm(asked(who, task))
    )


async def return_command(update: Update, context: BotContext) -> None:
    """/return <n> <reason>: send a task awaiting confirmation back, saying why."""
    who = await caller(update, context)
    if not (await check(update, who, context, Action.CLOSE_TASK)).allowed:
        return
    text, count = command_text(update), len(context.plan.tasks)
    args = await read_args(update, who, lambda: parse_return(text, count))
    if args is None:
        return
    number, reason = args
    task = context.plan.task(number)
    assert task is not None
    answered = await context.storage.closing.send_back(asked(who, task), reason)
    await _answered(update, context, who, task, answered)


async def close_tap(update: Update, context: BotContext) -> None:
    """✅ 销号 closes the task at once; ↩️ 退回 asks for the reason with a forced reply."""
    tap = await read_tap(update, context, callbacks.parse_close)
    if tap is None:
        return
    query, who = tap.query, tap.who
    request = await context.storage.closures.get(tap.data.request)
    task = context.plan.task(request.task) if request is not None else None
    if (
        request is None
        or task is None
        or request.kind is not Event.REQUEST
        or request.year != context.plan.year
    ):
        await stale(query, who)
        return
    if not (await check_tap(query, who, context, Action.CLOSE_TASK, task=task)).allowed:
        return
    if tap.data.confirm:
        answered = await context.storage.closing.confirm(asked(who, task, request.id))
        if answered.outcome is Answer.DONE:
            context.wake_sender()  # every copy of the card, this one too, is edited
        await query.answer(plain(outcome_text(context, who, task, answered)))
        return
    answer = await context.storage.closures.answer(request.id)
    if answer is not None:
        await query.answer(plain(earlier_answer(context, who, task.number, answer)))
        return
    await query.answer()
    placeholder = plain(t(who.lang, "return.placeholder", number=task.number), 64)
    prompt = await context.bot.send_message(
        who.chat.chat_id,
        t(who.lang, "return.prompt", number=task.number, name=who.name),
        reply_markup=ForceReply(selective=True, input_field_placeholder=placeholder),
    )
    await context.storage.closures.ask_reason(
        prompt.chat_id, prompt.message_id, request.id, asked_by=who.user_id
    )


async def answer_reason(update: Update, context: BotContext, replied_message_id: int) -> bool:
    """A reply to the prompt ↩️ 退回 sent is the reason the task is returned; ``False`` when the
    message replied to is no such prompt."""
    message = update.effective_message
    assert message is not None
    request_id = await context.storage.closures.prompted(message.chat_id, replied_message_id)
    if request_id is None:
        return False
    who = await caller(update, context)
    request = await context.storage.closures.get(request_id)
    task = context.plan.task(request.task) if request is not None else None
    if request is None or task is None or request.year != context.plan.year:
        await reply(update, t(who.lang, "close.gone", number=request.task if request else "?"))
        return True
    if not (await check(update, who, context, Action.CLOSE_TASK, task=task)).allowed:
        return True
    text = message.text or ""
    reason = await read_args(update, who, lambda: parse_note(text))
    if reason is None:
        return True
    answered = await context.storage.closing.send_back(asked(who, task, request_id), reason)
    await _answered(update, context, who, task, answered)
    return True
