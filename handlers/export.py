"""/export [csv|xlsx]: the office's file of every task, sent as a document (admins only)."""

from __future__ import annotations

from typing import Literal

from telegram import Update

from bot.context import BotContext
from bot.i18n import t
from bot.parsing import clean, parse_year
from bot.permissions import Action
from bot.statuses import fold
from handlers.common import caller, check, command_text, reply

Format = Literal["csv", "xlsx"]

FORMAT_WORDS: dict[str, Format] = {"xlsx": "xlsx", "excel": "xlsx", "csv": "csv"}
"""What may follow /export, folded; nothing means xlsx, what Excel and WPS open directly."""


def parse_format(text: str) -> tuple[Format, int | None] | None:
    """``[csv|xlsx] [year]``, in either order: the format (xlsx unless said) and the plan
    year (``None``: the current plan); ``None`` when the words are not that."""
    fmt: Format | None = None
    year: int | None = None
    for word in clean(text).split():
        if fmt is None and fold(word) in FORMAT_WORDS:
            fmt = FORMAT_WORDS[fold(word)]
        elif year is None and (parsed := parse_year(word)) is not None:
            year = parsed
        else:
            return None
    return fmt or "xlsx", year


async def export_command(update: Update, context: BotContext) -> None:
    """/export [csv|xlsx]: every task with its state as a file; refused to all but admins."""
    who = await caller(update, context)
    message = update.effective_message
    assert message is not None
    if not (await check(update, who, context, Action.EXPORT)).allowed:
        return
    asked = parse_format(command_text(update))
    if asked is None:
        await reply(update, t(who.lang, "usage.export"))
        return
    fmt, year = asked
    plan = context.plan if year is None else context.plans.get(year)
    if plan is None:
        years = "、".join(str(y) for y in context.plans.years())
        await reply(update, t(who.lang, "plan.no_year", given=str(year), years=years))
        return
    # Imported on first use: openpyxl is a large part of the bot's memory otherwise.
    from bot.export import build

    export = await build(
        plan, context.storage, fmt=fmt, lang=who.lang, zone=context.settings.timezone
    )
    caption = t(
        who.lang,
        "export.caption",
        count=export.count,
        time=f"{export.made_at:%Y-%m-%d %H:%M}",
        zone=context.settings.bot_timezone,
    )
    await message.reply_document(
        export.data, filename=export.filename, caption=caption, do_quote=who.chat.is_group
    )
