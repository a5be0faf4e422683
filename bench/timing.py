"""Where a run's time went: each benchmark and its parts, timed as they run, for the report.

``python -m bench`` must stay under 8 minutes on the shared machine; this says which part to
shorten, and that a shortened part still measures what it did (its samples, its runs).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(eq=False)
class Part:
    """One timed part: ``what`` it was (``"generate 100×"``), how long it took, and the part
    it ran in (None: a benchmark)."""

    what: str
    parent: Part | None = None
    seconds: float = 0.0

    @property
    def depth(self) -> int:
        return 0 if self.parent is None else self.parent.depth + 1


PARTS: list[Part] = []
"""This run's parts, in the order they started."""
_within: ContextVar[Part | None] = ContextVar("within", default=None)
"""Per task (asyncio copies it into each task it starts), so parts run at once nest right."""


@contextmanager
def spent(what: str, parts: list[Part] = PARTS) -> Iterator[Part]:
    """Time the block as a part of whatever timed block it runs in. Parts that run at once
    (``asyncio.gather``, a background task) each count their own wall-clock time."""
    part = Part(what, _within.get())
    parts.append(part)
    token = _within.set(part)
    started = time.perf_counter()
    try:
        yield part
    finally:
        part.seconds = time.perf_counter() - started
        _within.reset(token)


def in_order(parts: Sequence[Part]) -> list[Part]:
    """Each part followed by its own parts (in the order they started), then the next."""
    children: dict[Part | None, list[Part]] = {}
    for part in parts:
        children.setdefault(part.parent, []).append(part)

    def below(parent: Part | None) -> Iterator[Part]:
        for part in children.get(parent, []):
            yield part
            yield from below(part)

    return list(below(None))


def listing(parts: Sequence[Part]) -> list[str]:
    """``  generate 100×  56.1 s``, each part indented under the one it ran in."""
    ordered = in_order(parts)
    if not ordered:
        return []
    width = max(len("  " * part.depth + part.what) for part in ordered)
    return [
        f"{('  ' * part.depth + part.what).ljust(width)}  {part.seconds:6.1f} s" for part in ordered
    ]
