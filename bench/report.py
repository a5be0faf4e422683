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
from bench.compare import Previous
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


NEAR = "near"
"""Why a goal was measured again: its figure came out near its threshold."""
DIFFERED = "differed"
"""Why a goal was measured again: a measurement's verdict differed from the previous run's."""


@dataclass
class Goal:
    """A figure against its threshold. ``runs`` holds the figure of every measurement taken
    (more than one when its verdict was in question: bench/settle.py); ``figure`` is their
    median, whose verdict is the majority's."""

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
    most: int = 1
    """The most measurements its verdict may take (bench/settle.py: 1, or more in question)."""
    again: tuple[str, ...] = ()
    """Why it was measured again, if it was (:data:`NEAR`, :data:`DIFFERED`); a goal measured
    again for another goal of its measurement has none."""
    previous: str | None = None
    """The previous run's verdict (None: not compared, or the goal was not in it)."""

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
    def votes(self) -> int:
        """How many of its measurements met it."""
        return sum(meets(run, self.threshold, self.at_most) for run in self.runs)

    @property
    def stable(self) -> bool:
        """One verdict holds a majority of the most measurements it may take."""
        return max(self.votes, len(self.runs) - self.votes) > self.most // 2

    @property
    def against_previous(self) -> str | None:
        """``agrees`` or ``differs`` (with the previous run's verdict), or None: not compared."""
        if self.previous is None:
            return None
        return "agrees" if self.previous == self.verdict else "differs"

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
            value += f"; measured {len(self.runs)} times, as {self._why()}: "
            value += ", ".join(number(run) for run in self.runs)
            value += f", the median; met in {self.votes} of {len(self.runs)}"
            if not self.stable:
                value += (
                    f", no verdict a majority of the {self.most} it may take (a measurement "
                    "too long to repeat more): not stable"
                )
        if DIFFERED in self.again and self.previous is not None:
            value += f"; the previous run's verdict, {self.previous}: this one {self._agreed()}"
        if self.met:
            return f"Goal: {self.what}: met ({value})."
        cause = self.cause or "cause not measured"
        return f"Goal: {self.what}: MISSED ({value}). Cause: {cause}"

    def _why(self) -> str:
        if DIFFERED in self.again:
            near = "it came out near its threshold and " if NEAR in self.again else ""
            return (
                f"{near}a verdict differed from the previous run's ({self.previous}), until one "
                f"verdict had {self.most // 2 + 1} of at most {self.most}"
            )
        if NEAR in self.again:
            return (
                f"it came out near its threshold, until one verdict had {self.most // 2 + 1} of "
                f"at most {self.most}"
            )
        return "another goal of the same measurement was in question"

    def _agreed(self) -> str:
        return "agrees with it" if self.against_previous == "agrees" else "differs from it"

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
            "measured_again": list(self.again),
            "most_runs": self.most,
            "stable": self.stable,
            "previous_verdict": self.previous,
            "against_previous": self.against_previous,
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
    again = [goal for goal in goals if len(goal.runs) > 1]
    text = f"Goals: {len(goals) - len(missed)} met, {len(missed)} missed"
    if not again:
        return text + "."
    counts = (
        (sum(DIFFERED in goal.again for goal in again), "as a verdict differed from the previous run's"),
        (sum(goal.again == (NEAR,) for goal in again), "near their threshold"),
        (sum(not goal.again for goal in again), "with another goal of their measurement"),
    )  # fmt: skip
    why = ", ".join(f"{count} {label}" for count, label in counts if count)
    return text + f"; {len(again)} measured again ({why})."


def against(sections: Sequence[Section], previous: Previous | None) -> list[str]:
    """This run's verdicts against the previous run's: how many agree, and each goal measured
    again because a verdict differed, with its measurements and how it came out."""
    if previous is None:
        return []
    lines = [previous.line()]
    goals = [goal for goal in all_goals(sections) if goal.previous is not None]
    if previous.why_not is not None:
        return lines
    differ = [goal for goal in goals if goal.against_previous == "differs"]
    unknown = len(all_goals(sections)) - len(goals)
    text = f"{len(goals) - len(differ)} of {len(goals)} verdicts agree with it, {len(differ)} "
    text += "differs" if len(differ) == 1 else "differ"
    text += f" ({', '.join(goal.name for goal in differ)})" if differ else ""
    if unknown:
        text += f"; {unknown} {'goal was' if unknown == 1 else 'goals were'} not in it"
    text += "."
    lines.append(text)
    for goal in all_goals(sections):
        if DIFFERED in goal.again:
            lines.append(f"Measured again as a verdict differed: {remeasured(goal)}")
    return lines


def remeasured(goal: Goal) -> str:
    """``name: the previous run met; 3 measurements (a, b, c): missed in 3 of 3, stable; differs``."""
    votes = goal.votes if goal.met else len(goal.runs) - goal.votes
    figures = ", ".join(f"{number(run)}{goal.unit}" for run in goal.runs)
    return (
        f"{goal.name}: the previous run {goal.previous}; {len(goal.runs)} measurements "
        f"({figures}), the median {number(goal.figure)}{goal.unit}: {goal.verdict} in {votes} "
        f"of {len(goal.runs)}, "
        f"{'stable' if goal.stable else 'not stable'} (a majority of at most {goal.most} "
        f"decides); it {'agrees with' if goal.against_previous == 'agrees' else 'differs from'} "
        "the previous run."
    )


def markdown(
    sections: list[Section],
    elapsed: float,
    parts: Sequence[Part] = (),
    previous: Previous | None = None,
) -> str:
    compared = previous is not None and previous.why_not is None
    lines = [
        "# Benchmarks",
        "",
        f"Run with `python -m bench` on {machine()}; took {elapsed:.0f} s. Every figure and "
        "goal is also in [`benchmarks.json`](benchmarks.json); `python -m bench --compare "
        "OLD.json` sets a run beside an older one.",
        "",
        tally(sections),
        "",
        *(f"- {line}" for line in against(sections, previous)),
        "",
        "| goal | verdict | figure | threshold |" + (" previous run |" if compared else ""),
        "|---|---|---|---|" + ("---|" if compared else ""),
    ]
    for goal in all_goals(sections):
        sign = "≤" if goal.at_most else "≥"
        runs = f" ({len(goal.runs)} runs)" if len(goal.runs) > 1 else ""
        row = (
            f"| {goal.what} | {'met' if goal.met else '**missed**'}{runs} | "
            f"{number(goal.figure)}{goal.unit} | {sign} {number(goal.threshold)}{goal.unit} |"
        )
        if compared:
            row += {None: " - |", "agrees": f" {goal.previous}: agrees |"}.get(
                goal.against_previous, f" {goal.previous}: **differs** |"
            )
        lines.append(row)
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


def terminal(
    sections: list[Section], parts: Sequence[Part] = (), previous: Previous | None = None
) -> str:
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
    out += against(sections, previous)
    return "\n".join(out)


def document(
    sections: Sequence[Section],
    elapsed: float,
    parts: Sequence[Part] = (),
    previous: Previous | None = None,
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
        "previous": None
        if previous is None
        else {
            "source": previous.source,
            "at": previous.at or None,
            "compared": previous.why_not is None,
            "why_not": previous.why_not,
        },
        "goals": [goal.json() for goal in all_goals(sections)],
        "figures": figures,
    }
