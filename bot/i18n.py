"""The message catalogue: every text the bot shows, in Chinese and English.

``t(lang, key, **fields)`` escapes every field for Telegram's HTML unless it is already
:class:`Markup`, so user-supplied text can never break a message or inject markup.
"""

from __future__ import annotations

import html
import re
from typing import Literal, cast

from bot.locales.en import EN
from bot.locales.zh import ZH

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
CATALOGUE: dict[Language, dict[str, str]] = {"zh": ZH, "en": EN}


class Markup(str):
    """Text that is already valid Telegram HTML: escaped, or built from the catalogue."""

    __slots__ = ()

    def __add__(self, other: str) -> Markup:
        """Joining keeps the text trusted; a plain string joined to it is escaped first."""
        return Markup(str.__add__(self, esc(other)))


def esc(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=False))


def t(lang: Language, key: str, **fields: object) -> Markup:
    template = CATALOGUE[lang][key]
    return Markup(template.format(**{name: esc(value) for name, value in fields.items()}))


def join(parts: list[Markup] | tuple[Markup, ...], separator: str = "\n") -> Markup:
    return Markup(separator.join(parts))


def as_language(code: str | None) -> Language | None:
    """A Telegram ``language_code`` (``en-GB``, ``zh-hans``) as one of ours, if it is one."""
    if not code:
        return None
    base = code.split("-")[0].lower()
    return base if base in LANGUAGES else None


def pick_language(chat_choice: str | None, client: str | None, default: str) -> Language:
    """The chat's own choice (``/lang``), else the person's client language, else the default."""
    return as_language(chat_choice) or as_language(client) or cast(Language, default)


_TAG = re.compile(r"<[^>]+>")


def plain(text: Markup, limit: int = 200) -> str:
    """A catalogue text for places without HTML (toasts): tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", text))[:limit]
