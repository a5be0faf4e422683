"""Callback data: compact, versioned, validated. A payload that does not parse is refused.

Every button's data starts with a short prefix that names what it does and the version of its
layout (``st1`` = status, layout 1), so an old or forged payload never reaches a handler half
understood. Buttons carry only what to do, never who may do it: permissions are checked again
on every tap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.statuses import BY_CODE, CODES
from storage.updates import Status

LIMIT = 64  # bytes, Telegram's

STATUS = "st1"
PAGE = "pg1"
DEPT = "dp1"
NOTE = "nt1"
FOLLOW = "fl1"
UNFOLLOW = "uf1"
INVITES = "iv1"
REVOKE = "rv1"
SUBMIT = "rs1"
ROUND_PAGE = "rl1"
DRAFT = "rd1"
CLOSE = "cl1"
SCORECARD = "sc1"

STATUS_PATTERN = rf"^{STATUS}:"
PAGE_PATTERN = rf"^{PAGE}:"
ACCESS_CHOICES = ("mem", "rm", "lv", "ivs")
"""Department choices that finish /members, /remove, /leave and /invites (handlers/access.py)."""
ACCESS_DEPT_PATTERN = rf"^{DEPT}:(?:{'|'.join(ACCESS_CHOICES)}):"
DEPT_PATTERN = rf"^{DEPT}:"
NOTE_PATTERN = rf"^{NOTE}:"
FOLLOW_PATTERN = rf"^{FOLLOW}:"
UNFOLLOW_PATTERN = rf"^{UNFOLLOW}:"
INVITES_PATTERN = rf"^{INVITES}:"
REVOKE_PATTERN = rf"^{REVOKE}:"
SUBMIT_PATTERN = rf"^{SUBMIT}:"
ROUND_PAGE_PATTERN = rf"^{ROUND_PAGE}:"
DRAFT_PATTERN = rf"^{DRAFT}:"
ROUND_OFFICE = "*"
"""The scope of a round page that is the office's summary."""
ROUND_MISSING = "!"
"""The scope of a round page that is the office's list of what is missing."""
CLOSE_PATTERN = rf"^{CLOSE}:"
SCORECARD_PATTERN = rf"^{SCORECARD}:"
SCORECARD_MINE = "u"
"""The scope of a scorecard page that is the rows of the tapper's own departments."""

# ASCII digits only: ``\d`` takes ١ or １ too, and int() reads them as task numbers.
_STATUS_RE = re.compile(rf"^{STATUS}:([0-9]{{1,5}}):([{''.join(BY_CODE)}])$")
_PAGE_RE = re.compile(rf"^{PAGE}:([mf]):([0-9]{{1,3}}):(.*)$", re.S)
_NOTE_RE = re.compile(rf"^{NOTE}:([0-9]{{1,5}})$")
_FOLLOW_RE = re.compile(rf"^{FOLLOW}:([0-9]{{1,5}}):([01])$")
_UNFOLLOW_RE = re.compile(rf"^{UNFOLLOW}:([tda]):([a-z0-9_]{{1,16}}|\*)$")
_DEPT_RE = re.compile(
    rf"^{DEPT}:([a-z]{{1,8}}):([a-z][a-z0-9_]{{1,15}}|\*)(?::([a-z0-9_]{{0,16}}))?$"
)
_SCOPE = r"([a-z][a-z0-9_]{1,15}|\*)"
"""A department code, or ``*``: every department the person may see."""
_INVITES_RE = re.compile(rf"^{INVITES}:{_SCOPE}:(\d{{1,3}})$")
_REVOKE_RE = re.compile(rf"^{REVOKE}:([A-Za-z0-9_-]{{16}}):{_SCOPE}:(\d{{1,3}})$")
_CODE = r"[a-z][a-z0-9_]{1,15}"
_SUBMIT_RE = re.compile(rf"^{SUBMIT}:([0-9]{{1,9}}):([0-9]{{1,5}})(?::({_CODE}))?$")
_ROUND_PAGE_RE = re.compile(rf"^{ROUND_PAGE}:([0-9]{{1,9}}):({_CODE}|\*|!):([0-9]{{1,3}})$")
_DRAFT_RE = re.compile(rf"^{DRAFT}:([0-9]{{1,12}}):({_CODE})$")
_CLOSE_RE = re.compile(rf"^{CLOSE}:([0-9]{{1,12}}):([cr])$")
_SCORECARD_RE = re.compile(rf"^{SCORECARD}:({_CODE}|\*|{SCORECARD_MINE}):([0-9]{{1,3}})$")


def fits(data: str) -> bool:
    return 0 < len(data.encode()) <= LIMIT


def status(task: int, new: Status) -> str:
    return f"{STATUS}:{task}:{CODES[new]}"


@dataclass(frozen=True)
class StatusTap:
    task: int
    status: Status


def parse_status(data: str) -> StatusTap | None:
    match = _STATUS_RE.match(data)
    return StatusTap(int(match.group(1)), BY_CODE[match.group(2)]) if match else None


@dataclass(frozen=True)
class PageTap:
    kind: str
    """``m`` for /mytasks, ``f`` for /find."""
    page: int
    query: str
    """For ``m``: ``<scope>:<filter>``; for ``f``: the search words."""


def page(kind: str, number: int, query: str) -> str | None:
    """The data of a page button, or ``None`` when the query is too long to carry."""
    data = f"{PAGE}:{kind}:{number}:{query}"
    return data if fits(data) else None


def parse_page(data: str) -> PageTap | None:
    match = _PAGE_RE.match(data)
    return PageTap(match.group(1), int(match.group(2)), match.group(3)) if match else None


@dataclass(frozen=True)
class DeptTap:
    action: str
    """What the ambiguous command was: ``bind``, ``inv``, ``sub``…"""
    dept: str
    arg: str
    """``m`` for a manager invite; the user id of a /remove."""


def dept(action: str, code: str, arg: str = "") -> str:
    return f"{DEPT}:{action}:{code}" + (f":{arg}" if arg else "")


def parse_dept(data: str) -> DeptTap | None:
    match = _DEPT_RE.match(data)
    return DeptTap(match.group(1), match.group(2), match.group(3) or "") if match else None


def note(task: int) -> str:
    return f"{NOTE}:{task}"


def parse_note(data: str) -> int | None:
    match = _NOTE_RE.match(data)
    return int(match.group(1)) if match else None


def follow(task: int, on: bool) -> str:
    """Follow (``1``) or stop following (``0``) a task in this chat."""
    return f"{FOLLOW}:{task}:{int(on)}"


def parse_follow(data: str) -> tuple[int, bool] | None:
    match = _FOLLOW_RE.match(data)
    return (int(match.group(1)), match.group(2) == "1") if match else None


def unfollow(kind: str, target: str) -> str:
    """A row of /subscriptions: ``t``ask, ``d``epartment or ``a``ll."""
    return f"{UNFOLLOW}:{kind[0]}:{target}"


def parse_unfollow(data: str) -> tuple[str, str] | None:
    match = _UNFOLLOW_RE.match(data)
    return (match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class InvitesPage:
    scope: str
    page: int


def invites_page(scope: str, page: int) -> str:
    """A page of /invites: ``scope`` is a department code or ``*``."""
    return f"{INVITES}:{scope}:{page}"


def parse_invites_page(data: str) -> InvitesPage | None:
    match = _INVITES_RE.match(data)
    return InvitesPage(match.group(1), int(match.group(2))) if match else None


@dataclass(frozen=True)
class RevokeTap:
    code: str
    scope: str
    """Of the list the button is in, to show it again."""
    page: int


def revoke(code: str, scope: str, page: int) -> str:
    return f"{REVOKE}:{code}:{scope}:{page}"


def parse_revoke(data: str) -> RevokeTap | None:
    match = _REVOKE_RE.match(data)
    return RevokeTap(match.group(1), match.group(2), int(match.group(3))) if match else None


@dataclass(frozen=True)
class SubmitTap:
    """ "📝 报送 n": a statement for task n in the round, for ``dept`` (``None``: the person's
    department, chosen if they are in several)."""

    round_id: int
    task: int
    dept: str | None


def submit(round_id: int, task: int, dept: str | None = None) -> str:
    return f"{SUBMIT}:{round_id}:{task}" + (f":{dept}" if dept else "")


def parse_submit(data: str) -> SubmitTap | None:
    match = _SUBMIT_RE.match(data)
    return SubmitTap(int(match.group(1)), int(match.group(2)), match.group(3)) if match else None


@dataclass(frozen=True)
class RoundPage:
    round_id: int
    scope: str
    """A department code (its list), :data:`ROUND_OFFICE` or :data:`ROUND_MISSING`."""
    page: int


def round_page(round_id: int, scope: str, page: int) -> str:
    return f"{ROUND_PAGE}:{round_id}:{scope}:{page}"


def parse_round_page(data: str) -> RoundPage | None:
    match = _ROUND_PAGE_RE.match(data)
    return RoundPage(int(match.group(1)), match.group(2), int(match.group(3))) if match else None


def draft_choice(draft_id: int, dept: str) -> str:
    """The department a kept statement (a draft) is for."""
    return f"{DRAFT}:{draft_id}:{dept}"


def parse_draft_choice(data: str) -> tuple[int, str] | None:
    match = _DRAFT_RE.match(data)
    return (int(match.group(1)), match.group(2)) if match else None


@dataclass(frozen=True)
class CloseTap:
    request: int
    """The closing request (``storage/closures.py``) the office's card is about."""
    confirm: bool
    """✅ 销号 (``c``), or ↩️ 退回 (``r``)."""


def close(request: int, confirm: bool) -> str:
    return f"{CLOSE}:{request}:{'c' if confirm else 'r'}"


def parse_close(data: str) -> CloseTap | None:
    match = _CLOSE_RE.match(data)
    return CloseTap(int(match.group(1)), match.group(2) == "c") if match else None


@dataclass(frozen=True)
class ScorecardPage:
    scope: str
    """A department code (its row), ``*`` (every department) or :data:`SCORECARD_MINE`."""
    page: int


def scorecard(scope: str, page: int) -> str:
    return f"{SCORECARD}:{scope}:{page}"


def parse_scorecard(data: str) -> ScorecardPage | None:
    match = _SCORECARD_RE.match(data)
    return ScorecardPage(match.group(1), int(match.group(2))) if match else None
