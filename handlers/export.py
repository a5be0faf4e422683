"""/export [csv|xlsx]: the office's file of every task, sent as a document (admins only)."""

from __future__ import annotations

from typing import Literal

from telegram import Update

from bot.context import BotContext
from bot.i18n import t
from bot.parsing import clean
from bot.permissions import Action
from bot.statuses import fold
from handlers.common import caller, check, command_text, reply

Format = Literal["csv", "xlsx"]

FORMAT_WORDS: dict[str, Format] = {"xlsx": "xlsx", "excel": "xlsx", "csv": "csv"}
"""What may follow /export, folded; nothing means xlsx, what Excel and WPS open directly."""


def parse_format(text: str) -> Format | None:
    """The format asked for, or ``None`` when the words are not one format."""
    words = clean(text).split()
    if not words:
        return "xlsx"
    if len(words) > 1:
        return None
    return FORMAT_WORDS.get(fold(words[0]))


async def export_command(update: Update, context: BotContext) -> None:
    """/export [csv|xlsx]: every task with its state as a file; refused to all but admins."""
    who = await caller(update, context)
    message = update.effective_message
    assert message is not None
    if not (await check(update, who, context, Action.EXPORT)).allowed:
        return
    fmt = parse_format(command_text(update))
    if fmt is None:
        await reply(update, t(who.lang, "usage.export"))
        return
    # Imported on first use: openpyxl is a large part of the bot's memory otherwise.
    from bot.export import build

    export = await build(
        context.plan, context.storage, fmt=fmt, lang=who.lang, zone=context.settings.timezone
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
