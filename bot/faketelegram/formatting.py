"""Turn a text or caption parameter into what Telegram stores, with its length and parse rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.faketelegram.entities import merge_detected, trim, validate_explicit
from bot.faketelegram.errors import bad_request
from bot.faketelegram.html import EntityParseError, parse_html, utf16_len
from bot.faketelegram.models import FakeUser
from bot.faketelegram.params import Params

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
_USER_LINK_RE = re.compile(r"^tg://user\?id=(\d+)$")


@dataclass(frozen=True)
class Formatted:
    """Plain text plus entities, and the source exactly as the bot sent it."""

    text: str
    entities: list[dict[str, Any]]
    source: str
    parse_mode: str | None


def format_text(params: Params, find_user: Callable[[int], FakeUser | None]) -> Formatted:
    """Parse the mandatory ``text`` parameter with its parse_mode or entities."""
    source = params.get_str("text")
    if source is None:
        raise bad_request("message text is empty")
    return _format(params, find_user, source, caption=False)


def format_caption(params: Params, find_user: Callable[[int], FakeUser | None]) -> Formatted | None:
    """Parse the optional ``caption``; None when there is no caption."""
    source = params.get_str("caption")
    if source is None:
        return None
    return _format(params, find_user, source, caption=True)


def _format(
    params: Params, find_user: Callable[[int], FakeUser | None], source: str, *, caption: bool
) -> Formatted:
    entities_key = "caption_entities" if caption else "entities"
    explicit = params.get_json(entities_key, "entities")
    mode = (params.get_str("parse_mode") or "").strip().lower()
    if explicit is not None:
        try:
            text, entities = source, validate_explicit(explicit, source)
        except ValueError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        mode = ""
    elif mode == "html":
        try:
            text, entities = parse_html(source)
        except EntityParseError as exc:
            raise bad_request(exc.description.removeprefix("Bad Request: ")) from None
    elif mode in ("markdown", "markdownv2"):
        raise bad_request(f"parse_mode {params.get_str('parse_mode')} is unsupported in fake")
    elif mode:
        raise bad_request("unsupported parse_mode")
    else:
        text, entities = source, []
    text, entities = trim(text, [_mention(e, find_user) for e in entities])
    size = utf16_len(text)
    if caption:
        if size > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
    elif not text:
        raise bad_request("message text is empty")
    elif size > TEXT_LIMIT:
        raise bad_request("message is too long")
    return Formatted(text, merge_detected(text, entities), source, mode or None)


def _mention(entity: dict[str, Any], find_user: Callable[[int], FakeUser | None]) -> dict[str, Any]:
    """``<a href="tg://user?id=N">`` becomes a text_mention when the user is known."""
    if entity["type"] != "text_link":
        return entity
    match = _USER_LINK_RE.match(entity["url"])
    user = find_user(int(match.group(1))) if match else None
    if user is None:
        return entity
    return {
        "type": "text_mention",
        "offset": entity["offset"],
        "length": entity["length"],
        "user": user.to_api(),
    }
