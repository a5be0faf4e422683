"""Small text helpers shared by every renderer: shortening, ages, splitting to Telegram's size."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import Language, Markup, t

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024


def units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units); the HTML source bounds the visible text."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, an ellipsis marking the cut; on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def age(then: datetime | None, now: datetime, lang: Language) -> Markup:
    """How long ago, in the words a phone screen has room for."""
    if then is None:
        return t(lang, "age.never")
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return t(lang, "age.now")
    if seconds < 3600:
        return t(lang, "age.minutes", n=seconds // 60)
    if seconds < 86400:
        return t(lang, "age.hours", n=seconds // 3600)
    return t(lang, "age.days", n=seconds // 86400)


def split_lines(lines: list[Markup], limit: int = MESSAGE_LIMIT) -> list[Markup]:
    """Join lines into as few messages as fit, never cutting a line (a longer line is shortened)."""
    messages: list[Markup] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if units(line) > limit:
            line = Markup(line[: limit // 2 - 1] + "…")  # only plain lines can be this long
        extra = units(line) + (1 if current else 0)
        if current and size + extra > limit:
            messages.append(Markup("\n".join(current)))
            current, size = [], 0
            extra = units(line)
        current.append(line)
        size += extra
    if current:
        messages.append(Markup("\n".join(current)))
    return messages
