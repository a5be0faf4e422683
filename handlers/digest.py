"""/digest: this chat's weekly digest — show the settings, switch, reschedule, or send one now."""

from __future__ import annotations

import re

from telegram import Update

from bot.context import BotContext
from bot.i18n import t
from bot.parsing import fold_digits
from bot.permissions import Action
from bot.statuses import fold
from handlers.common import Caller, caller, check, command_words, reply

WEEKDAYS = {
    **{word: day for day, words in enumerate((
        ("mon", "monday", "周一", "星期一", "礼拜一", "一"),
        ("tue", "tues", "tuesday", "周二", "星期二", "礼拜二", "二"),
        ("wed", "wednesday", "周三", "星期三", "礼拜三", "三"),
        ("thu", "thur", "thurs", "thursday", "周四", "星期四", "礼拜四", "四"),
        ("fri", "friday", "周五", "星期五", "礼拜五", "五"),
        ("sat", "saturday", "周六", "星期六", "礼拜六", "六"),
        ("sun", "sunday", "周日", "周天", "星期日", "星期天", "礼拜日", "礼拜天", "日", "天"),
    ), start=1) for word in words},
}  # fmt: skip
TIME_RE = re.compile(r"^([01]?[0-9]|2[0-3])[:：.．]([0-5][0-9])$")
"""After :func:`fold_digits`: ASCII digits (a Unicode digit class passed ٥ to the database)."""


async def show(update: Update, context: BotContext, who: Caller) -> None:
    digester = context.digester
    week = digester.week(context.storage.db.clock())
    chat = await context.storage.digest_queue.chat(who.chat.chat_id, week.key)
    if chat is None:
        await reply(update, t(who.lang, "digest.not_eligible"))
        return
    settings = chat.settings
    text = t(
        who.lang,
        "digest.settings",
        state=t(who.lang, "digest.on" if settings.enabled else "digest.off"),
        weekday=t(who.lang, f"weekday.{settings.weekday}"),
        time=settings.at_time,
        zone=context.settings.bot_timezone,
        sent=t(who.lang, "digest.sent" if chat.sent_this_week else "digest.not_sent"),
    )
    await reply(update, text + "\n" + t(who.lang, "usage.digest"))


async def digest_command(update: Update, context: BotContext) -> None:
    """/digest [on|off|now|<weekday> <HH:MM>]."""
    who = await caller(update, context)
    words = command_words(update)
    if not words:
        await show(update, context, who)
        return
    if not (await check(update, who, context, Action.CHAT_SETTINGS)).allowed:
        return
    digests = context.storage.digests
    first = fold(words[0])
    if len(words) == 1 and first in ("on", "off", "开", "开启", "关", "关闭"):
        await digests.save(who.chat.chat_id, enabled=first in ("on", "开", "开启"), by=who.user_id)
    elif len(words) == 1 and first in ("now", "立即", "现在"):
        chat = await context.storage.digest_queue.chat(
            who.chat.chat_id, context.digester.week(context.storage.db.clock()).key
        )
        if chat is None:
            await reply(update, t(who.lang, "digest.not_eligible"))
            return
        await context.digester.owe_now(chat)
        context.wake_sender()
        await reply(update, t(who.lang, "digest.queued"))
        return
    elif len(words) == 2:
        weekday = WEEKDAYS.get(first)
        if weekday is None:
            await reply(update, t(who.lang, "error.weekday", given=words[0][:20]))
            return
        match = TIME_RE.match(fold_digits(words[1]))
        if match is None:
            await reply(update, t(who.lang, "error.time", given=words[1][:20]))
            return
        at_time = f"{int(match.group(1)):02d}:{match.group(2)}"
        await digests.save(who.chat.chat_id, weekday=weekday, at_time=at_time, by=who.user_id)
    else:
        await reply(update, t(who.lang, "usage.digest"))
        return
    await show(update, context, who)
