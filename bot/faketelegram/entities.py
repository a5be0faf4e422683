"""Entity helpers shared by bot and user messages: auto-detection, trimming, explicit entities."""

from __future__ import annotations

import re
from typing import Any

from bot.faketelegram.html import utf16_len

# Detected in this priority order; a later kind never overlaps an earlier match.
_AUTO_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("url", re.compile(r"\b(?:https?|tg)://[^\s<>\"]+")),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w{1,256}")),
)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""
# Telegram does not look for automatic entities inside these.
_OPAQUE_TYPES = {"code", "pre", "text_link", "text_mention", "custom_emoji", "url", "email"}
KNOWN_TYPES = {
    "mention",
    "hashtag",
    "cashtag",
    "bot_command",
    "url",
    "email",
    "phone_number",
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "blockquote",
    "expandable_blockquote",
    "code",
    "pre",
    "text_link",
    "text_mention",
    "custom_emoji",
    "date_time",
}
_WHITESPACE = " \t\r\n"


def _utf16_index(text: str, index: int, bmp_only: bool) -> int:
    return index if bmp_only else utf16_len(text[:index])


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The part of ``text`` an entity covers (offset and length in UTF-16 units)."""
    units = text.encode("utf-16-le", "surrogatepass")
    return units[2 * offset : 2 * (offset + length)].decode("utf-16-le", "surrogatepass")


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram adds on its own: URLs, e-mails, /commands, @mentions and #hashtags."""
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
                    end -= 1
            if kind == "hashtag" and text[start + 1 : end].isdigit():
                continue
            if not any(
                start < other_end and other_start < end for other_start, other_end, _ in found
            ):
                found.append((start, end, kind))
    if not found:
        return []
    bmp_only = utf16_len(text) == len(text)
    entities = []
    for start, end, kind in sorted(found):
        offset = _utf16_index(text, start, bmp_only)
        length = _utf16_index(text, end, bmp_only) - offset
        entities.append({"type": kind, "offset": offset, "length": length})
    return entities


def merge_detected(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add auto-detected entities that do not fall inside code, links or custom emoji."""
    detected = detect_entities(text)
    if not detected:
        return entities
    opaque = [
        (e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in _OPAQUE_TYPES
    ]
    extra = [
        d
        for d in detected
        if not any(d["offset"] < end and start < d["offset"] + d["length"] for start, end in opaque)
    ]
    return sort_entities(entities + extra)


def sort_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Telegram's order: by offset, outer (longer) entities first."""
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace as Telegram does, clipping entities to the kept text."""
    stripped = text.strip(_WHITESPACE)
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip(_WHITESPACE))])
    total = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def validate_explicit(raw: Any, text: str) -> list[dict[str, Any]]:
    """Check an ``entities`` parameter; returns the entities that fit the text, like Telegram."""
    if not isinstance(raw, list):
        raise ValueError("entities must be an Array")
    total = utf16_len(text)
    entities = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError("MessageEntity must be an Object")
        kind, offset, length = item.get("type"), item.get("offset"), item.get("length")
        if kind not in KNOWN_TYPES:
            raise ValueError(f"unsupported entity type {kind!r}")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0:
            raise ValueError("entity offset and length must be non-negative Integers")
        if kind == "text_link" and not isinstance(item.get("url"), str):
            raise ValueError('field "url" must be specified for text_link entities')
        if kind == "text_mention" and not isinstance(item.get("user"), dict):
            raise ValueError('field "user" must be specified for text_mention entities')
        end = min(offset + length, total)
        if end > offset:
            entities.append({**item, "offset": offset, "length": end - offset})
    return sort_entities(entities)
