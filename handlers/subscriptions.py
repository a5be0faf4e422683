"""Following tasks and departments: /subscribe, /unsubscribe, /subscriptions, the follow button.

In a private chat a person decides for themselves; in a group, admins and the bound
department's managers decide for the group (``Action.CHAT_SETTINGS``).
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import callbacks
from bot.context import BotContext
from bot.i18n import Language, Markup, join, plain, t
from bot.parsing import parse_task_number
from bot.permissions import Action, decide
from bot.statuses import fold
from handlers.cards import archived, refresh_card
from handlers.common import (
    Caller,
    caller,
    check,
    command_words,
    edit,
    known,
    read_args,
    read_tap,
    refusal,
    reply,
)
from handlers.departments import answer_unresolved
from storage.subscriptions import EVERYTHING, Follow, Subscription

EVERYTHING_WORDS = {"all", "*", "全部", "所有", "一切", "整体"}
KINDS = {"t": Follow.TASK, "d": Follow.DEPT, "a": Follow.ALL}


def describe(context: BotContext, kind: Follow, target: str, lang: Language) -> Markup:
    if kind is Follow.TASK:
        return t(lang, "follow.what.task", number=target)
    if kind is Follow.DEPT:
        return t(lang, "follow.what.dept", dept=context.plan.department(target).display(lang))
    return t(lang, "follow.what.all")


async def change(
    context: BotContext, who: Caller, kind: Follow, target: str, on: bool
) -> tuple[bool, Markup]:
    """Follow or stop following, if this person may decide for this chat."""
    decision = decide(who.actor, Action.CHAT_SETTINGS, chat=who.chat)
    if not decision.allowed:
        return False, refusal(decision, who.lang, context)
    subscriptions = context.storage.subscriptions
    what = describe(context, kind, target, who.lang)
    if on:
        added = await subscriptions.add(who.chat.chat_id, kind, target, by=who.user_id)
        return True, t(who.lang, "follow.added" if added else "follow.already", what=what)
    removed = await subscriptions.remove(who.chat.chat_id, kind, target)
    return True, t(who.lang, "follow.removed" if removed else "follow.not_following", what=what)


async def _target(
    update: Update, context: BotContext, who: Caller, on: bool
) -> tuple[Follow, str] | None:
    """Read ``<n|dept|all>``; answer for the person when it cannot be read."""
    words = command_words(update)
    if not words:
        await reply(update, t(who.lang, "usage.subscribe" if on else "usage.unsubscribe"))
        return None
    text = " ".join(words)
    if fold(text) in EVERYTHING_WORDS:
        return Follow.ALL, EVERYTHING
    if len(words) == 1 and fold(words[0]).lstrip("#").isdigit():
        word, count = words[0], len(context.plan.tasks)
        number = await read_args(update, who, lambda: parse_task_number(word, count))
        return None if number is None else (Follow.TASK, str(number))
    resolution = context.resolver.resolve(text)
    if resolution.department is None:
        await answer_unresolved(update, who, resolution, "sub" if on else "uns")
        return None
    return Follow.DEPT, resolution.department.code


async def subscribe_command(update: Update, context: BotContext) -> None:
    """/subscribe <n|dept|all>."""
    await _subscribe(update, context, on=True)


async def unsubscribe_command(update: Update, context: BotContext) -> None:
    """/unsubscribe <n|dept|all>."""
    await _subscribe(update, context, on=False)


async def _subscribe(update: Update, context: BotContext, *, on: bool) -> None:
    who = await caller(update, context)
    if not (await check(update, who, context, Action.CHAT_SETTINGS)).allowed:
        return
    target = await _target(update, context, who, on)
    if target is None:
        return
    _, text = await change(context, who, *target, on)
    await reply(update, text)


async def listing(context: BotContext, who: Caller) -> tuple[Markup, InlineKeyboardMarkup | None]:
    subscriptions = await context.storage.subscriptions.of_chat(who.chat.chat_id)
    if not subscriptions:
        return t(who.lang, "follow.none"), None
    lines = [t(who.lang, "follow.title", count=len(subscriptions))]
    buttons = []
    for sub in subscriptions[:40]:
        what = describe(context, sub.kind, sub.target, who.lang)
        lines.append(Markup("• ") + what)
        buttons.append([_unfollow_button(sub, what, who.lang)])
    if len(subscriptions) > 40:
        lines.append(t(who.lang, "follow.more", count=len(subscriptions) - 40))
    return join(lines), InlineKeyboardMarkup(buttons)


def _unfollow_button(sub: Subscription, what: Markup, lang: Language) -> InlineKeyboardButton:
    label = plain(t(lang, "button.unfollow_what", what=what), 60)
    return InlineKeyboardButton(label, callback_data=callbacks.unfollow(sub.kind.value, sub.target))


async def subscriptions_command(update: Update, context: BotContext) -> None:
    """/subscriptions: what this chat follows, each with an unfollow button."""
    who = await caller(update, context)
    text, keyboard = await listing(context, who)
    await reply(update, text, keyboard)


async def unfollow_tap(update: Update, context: BotContext) -> None:
    """An unfollow button of /subscriptions: remove it and show the list again."""
    tap = await read_tap(update, context, callbacks.parse_unfollow, lambda d: _known(context, *d))
    if tap is None:
        return
    (kind, target), who = tap.data, tap.who
    done, text = await change(context, who, KINDS[kind], target, on=False)
    await tap.query.answer(plain(text), show_alert=not done)
    if done:
        await edit(tap.message, *await listing(context, who))


def _known(context: BotContext, kind: str, target: str) -> bool:
    if kind == "t":
        return target.isdigit() and context.plan.task(int(target)) is not None
    if kind == "d":
        return target in context.plan.department_by_code
    return target == EVERYTHING


async def follow_tap(update: Update, context: BotContext) -> None:
    """The follow / unfollow button under a card or a notification."""
    tap = await read_tap(update, context, callbacks.parse_follow, lambda d: known(context, d[0]))
    if tap is None:
        return
    (number, on), who = tap.data, tap.who
    if await archived(context, tap.query, who, tap.message):
        return
    done, text = await change(context, who, Follow.TASK, str(number), on)
    await tap.query.answer(plain(text), show_alert=not done)
    if done:
        await refresh_card(context, who, tap.message, number)
