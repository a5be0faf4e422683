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


@dataclass
class Part:
    """One timed part: ``what`` it was (``"scale: generate 100×"``), how long it took."""

    what: str
    seconds: float = 0.0
    depth: int = 0
    """How many timed parts it ran inside: a benchmark is 0, its parts 1, theirs 2."""


PARTS: list[Part] = []
"""This run's parts, in the order they started."""
_depth: ContextVar[int] = ContextVar("depth", default=0)
"""Per task (asyncio copies it into each task it starts), so parts run at once nest right."""


@contextmanager
def spent(what: str, parts: list[Part] = PARTS) -> Iterator[Part]:
    """Time the block as a part of whatever timed block it runs in (listed where it started).
    Parts that run at once (``asyncio.gather``) each count their own wall-clock time."""
    part = Part(what, depth=_depth.get())
    parts.append(part)
    token = _depth.set(part.depth + 1)
    started = time.perf_counter()
    try:
        yield part
    finally:
        part.seconds = time.perf_counter() - started
        _depth.reset(token)


def listing(parts: Sequence[Part]) -> list[str]:
    """``  scale: generate 100×  56.1 s``, indented by depth."""
    if not parts:
        return []
    width = max(len("  " * part.depth + part.what) for part in parts)
    return [
        f"{('  ' * part.depth + part.what).ljust(width)}  {part.seconds:6.1f} s" for part in parts
    ]
