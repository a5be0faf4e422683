"""Sending and refreshing task cards, and remembering which message shows which task."""

from __future__ import annotations

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update

from bot.context import BotContext
from bot.i18n import Markup, plain, t
from bot.render.tasks import card_keyboard, task_card
from handlers.common import Caller, edit, reply
from storage.subscriptions import Follow


async def follows_task(context: BotContext, chat_id: int, number: int) -> bool:
    """Whether the chat follows the current plan's task (of_chat lists only what goes on)."""
    subscriptions = await context.storage.subscriptions.of_chat(chat_id)
    year = context.plan.year
    return any(
        s.kind is Follow.TASK and s.target == str(number) and s.year == year for s in subscriptions
    )


async def card(
    context: BotContext, who: Caller, number: int, year: int | None = None
) -> tuple[Markup, InlineKeyboardMarkup | None]:
    """The card of a task as this chat sees it (its follow button depends on the chat); an
    earlier year's card has no buttons: that plan is kept to be read, not changed."""
    plan = context.plan if year is None else context.plans.get(year)
    task = plan.task(number) if plan is not None else None
    assert plan is not None and task is not None, "the caller checked the number and year"
    storage = context.storage
    state = await storage.updates.state(number, year=plan.year)
    history = await storage.updates.history(number, limit=5, year=plan.year)
    closing = None
    if state is not None and state.closed and state.closure_event is not None:
        closing = await storage.closures.get(state.closure_event)
    text = task_card(
        plan, task, state, history, at=await context.moment(plan, [number]), lang=who.lang,
        due_change=await storage.due.last_change(number, year=plan.year), closing=closing,
    )  # fmt: skip
    if plan is not context.plan:
        return Markup(text + "\n\n" + t(who.lang, "plan.archived_card", year=plan.year)), None
    following = await follows_task(context, who.chat.chat_id, number)
    current = await context.storage.rounds.current()
    round_id = current.id if current is not None and current.plan_year == plan.year else None
    return text, card_keyboard(task, who.lang, following=following, round_id=round_id)


async def send_card(
    update: Update,
    context: BotContext,
    who: Caller,
    number: int,
    prefix: Markup | None = None,
    *,
    year: int | None = None,
) -> None:
    """Send the card (after ``prefix``, e.g. a confirmation) and remember it for replies."""
    text, keyboard = await card(context, who, number, year)
    if prefix is not None:
        text = Markup(prefix + "\n\n" + text)
    sent = await reply(update, text, keyboard)
    if sent is not None:
        await context.storage.message_tasks.remember(
            sent.chat_id, sent.message_id, number, year=year
        )


async def archived(
    context: BotContext, query: CallbackQuery, who: Caller, message: Message
) -> bool:
    """A button under a card of an earlier year's plan changes nothing: say so in the toast."""
    shown = await context.storage.message_tasks.task_of(message.chat_id, message.message_id)
    if shown is None or shown[0] == context.plan.year:
        return False
    await query.answer(plain(t(who.lang, "plan.read_only", year=shown[0])), show_alert=True)
    return True


async def refresh_card(context: BotContext, who: Caller, message: Message, number: int) -> None:
    """Show the task's current state in a card already on screen (not if nothing changed)."""
    text, keyboard = await card(context, who, number)
    await edit(message, text, keyboard)


async def task_of_message(
    context: BotContext, chat_id: int, message_id: int
) -> tuple[int, int] | None:
    """The ``(year, task)`` a bot message shows. A card's link is written before the next
    update of its chat is handled (the inbox keeps a chat's updates in order), so a reply
    always finds it."""
    return await context.storage.message_tasks.task_of(chat_id, message_id)
