"""Strict port of Telegram's HTML parse mode, so tests see the same "can't parse entities" errors.

The algorithm follows tdlib's ``parse_html``: tags are read left to right, entities are emitted
when their end tag is seen, offsets and lengths are counted in UTF-16 code units. It is stricter
than Telegram in two documented places: an ``&`` that does not start a supported character
entity is an error (the Bot API docs require escaping it), and ``<a>`` needs a valid ``href``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ERROR_PREFIX = "Bad Request: can't parse entities: "

_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([a-zA-Z0-9]+));")
_PLAIN_RUN_RE = re.compile(r"[^<&]+")
_SPACES = " \t\r\n\v\f\0"
_LINK_SCHEMES = ("http://", "https://", "tg://", "ton://")
_BARE_DOMAIN_RE = re.compile(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?:[/?#]\S*)?$")


class EntityParseError(ValueError):
    """Raised for markup Telegram refuses; ``description`` is the Bot API error text."""

    def __init__(self, reason: str) -> None:
        super().__init__(ERROR_PREFIX + reason)
        self.reason = reason

    @property
    def description(self) -> str:
        """The full Bot API description, e.g. ``Bad Request: can't parse entities: ...``."""
        return ERROR_PREFIX + self.reason


@dataclass
class _OpenTag:
    """A start tag waiting for its end tag."""

    name: str
    argument: str
    expandable: bool
    utf16_start: int
    seq: int


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of every Bot API offset and length (a lone
    surrogate, as a client's malformed UTF-16 leaves, is one unit)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def normalize_link(url: str) -> str | None:
    """Telegram's accepted form of an ``<a href>`` target, or None when it would be refused."""
    url = url.strip()
    lowered = url.lower()
    if lowered.startswith(_LINK_SCHEMES):
        rest = url.split("://", 1)[1]
        return url if rest and not any(c in rest for c in " \t\n") else None
    if _BARE_DOMAIN_RE.match(url):
        return "http://" + url + ("" if "/" in url else "/")
    return None


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into plain text and Bot API MessageEntity dicts (UTF-16 units)."""
    if "<" not in source and "&" not in source:
        return source, []
    return _Parser(source).run()


class _Parser:
    """One-shot parser state; a class only to keep the tag helpers short."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.out: list[str] = []
        self.u16 = 0
        self.stack: list[_OpenTag] = []
        self.found: list[tuple[int, int, int, dict[str, Any]]] = []
        self.seq = 0

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        src, i, n = self.src, 0, len(self.src)
        while i < n:
            run = _PLAIN_RUN_RE.match(src, i)
            if run:
                self._emit_text(run.group())
                i = run.end()
            elif src[i] == "&":
                char, i = self._entity(i)
                self._emit_text(char)
            elif i + 1 < n and src[i + 1] == "/":
                i = self._end_tag(i)
            else:
                i = self._start_tag(i)
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        self.found.sort(key=lambda item: (item[0], -item[1], item[2]))
        return "".join(self.out), [entity for *_, entity in self.found]

    def _emit_text(self, text: str) -> None:
        self.out.append(text)
        self.u16 += utf16_len(text)

    def _offset(self, index: int) -> int:
        """Byte offset in the UTF-8 source, as Telegram reports positions."""
        return len(self.src[:index].encode("utf-8"))

    def _entity(self, i: int) -> tuple[str, int]:
        match = _ENTITY_RE.match(self.src, i)
        if not match:
            raise EntityParseError(f"Character entity expected at byte offset {self._offset(i)}")
        decimal, hexadecimal, name = match.groups()
        if name is not None:
            if name not in _NAMED_ENTITIES:
                raise EntityParseError(
                    f'Unsupported HTML entity "&{name};" at byte offset {self._offset(i)}'
                )
            return _NAMED_ENTITIES[name], match.end()
        code = int(decimal, 10) if decimal is not None else int(hexadecimal, 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise EntityParseError(f"Invalid character entity at byte offset {self._offset(i)}")
        return chr(code), match.end()

    def _skip_spaces(self, j: int) -> int:
        while j < len(self.src) and self.src[j] in _SPACES:
            j += 1
        return j

    def _unclosed(self, begin: int) -> EntityParseError:
        return EntityParseError(f"Unclosed start tag at byte offset {self._offset(begin)}")

    def _start_tag(self, begin: int) -> int:
        src, n = self.src, len(self.src)
        j = begin + 1
        while j < n and src[j] not in _SPACES and src[j] != ">":
            j += 1
        if j >= n:
            raise self._unclosed(begin)
        name = src[begin + 1 : j].lower()
        if name not in _TAG_TYPES:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {self._offset(begin)}'
            )
        argument, expandable, has_href = "", False, False
        while True:
            j = self._skip_spaces(j)
            if j >= n:
                raise self._unclosed(begin)
            if src[j] == ">":
                j += 1
                break
            attr_begin = j
            while j < n and src[j] not in _SPACES and src[j] not in "=>":
                j += 1
            attr = src[attr_begin:j].lower()
            j = self._skip_spaces(j)
            if j >= n:
                raise self._unclosed(begin)
            if src[j] != "=":
                expandable = expandable or (name == "blockquote" and attr == "expandable")
                continue
            value, j = self._attribute_value(self._skip_spaces(j + 1), begin)
            if name == "a" and attr == "href":
                argument, has_href = value, True
            elif name == "code" and attr == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif name == "span" and attr == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif name == "tg-emoji" and attr == "emoji-id":
                argument = value
            elif name == "blockquote" and attr == "expandable":
                expandable = True
        self._check_start_tag(name, argument, has_href, begin)
        self.seq += 1
        self.stack.append(_OpenTag(name, argument, expandable, self.u16, self.seq))
        return j

    def _attribute_value(self, j: int, begin: int) -> tuple[str, int]:
        src, n = self.src, len(self.src)
        if j >= n:
            raise self._unclosed(begin)
        if src[j] not in "'\"":
            token_begin = j
            while j < n and ((src[j].isascii() and src[j].isalnum()) or src[j] in ".-"):
                j += 1
            if j < n and src[j] not in _SPACES and src[j] != ">":
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {self._offset(token_begin)}"
                )
            return src[token_begin:j].lower(), j
        quote = src[j]
        j += 1
        parts: list[str] = []
        while j < n and src[j] != quote:
            if src[j] == "&":
                char, j = self._entity(j)
                parts.append(char)
            else:
                parts.append(src[j])
                j += 1
        if j >= n:
            raise self._unclosed(begin)
        return "".join(parts), j + 1

    def _check_start_tag(self, name: str, argument: str, has_href: bool, begin: int) -> None:
        where = f"at byte offset {self._offset(begin)}"
        if name == "span" and argument != "spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" {where}')
        if name == "a" and not (has_href and argument.strip()):
            raise EntityParseError(f'Tag "a" must have a non-empty "href" attribute {where}')
        if name == "a" and normalize_link(argument) is None:
            raise EntityParseError(f'Unsupported URL "{argument}" in tag "a" {where}')
        if name == "tg-emoji" and not (argument.isdigit() and 0 < int(argument) < 2**63):
            raise EntityParseError("Invalid custom emoji identifier specified")

    def _end_tag(self, begin: int) -> int:
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {self._offset(begin)}")
        src, n = self.src, len(self.src)
        j = begin + 2
        while j < n and src[j] not in _SPACES and src[j] != ">":
            j += 1
        end_name = src[begin + 2 : j].lower()
        j = self._skip_spaces(j)
        if j >= n or src[j] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {self._offset(begin)}")
        tag = self.stack[-1]
        if end_name and end_name != tag.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {self._offset(begin)}, "
                f'expected "</{tag.name}>", found "</{end_name}>"'
            )
        self.stack.pop()
        self._close(tag)
        return j + 1

    def _close(self, tag: _OpenTag) -> None:
        length = self.u16 - tag.utf16_start
        parent = self.stack[-1] if self.stack else None
        if tag.name == "code" and parent is not None and parent.name == "pre":
            parent.argument = parent.argument or tag.argument
            return
        if length == 0:
            return
        entity: dict[str, Any] = {"type": _TAG_TYPES[tag.name]}
        if tag.name == "a":
            entity["url"] = normalize_link(tag.argument)
        elif tag.name == "pre" and tag.argument:
            entity["language"] = tag.argument
        elif tag.name == "blockquote" and tag.expandable:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.argument
        entity["offset"] = tag.utf16_start
        entity["length"] = length
        self.found.append((tag.utf16_start, length, tag.seq, entity))
