"""Sending and refreshing task cards, and remembering which message shows which task."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update

from bot.context import BotContext
from bot.i18n import Markup
from bot.render.tasks import card_keyboard, task_card
from handlers.common import Caller, edit, reply
from storage.subscriptions import Follow


async def follows_task(context: BotContext, chat_id: int, number: int) -> bool:
    subscriptions = await context.storage.subscriptions.of_chat(chat_id)
    return any(s.kind is Follow.TASK and s.target == str(number) for s in subscriptions)


async def card(
    context: BotContext, who: Caller, number: int
) -> tuple[Markup, InlineKeyboardMarkup]:
    """The card of a task as this chat sees it (its follow button depends on the chat)."""
    task = context.plan.task(number)
    assert task is not None
    state = await context.storage.updates.state(number)
    history = await context.storage.updates.history(number, limit=5)
    text = task_card(context.plan, task, state, history, at=context.moment(), lang=who.lang)
    following = await follows_task(context, who.chat.chat_id, number)
    return text, card_keyboard(task, who.lang, following=following)


async def send_card(
    update: Update, context: BotContext, who: Caller, number: int, prefix: Markup | None = None
) -> None:
    """Send the card (after ``prefix``, e.g. a confirmation) and remember it for replies."""
    text, keyboard = await card(context, who, number)
    if prefix is not None:
        text = Markup(prefix + "\n\n" + text)
    sent = await reply(update, text, keyboard)
    if sent is not None:
        await context.storage.message_tasks.remember(sent.chat_id, sent.message_id, number)


async def refresh_card(context: BotContext, who: Caller, message: Message, number: int) -> None:
    """Show the task's current state in a card already on screen (not if nothing changed)."""
    text, keyboard = await card(context, who, number)
    await edit(message, text, keyboard)


async def task_of_message(context: BotContext, chat_id: int, message_id: int) -> int | None:
    """The task a bot message shows. A card's link is written before the next update of its
    chat is handled (the inbox keeps a chat's updates in order), so a reply always finds it."""
    return await context.storage.message_tasks.task_of(chat_id, message_id)
