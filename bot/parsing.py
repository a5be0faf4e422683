"""Reading command arguments as people type them on a phone."""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from datetime import date

from bot.statuses import fold, parse_status
from storage.updates import Status

# Invisible characters a phone keyboard or a copy-paste leaves in text.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_DROP_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE), None)
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_PROGRESS = re.compile(r"^([0-9]{1,4})\s*[%％﹪]")
"""A figure, after :func:`fold_digits`."""
_LOOKS_LIKE_PROGRESS = re.compile(r"^(\d{1,4})\s*%")
"""After NFKC: a figure in any digits (٥٠%, ²0%, ⑤%), to be refused rather than taken as a note."""
_TASK_NUMBER = re.compile(r"#?[0-9]{1,6}")
NOTE_LIMIT = 1000
"""Longest note kept, in characters: a card shows several notes and must stay readable."""


class ArgumentError(Exception):
    """Wrong arguments; ``key`` names the message to show and ``fields`` fill it in."""

    def __init__(self, key: str, **fields: object) -> None:
        super().__init__(key)
        self.key = key
        self.fields = fields


def clean(text: str) -> str:
    """Trim space and invisible characters around the text; inside, a joiner may belong to an
    emoji (👨‍👩‍👧) or a script, so it stays."""
    return text.strip(string.whitespace + "\u3000" + INVISIBLE)


def fold_digits(text: str) -> str:
    """Full-width digits (a Chinese keyboard's) as ASCII, one for one; nothing else changes, so
    ², ① or ٣ stay what they are and are never read as numbers (NFKC would fold ² and ①)."""
    return text.translate(_FULL_WIDTH_DIGITS)


def token(word: str) -> str:
    """A number or keyword as typed: every invisible character dropped."""
    return word.translate(_DROP_INVISIBLE).strip()


def parse_task_number(word: str, task_count: int) -> int:
    """``12``, ``１２``, ``#12`` → 12; anything else (``²``, ``①``, ``١٢``) or outside
    1..task_count is refused."""
    folded = fold_digits(token(word)).replace("＃", "#", 1)
    if not _TASK_NUMBER.fullmatch(folded):
        raise ArgumentError("error.task_number", given=word[:20], last=task_count)
    number = int(folded.removeprefix("#"))
    if not 1 <= number <= task_count:
        raise ArgumentError("error.task_number", given=word[:20], last=task_count)
    return number


def parse_note(text: str) -> str:
    note = clean(text)
    if not note:
        raise ArgumentError("error.note_empty")
    if len(note) > NOTE_LIMIT:
        raise ArgumentError("error.note_too_long", limit=NOTE_LIMIT, length=len(note))
    return note


@dataclass(frozen=True)
class UpdateArgs:
    task: int
    status: Status
    progress: int | None
    note: str | None


def split_first(text: str) -> tuple[str, str]:
    """The first word, and the rest of the text as typed (spacing inside a note is kept)."""
    text = clean(text)
    parts = text.split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def parse_update(text: str, task_count: int) -> UpdateArgs:
    """``<n> <status> [NN%] [note]``, e.g. ``12 done 100% 已印发``."""
    first, rest = split_first(text)
    if not first:
        raise ArgumentError("usage.update")
    task = parse_task_number(first, task_count)
    word, rest = split_first(rest)
    if not word:
        raise ArgumentError("usage.update")
    status = parse_status(token(word))
    if status is None:
        raise ArgumentError("error.status", given=word[:20])
    progress = None
    rest = clean(rest)
    if match := _PROGRESS.match(fold_digits(rest[:6])):  # one for one: lengths agree
        progress = int(match.group(1))
        if progress > 100:
            raise ArgumentError("error.progress", given=match.group(0))
        rest = clean(rest[len(match.group(0)) :])
    elif _LOOKS_LIKE_PROGRESS.match(unicodedata.normalize("NFKC", rest[:6])):
        figure = re.split("(?<=[%％﹪])", rest, maxsplit=1)[0]
        raise ArgumentError("error.progress_digits", given=figure[:20])
    if progress is None and status is Status.DONE:
        progress = 100
    note = parse_note(rest) if rest else None
    return UpdateArgs(task, status, progress, note)


def parse_note_args(text: str, task_count: int) -> tuple[int, str]:
    """``<n> <text>``."""
    first, rest = split_first(text)
    if not first:
        raise ArgumentError("usage.note")
    task = parse_task_number(first, task_count)
    if not clean(rest):
        raise ArgumentError("usage.note")
    return task, parse_note(rest)


def parse_year(word: str) -> int | None:
    """``2024`` (or ``２０２４``, ``2024年``) as a plan year; ``None`` if it is not one."""
    folded = fold_digits(token(word)).removesuffix("年")
    if len(folded) != 4 or not folded.isascii() or not folded.isdigit():
        return None
    return int(folded)


_DATE_FULL = re.compile(r"^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?$")
_DATE_SHORT = re.compile(r"^([0-9]{1,2})[-/.月]([0-9]{1,2})日?$")
"""``YYYY-MM-DD`` or ``MM-DD`` (also with / . or 年月日), after :func:`fold_digits` and
full-width separators."""
_DATE_SEPARATORS = str.maketrans("－／．", "-/.")
ALL_WORDS = frozenset({"all", "*", "全部", "所有", "全部任务"})


def parse_date(word: str, today: date, *, within_year: bool = False) -> date:
    """``2026-07-15`` (``2026/7/15``, ``2026年7月15日``, full-width digits too), or ``07-15``: the
    next 15 July on or after ``today`` (a round's due date), or with ``within_year`` the 15 July
    of ``today``'s year (a task's, which may be past). Anything else, or a day that does not
    exist, is refused."""
    folded = fold_digits(token(word)).translate(_DATE_SEPARATORS)
    if match := _DATE_FULL.match(folded):
        years = [int(match.group(1))]
        month, day = int(match.group(2)), int(match.group(3))
    elif match := _DATE_SHORT.match(folded):
        month, day = int(match.group(1)), int(match.group(2))
        # 29 February comes round within eight years
        years = [today.year] if within_year else [today.year + ahead for ahead in range(9)]
    else:
        raise ArgumentError("error.date", given=word[:20])
    for year in years:
        try:
            found = date(year, month, day)
        except ValueError:
            continue
        if (within_year or match.re is _DATE_FULL or found >= today) and 2000 <= year <= 2100:
            return found
    raise ArgumentError("error.date", given=word[:20])


STATEMENT_LIMIT = 3000
"""Longest statement kept, in characters."""


def parse_statement(text: str) -> str:
    """A statement's text: trimmed; at most :data:`STATEMENT_LIMIT` characters (may be empty,
    when a document is the statement)."""
    statement = clean(text)
    if len(statement) > STATEMENT_LIMIT:
        raise ArgumentError(
            "error.statement_too_long", limit=STATEMENT_LIMIT, length=len(statement)
        )
    return statement


def parse_submit(text: str, task_count: int, *, document: bool = False) -> tuple[int, str]:
    """``<n> <text>`` (the text may be left out when a document comes with it)."""
    first, rest = split_first(text)
    if not first:
        raise ArgumentError("usage.submit")
    task = parse_task_number(first, task_count)
    statement = parse_statement(rest)
    if not statement and not document:
        raise ArgumentError("usage.submit")
    return task, statement


@dataclass(frozen=True)
class DueArgs:
    task: int | None
    """``None``: every task of the plan."""
    due: date


def parse_due(text: str, task_count: int, this_year: int) -> DueArgs:
    """``<n|all> <YYYY-MM-DD|MM-DD>``."""
    words = clean(text).split()
    if len(words) != 2:
        raise ArgumentError("usage.due")
    which, when = words
    task = None if fold(which) in ALL_WORDS else parse_task_number(which, task_count)
    return DueArgs(task, parse_date(when, date(this_year, 1, 1), within_year=True))


def parse_task_only(text: str, task_count: int, usage: str) -> int:
    """Exactly one task number (``/confirm 12``)."""
    words = clean(text).split()
    if len(words) != 1:
        raise ArgumentError(usage)
    return parse_task_number(words[0], task_count)


def parse_return(text: str, task_count: int) -> tuple[int, str]:
    """``<n> <reason>``: the reason is required, as long as a note may be."""
    first, rest = split_first(text)
    if not first or not clean(rest):
        raise ArgumentError("usage.return")
    return parse_task_number(first, task_count), parse_note(rest)
