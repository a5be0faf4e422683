"""Verdicts that hold from one run to the next: a goal near its threshold is measured again.

A measurement is a function that returns its sections (tables, figures, goals); it can be
called again. When a goal's figure comes out within its margin of the threshold, one run
cannot say which side it is on, so the whole measurement runs again, up to ``runs`` times,
until one verdict has a majority of them; the goal then reports the median figure and every
run's. The tables are the last run's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from bench.report import Goal, Section, median, meets
from bench.timing import spent

log = logging.getLogger(__name__)

Measurement = Callable[[], Awaitable[list[Section]]]
RUNS = 3
"""At most this many measurements: two that agree settle it; a third breaks a tie."""


def combined(runs: Sequence[Goal]) -> Goal:
    """One goal from its runs (oldest first): the median figure, every run's figure."""
    figures = [run.figure for run in runs]
    return replace(runs[-1], figure=median(figures), runs=figures)


def settled(goal: Goal, runs: int) -> bool:
    """Decided: not near the threshold, or one verdict has a majority of ``runs``."""
    if not goal.near:
        return True
    votes = sum(meets(run, goal.threshold, goal.at_most) for run in goal.runs)
    return max(votes, len(goal.runs) - votes) > runs // 2


async def settle(
    measure: Measurement, *, runs: int = RUNS, what: str = "measured"
) -> list[Section]:
    """Run ``measure`` until every goal it reports is settled (at most ``runs`` times); each
    run is timed as ``what`` (bench/timing.py)."""
    history: list[list[Section]] = []
    while True:
        with spent(f"{what}, run {len(history) + 1}"):
            history.append(await measure())
        goals = goals_by_name(history)
        open_ = [name for name, goal in goals.items() if not settled(goal, runs)]
        if not open_ or len(history) >= runs:
            break
        log.warning("measuring again: %s near the threshold", ", ".join(open_))
    last = history[-1]
    return [
        replace(section, goals=[goals[goal.name] for goal in section.goals]) for section in last
    ]


def goals_by_name(history: Sequence[Sequence[Section]]) -> dict[str, Goal]:
    runs: dict[str, list[Goal]] = {}
    for sections in history:
        for section in sections:
            for goal in section.goals:
                runs.setdefault(goal.name, []).append(goal)
    return {name: combined(goals) for name, goals in runs.items()}
