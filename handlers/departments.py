"""A department named in a command, when the name does not settle it: the choice buttons.

Shared by every feature that takes a department (/invite, /bind, /subscribe, …); the buttons'
data say which command to finish, and ``membership.dept_tap`` finishes it.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import callbacks
from bot.departments import Resolution
from bot.i18n import Language, t
from bot.plan import Department
from bot.render.text import shorten
from handlers.common import Caller, reply

QUERY_SHOWN = 40
"""At most this much of a name that matched nothing is quoted back (it may be a paragraph)."""


def choices(
    departments: tuple[Department, ...], action: str, arg: str, lang: Language
) -> InlineKeyboardMarkup:
    """A button per department (at most 8, two per row)."""
    buttons = [
        InlineKeyboardButton(
            d.display(lang)[:40], callback_data=callbacks.dept(action, d.code, arg)
        )
        for d in departments[:8]
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


async def answer_unresolved(
    update: Update, who: Caller, resolution: Resolution, action: str, arg: str = ""
) -> None:
    """Several departments match: buttons to choose; none: look-alikes to choose, or a hint."""
    query = shorten(resolution.query, QUERY_SHOWN)
    if resolution.ambiguous:
        count = len(resolution.candidates)
        text = t(who.lang, "dept.ambiguous", query=query, count=count)
        await reply(update, text, choices(resolution.candidates, action, arg, who.lang))
    elif resolution.suggestions:
        text = t(who.lang, "dept.did_you_mean", query=query)
        await reply(update, text, choices(resolution.suggestions, action, arg, who.lang))
    else:
        await reply(update, t(who.lang, "dept.unknown", query=query))
