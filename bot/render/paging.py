"""Pages of a long list: which page is shown, and its ‹ › buttons, for every paged message."""

from __future__ import annotations

from collections.abc import Callable

from telegram import InlineKeyboardButton

from bot.i18n import Language, t


def pages_of(count: int, per_page: int, page: int) -> tuple[int, int]:
    """(the page shown, how many there are): a page number out of range is brought in."""
    pages = max(1, -(-count // per_page))
    return min(max(page, 1), pages), pages


def nav_buttons(
    page: int, pages: int, lang: Language, data_for: Callable[[int], str | None]
) -> list[InlineKeyboardButton]:
    """‹ to the page before and › to the page after, where there is one; ``data_for(n)`` is
    the button data for page n (``None``: no button, e.g. data too long to carry)."""
    buttons = []
    if page > 1 and (data := data_for(page - 1)):
        buttons.append(InlineKeyboardButton(t(lang, "button.previous"), callback_data=data))
    if page < pages and (data := data_for(page + 1)):
        buttons.append(InlineKeyboardButton(t(lang, "button.next"), callback_data=data))
    return buttons
