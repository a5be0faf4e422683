"""The benchmark report: sections of rows, printed at the terminal and written as Markdown."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest rank: p99 of 300 samples is the third slowest."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """One line each: the goal, whether it is met, and why not if not."""

    def add(self, *cells: object) -> None:
        self.rows.append([str(cell) for cell in cells])


def machine() -> str:
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"Python {platform.python_version()} · {platform.machine()}"
    )


def markdown(sections: list[Section], elapsed: float) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Run with `python -m bench` on {machine()}; took {elapsed:.0f} s.",
        "",
    ]
    for section in sections:
        lines += [f"## {section.title}", ""]
        lines.append("| " + " | ".join(section.headers) + " |")
        lines.append("|" + "|".join("---" for _ in section.headers) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in section.rows]
        lines.append("")
        lines += [f"- {note}" for note in section.notes]
        lines.append("")
    return "\n".join(lines)


def terminal(sections: list[Section]) -> str:
    out = [machine(), ""]
    for section in sections:
        widths = [
            max(len(h), *(len(r[i]) for r in section.rows)) if section.rows else len(h)
            for i, h in enumerate(section.headers)
        ]
        out.append(section.title)
        out.append("  ".join(h.ljust(w) for h, w in zip(section.headers, widths, strict=True)))
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in section.rows]
        out += [f"  · {note}" for note in section.notes]
        out.append("")
    return "\n".join(out)
