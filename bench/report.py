"""The benchmark report: sections of rows, figures and goals; at the terminal, in Markdown, in JSON.

A section's table is for people; its figures (every number worth comparing between runs, under
a name that stays the same) and its goals (a figure, a threshold, a verdict and, when missed,
the cause a profiler found) are for ``docs/benchmarks.json`` and ``python -m bench --compare``.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench import quick
from bench.timing import Part, in_order, listing


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest rank: p99 of 300 samples is the third slowest."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Figure:
    """One measured number, named so that the next run's can be set beside it."""

    name: str
    value: float
    unit: str = ""
    lower_is_better: bool = True


@dataclass
class Goal:
    """A figure against its threshold. ``runs`` holds the figure of every measurement taken
    (more than one when the first came out near the threshold); ``figure`` is their median."""

    name: str
    what: str
    figure: float
    threshold: float
    at_most: bool = True
    unit: str = ""
    cause: str | None = None
    """Why a missed goal is missed, as a profiler (or the run's own timings) measured it."""
    runs: list[float] = field(default_factory=list)
    margin: float = 0.15
    """A figure within this share of the threshold is near it, and is measured again."""
    noise: float = 0.0
    """For a threshold of 0 (a count that must be none): missing by at most this much is near."""

    def __post_init__(self) -> None:
        if not self.runs:
            self.runs = [self.figure]

    @property
    def met(self) -> bool:
        return meets(self.figure, self.threshold, self.at_most)

    @property
    def verdict(self) -> str:
        return "met" if self.met else "missed"

    @property
    def near(self) -> bool:
        """Close enough to the threshold that one measurement cannot be trusted to decide."""
        if self.threshold == 0:
            return not self.met and abs(self.figure) <= self.noise
        return abs(self.figure / self.threshold - 1) <= self.margin

    def line(self) -> str:
        """``Goal: … : met (figure)``, or ``MISSED (figure; cause)``, with the runs it took."""
        sign = "≤" if self.at_most else "≥"
        value = f"{number(self.figure)}{self.unit} against {sign} {number(self.threshold)}"
        value += self.unit
        if len(self.runs) > 1:
            votes = sum(meets(run, self.threshold, self.at_most) for run in self.runs)
            value += (
                f"; measured {len(self.runs)} times, as a figure of the run came out near its "
                "threshold: "
                + ", ".join(number(run) for run in self.runs)
                + f", the median; met in {votes} of {len(self.runs)}"
            )
        if self.met:
            return f"Goal: {self.what}: met ({value})."
        cause = self.cause or "cause not measured"
        return f"Goal: {self.what}: MISSED ({value}). Cause: {cause}"

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "what": self.what,
            "figure": self.figure,
            "threshold": self.threshold,
            "comparison": "<=" if self.at_most else ">=",
            "unit": self.unit,
            "verdict": self.verdict,
            "cause": None if self.met else self.cause,
            "runs": self.runs,
        }


def meets(figure: float, threshold: float, at_most: bool) -> bool:
    return figure <= threshold if at_most else figure >= threshold


def number(value: float) -> str:
    """Three significant figures, no exponent: 0.0123, 1.23, 123, 12345."""
    if value == int(value) and abs(value) >= 1:
        return f"{int(value)}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """How it was measured and where the time goes: one line each."""
    figures: list[Figure] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(cell) for cell in cells])

    def figure(
        self, name: str, value: float, unit: str = "", *, lower_is_better: bool = True
    ) -> float:
        """Record a figure for the JSON (and return it, to print it too)."""
        self.figures.append(Figure(name, float(value), unit, lower_is_better))
        return value

    def goal(self, goal: Goal) -> Goal:
        self.goals.append(goal)
        return goal


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def machine() -> str:
    mode = " · quick mode (fewer actions: figures for development only)" if quick() else ""
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"Python {platform.python_version()} · {platform.machine()}{mode}"
    )


def all_goals(sections: Sequence[Section]) -> list[Goal]:
    return [goal for section in sections for goal in section.goals]


def tally(sections: Sequence[Section]) -> str:
    goals = all_goals(sections)
    missed = [goal for goal in goals if not goal.met]
    again = sum(len(goal.runs) > 1 for goal in goals)
    text = f"Goals: {len(goals) - len(missed)} met, {len(missed)} missed"
    return text + (f"; {again} measured again near their threshold." if again else ".")


def markdown(sections: list[Section], elapsed: float, parts: Sequence[Part] = ()) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Run with `python -m bench` on {machine()}; took {elapsed:.0f} s. Every figure and "
        "goal is also in [`benchmarks.json`](benchmarks.json); `python -m bench --compare "
        "OLD.json` sets a run beside an older one.",
        "",
        tally(sections),
        "",
        "| goal | verdict | figure | threshold |",
        "|---|---|---|---|",
    ]
    for goal in all_goals(sections):
        sign = "≤" if goal.at_most else "≥"
        runs = f" ({len(goal.runs)} runs)" if len(goal.runs) > 1 else ""
        lines.append(
            f"| {goal.what} | {'met' if goal.met else '**missed**'}{runs} | "
            f"{number(goal.figure)}{goal.unit} | {sign} {number(goal.threshold)}{goal.unit} |"
        )
    lines.append("")
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.headers:
            lines.append("| " + " | ".join(section.headers) + " |")
            lines.append("|" + "|".join("---" for _ in section.headers) + "|")
            lines += ["| " + " | ".join(row) + " |" for row in section.rows]
            lines.append("")
        lines += [f"- {goal.line()}" for goal in section.goals]
        lines += [f"- {note}" for note in section.notes]
        lines.append("")
    if parts:
        lines += [
            "## This run's time",
            "",
            "Each benchmark and its parts, in the order they started (parts run at once each "
            "count their own time).",
            "",
            "```",
            *listing(parts),
            "```",
            "",
        ]
    return "\n".join(lines)


def terminal(sections: list[Section], parts: Sequence[Part] = ()) -> str:
    out = [machine(), ""]
    for section in sections:
        widths = [
            max(len(h), *(len(r[i]) for r in section.rows)) if section.rows else len(h)
            for i, h in enumerate(section.headers)
        ]
        out.append(section.title)
        out.append("  ".join(h.ljust(w) for h, w in zip(section.headers, widths, strict=True)))
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in section.rows]
        out += [f"  · {goal.line()}" for goal in section.goals]
        out += [f"  · {note}" for note in section.notes]
        out.append("")
    if parts:
        out += ["This run's time:", *listing(parts), ""]
    out.append(tally(sections))
    return "\n".join(out)


def document(
    sections: Sequence[Section], elapsed: float, parts: Sequence[Part] = ()
) -> dict[str, Any]:
    """The run for machines: every figure (a goal's figure among them) and every goal."""
    figures: dict[str, dict[str, Any]] = {}
    for section in sections:
        for item in section.figures:
            figures[item.name] = {
                "value": item.value,
                "unit": item.unit,
                "lower_is_better": item.lower_is_better,
                "section": section.title,
            }
        for goal in section.goals:
            figures.setdefault(
                goal.name,
                {
                    "value": goal.figure,
                    "unit": goal.unit,
                    "lower_is_better": goal.at_most,
                    "section": section.title,
                },
            )
    return {
        "run": {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "seconds": round(elapsed, 1),
            "quick": quick(),
            "parts": [
                {"what": part.what, "depth": part.depth, "seconds": round(part.seconds, 1)}
                for part in in_order(parts)
            ],
        },
        "goals": [goal.json() for goal in all_goals(sections)],
        "figures": figures,
    }
