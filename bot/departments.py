"""Finding the department a person means from what they typed.

People type a code (``cnipa``), the plan's name (国家知识产权局), the full name, an alias
(知识产权局, 网信办), the English name, or a piece of any of them. One match is an answer;
several, or none, give candidates to choose from, never a guess.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.plan import Department

MAX_CANDIDATES = 8
QUERY_MARGIN = 16
"""How much longer than the longest name or alias a query may be and still be compared: a typo
or a word too many. Longer input (a pasted paragraph) names no department, and difflib on it
would hold the event loop for seconds."""


def _fold(text: str) -> str:
    """Case, width and spacing do not matter: ＣＮＩＰＡ, cnipa and 'C N I P A' are one key."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Resolution:
    """``department`` when exactly one matched; ``candidates`` when several did; otherwise
    ``suggestions``: names that look alike, for a 'did you mean'."""

    query: str
    department: Department | None
    candidates: tuple[Department, ...] = ()
    suggestions: tuple[Department, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return self.department is None and len(self.candidates) > 1


class DepartmentResolver:
    def __init__(self, departments: Sequence[Department]) -> None:
        self._departments = tuple(departments)
        self._keys: list[tuple[str, Department]] = []
        for dept in self._departments:
            for name in {dept.code, dept.name, dept.full, dept.en, *dept.aliases}:
                self._keys.append((_fold(name), dept))
        self._longest_query = max((len(key) for key, _ in self._keys), default=0) + QUERY_MARGIN

    def resolve(self, query: str) -> Resolution:
        folded = _fold(query)
        if not folded or len(folded) > self._longest_query:
            return Resolution(query, None)
        exact = _unique(d for key, d in self._keys if key == folded)
        if len(exact) == 1:
            return Resolution(query, exact[0])
        if exact:
            return Resolution(query, None, tuple(exact[:MAX_CANDIDATES]))
        partial = _unique(d for key, d in self._keys if folded in key)
        if len(partial) == 1:
            return Resolution(query, partial[0])
        if partial:
            return Resolution(query, None, tuple(partial))
        return Resolution(query, None, suggestions=self._similar(folded))

    def _similar(self, folded: str) -> tuple[Department, ...]:
        """Departments whose names look like the query, best first, for 'did you mean'."""
        scored: dict[str, tuple[float, Department]] = {}
        for key, dept in self._keys:
            score = difflib.SequenceMatcher(None, folded, key).ratio()
            if score >= 0.5 and score > scored.get(dept.code, (0.0, dept))[0]:
                scored[dept.code] = (score, dept)
        ranked = sorted(scored.values(), key=lambda pair: -pair[0])
        return tuple(dept for _, dept in ranked[:MAX_CANDIDATES])


def _unique(departments: Iterable[Department]) -> list[Department]:
    """Each department once, in registry order of first appearance."""
    seen: dict[str, Department] = {}
    for dept in departments:
        seen.setdefault(dept.code, dept)
    return list(seen.values())
