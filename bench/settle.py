"""Verdicts that hold from one run to the next: a goal whose verdict is in question is measured
again until it is stable.

A measurement is a function that returns its sections (tables, figures, goals); it can be
called again. A goal's verdict is in question when

- its figure came out near its threshold (within its margin): one measurement cannot say
  which side it is on; it may take :data:`NEAR` measurements (two that agree decide);
- a measurement's verdict differs from the previous run's (``python -m bench`` reads it
  before it starts: :func:`compare_with`): one of the two runs was unlucky, and more
  measurements must say which; it may take ``again`` (:data:`AGAIN`, three that agree decide;
  a measurement too long to repeat more, a whole fair-race load or the fan-outs, passes
  :data:`ONCE_MORE`: re-run once, and two that disagree leave it not stable, which the report
  says).

The whole measurement runs again while a goal of it is in question and not yet *stable*: one
verdict holding a majority of the most measurements the goal may take (one, when it is in
question neither way; once in question, a goal stays so, even if its median moves away from
the threshold). So it runs at most ``max(NEAR_RUNS, again)`` times. Each goal then reports
the median of its measurements, whose verdict is the majority's, and every measurement's
figure; the tables are the last measurement's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace

from bench.report import DIFFERED, NEAR, Goal, Section, median, meets
from bench.timing import spent

log = logging.getLogger(__name__)

Measurement = Callable[[], Awaitable[list[Section]]]
NEAR_RUNS = 3
"""Near its threshold: at most this many measurements; two that agree settle it."""
AGAIN = 5
"""A verdict that differed from the previous run's: at most this many; three that agree."""
ONCE_MORE = 2
"""For a measurement too long to repeat more: re-run once."""

_previous: dict[str, str] = {}
"""The previous run's verdict by goal name (empty: no comparison)."""


def compare_with(verdicts: Mapping[str, str]) -> None:
    """Set the previous run's verdicts for every :func:`settle` after (``python -m bench``)."""
    _previous.clear()
    _previous.update(verdicts)


def verdict_of(goal: Goal, figure: float) -> str:
    return "met" if meets(figure, goal.threshold, goal.at_most) else "missed"


def in_question(goal: Goal, previous: str | None) -> tuple[str, ...]:
    """Why the goal's verdict is in question after its measurements so far (none: it is not)."""
    why: tuple[str, ...] = (NEAR,) if goal.near else ()
    if previous is not None and any(verdict_of(goal, run) != previous for run in goal.runs):
        why += (DIFFERED,)
    return why


def most_runs(why: Sequence[str], again: int) -> int:
    """The most measurements a goal in question for these reasons may take."""
    return max([1] + [NEAR_RUNS if reason == NEAR else again for reason in why])


def combined(runs: Sequence[Goal], previous: str | None, again: int) -> Goal:
    """One goal from its measurements (oldest first): the median figure, every one's figure,
    and how many it may take."""
    figures = [run.figure for run in runs]
    goal = replace(runs[-1], figure=median(figures), runs=figures, previous=previous)
    goal.most = most_runs(in_question(goal, previous), again)
    return goal


def settled(goal: Goal) -> bool:
    """It took the most measurements it may, or one verdict holds a majority of them."""
    return len(goal.runs) >= goal.most or goal.stable


async def settle(
    measure: Measurement,
    *,
    again: int = AGAIN,
    what: str = "measured",
    previous: Mapping[str, str] | None = None,
) -> list[Section]:
    """Run ``measure`` until every goal it reports is settled; each run is timed as ``what``
    (bench/timing.py). ``previous``: the previous run's verdicts (default: :func:`compare_with`'s)."""
    verdicts = _previous if previous is None else previous
    history: list[list[Section]] = []
    reasons: dict[str, tuple[str, ...]] = {}
    mosts: dict[str, int] = {}
    while True:
        with spent(f"{what}, run {len(history) + 1}"):
            history.append(await measure())
        goals = goals_by_name(history, verdicts, again)
        for name, goal in goals.items():  # once in question, in question
            goal.most = mosts[name] = max(goal.most, mosts.get(name, 1))
        open_ = {
            name: in_question(goal, verdicts.get(name))
            for name, goal in goals.items()
            if not settled(goal)
        }
        if not open_ or len(history) >= max(NEAR_RUNS, again):
            break
        for name, why in open_.items():
            reasons[name] = tuple(dict.fromkeys(reasons.get(name, ()) + why))
        log.warning(
            "measuring again: %s",
            ", ".join(f"{name} ({' and '.join(why)})" for name, why in open_.items()),
        )
    for name, why in reasons.items():
        goals[name].again = why
    last = history[-1]
    return [
        replace(section, goals=[goals[goal.name] for goal in section.goals]) for section in last
    ]


def goals_by_name(
    history: Sequence[Sequence[Section]], verdicts: Mapping[str, str], again: int
) -> dict[str, Goal]:
    runs: dict[str, list[Goal]] = {}
    for sections in history:
        for section in sections:
            for goal in section.goals:
                runs.setdefault(goal.name, []).append(goal)
    return {name: combined(goals, verdicts.get(name), again) for name, goals in runs.items()}
