"""``python -m bench --compare OLD.json``: each figure of this run as a ratio to an older run's.

A slowdown shows as a number: ``p99_ms 1.34`` is a p99 a third longer than before. Figures a
fifth or more worse (longer times, fewer answers a second) are marked, and so is every goal
whose verdict changed.

Also the previous run's verdicts (:func:`previous_run`), which every run reads before it starts
so that a verdict that differs from it is measured again (bench/settle.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORSE = 1.2
"""A figure this much worse than before (or better, the other way) is marked."""


def load_run(path: Path) -> dict[str, Any]:
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {path}: cannot be read as a benchmark run: {exc}") from exc
    if not isinstance(run, dict) or not isinstance(run.get("figures"), dict):
        raise SystemExit(f"error: {path}: not a benchmark run (no figures)")
    return run


@dataclass(frozen=True)
class Previous:
    """The previous run's verdicts by goal name, read from ``source``; empty with ``why_not``
    when there is nothing to compare with."""

    source: str
    verdicts: dict[str, str] = field(default_factory=dict)
    at: str = ""
    """When it ran (its ``run.at``)."""
    why_not: str | None = None

    def line(self) -> str:
        """One line for the report: what this run's verdicts are compared with, or why not."""
        if self.why_not is not None:
            return f"No comparison with a previous run: {self.source} {self.why_not}."
        return (
            f"Compared with the previous run ({self.source}, {self.at or 'undated'}): a goal "
            "whose verdict differs from it is measured again until its verdict is stable."
        )


def previous_run(path: Path, quick: bool) -> Previous:
    """The verdicts of the run in ``path`` (missing or unreadable: none, and why), if it was
    a run of the same kind (quick mode or not: their figures do not compare)."""
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Previous(str(path), why_not="does not exist")
    except (OSError, ValueError) as exc:
        return Previous(str(path), why_not=f"cannot be read as a benchmark run ({exc})")
    goals = run.get("goals") if isinstance(run, dict) else None
    if not isinstance(goals, list):
        return Previous(str(path), why_not="holds no goals")
    verdicts = {
        goal["name"]: goal["verdict"]
        for goal in goals
        if isinstance(goal, dict)
        and isinstance(goal.get("name"), str)
        and goal.get("verdict") in ("met", "missed")
    }
    meta = run.get("run") if isinstance(run.get("run"), dict) else {}
    if bool(meta.get("quick")) != quick:
        kind = "a full run, and this one is quick" if quick else "a quick run, and this one is not"
        return Previous(str(path), why_not=f"was {kind}: their figures do not compare")
    if not verdicts:
        return Previous(str(path), why_not="holds no goals")
    return Previous(str(path), verdicts, str(meta.get("at", "")))


def ratio(old: float, new: float) -> float:
    if old == 0:
        return 1.0 if new == 0 else math.inf
    return new / old


def mark(change: float, lower_is_better: bool) -> str:
    worse = change if lower_is_better else (1 / change if change else math.inf)
    if worse >= WORSE:
        return "worse"
    if worse <= 1 / WORSE:
        return "better"
    return ""


def comparison(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A table: figure, old, new, new ÷ old, worse/better; then the verdicts that changed."""
    rows = [("figure", "old", "new", "new ÷ old", "")]
    before, after = old["figures"], new["figures"]
    for name, figure in after.items():
        if name not in before:
            rows.append((name, "-", _value(figure), "new", ""))
            continue
        old_value, new_value = float(before[name]["value"]), float(figure["value"])
        if old_value < 0 or new_value < 0:  # a ratio says nothing across or below zero
            rows.append((name, _value(before[name]), _value(figure), "-", ""))
            continue
        change = ratio(old_value, new_value)
        rows.append((
            name, _value(before[name]), _value(figure), f"{change:.2f}",
            mark(change, bool(figure.get("lower_is_better", True))),
        ))  # fmt: skip
    rows += [(name, _value(before[name]), "-", "gone", "") for name in before if name not in after]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines = [line.rstrip() for line in lines]
    verdicts = {goal["name"]: goal["verdict"] for goal in old.get("goals", [])}
    changed = [
        f"goal {goal['name']}: {verdicts[goal['name']]} → {goal['verdict']}"
        for goal in new.get("goals", [])
        if goal["name"] in verdicts and verdicts[goal["name"]] != goal["verdict"]
    ]
    worse = sum(row[4] == "worse" for row in rows[1:])
    lines += ["", f"{worse} figures {WORSE:g}× or more worse than before.", *changed]
    return "\n".join(lines)


def _value(figure: dict[str, Any]) -> str:
    value = float(figure["value"])
    unit = str(figure.get("unit", "")).strip()
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return f"{text} {unit}".rstrip()
