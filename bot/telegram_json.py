"""Telegram's JSON as valid Unicode: a lone surrogate becomes U+FFFD before any handler sees it.

JSON may carry half a UTF-16 surrogate pair (``"\\ud800"``), as a client's malformed UTF-16 can
leave in a message. Python decodes it into a string that neither SQLite nor an HTTP request can
encode to UTF-8, so a note, a reply, a search or a department name holding one failed with the
generic error wherever it went next. Cleaning it where Telegram's JSON is read (every Bot API
answer, getUpdates among them, and every webhook post) covers every text a person can send,
in one place; an invalid UTF-8 byte already becomes U+FFFD there, in python-telegram-bot.
"""

from __future__ import annotations

import re
from typing import Any

from telegram.request import HTTPXRequest

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
"""The only way a surrogate gets into decoded JSON: a ``\\uD800``-``\\uDFFF`` escape (a valid
pair decodes to one character; a UTF-8 decoder never yields a surrogate)."""


def valid_unicode(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub(REPLACEMENT, value)
    if isinstance(value, list):
        return [valid_unicode(item) for item in value]
    if isinstance(value, dict):
        return {valid_unicode(key): valid_unicode(item) for key, item in value.items()}
    return value


def may_hold_surrogates(payload: bytes) -> bool:
    """Whether JSON ``payload`` can decode to a surrogate at all: almost never, so the walk of
    :func:`valid_unicode` is only made when it might find something."""
    return _ESCAPED_SURROGATE.search(payload) is not None


class TelegramRequest(HTTPXRequest):
    """PTB's HTTP client, reading Telegram's answers as valid Unicode (PTB's documented place to
    change how the JSON is read)."""

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        parsed = HTTPXRequest.parse_json_payload(payload)
        return valid_unicode(parsed) if may_hold_surrogates(payload) else parsed
