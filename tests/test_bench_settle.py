"""The benchmark's verdicts from one run to the next: a goal whose verdict differs from the
previous run's is measured again until it is stable, and the report says so."""

from __future__ import annotations

import json
from pathlib import Path

from bench.compare import Previous, previous_run
from bench.report import DIFFERED, NEAR, Goal, Section, document, markdown, tally, terminal
from bench.settle import AGAIN, ONCE_MORE, settle
from tests.conftest import ROOT

PREVIOUSLY_MET = {"x.p99": "met"}


def measurement(figures: list[float], calls: list[int] | None = None):  # type: ignore[no-untyped-def]
    """A measurement whose p99 goal (≤ 10 ms) comes out as ``figures``, one per call."""
    values = iter(figures)

    async def measure() -> list[Section]:
        if calls is not None:
            calls.append(1)
        section = Section("t", ["a"])
        section.add(1)
        section.goal(Goal("x.p99", "p99 ≤ 10 ms", next(values), 10.0, unit=" ms"))
        return [section]

    return measure


async def settled(figures: list[float], **kw: object) -> Goal:
    (section,) = await settle(measurement(figures), **kw)  # type: ignore[arg-type]
    (goal,) = section.goals
    return goal


async def test_a_verdict_unlike_the_previous_runs_is_measured_until_three_agree() -> None:
    # Far from the threshold each time, so only the previous run puts it in question.
    goal = await settled([20.0, 4.0, 30.0, 25.0, 3.0], previous=PREVIOUSLY_MET)
    assert goal.runs == [20.0, 4.0, 30.0, 25.0]  # missed 3 of 4: three agree, of at most 5
    assert (goal.figure, goal.verdict, goal.most) == (22.5, "missed", AGAIN)
    assert goal.again == (DIFFERED,) and goal.stable
    goal.previous = "met"  # python -m bench sets it on every goal once the run is over
    assert goal.against_previous == "differs"
    assert goal.line() == (
        "Goal: p99 ≤ 10 ms: MISSED (22.5 ms against ≤ 10 ms; measured 4 times, as a verdict "
        "differed from the previous run's (met), until one verdict had 3 of at most 5: 20, 4, "
        "30, 25, the median; met in 1 of 4; the previous run's verdict, met: this one differs "
        "from it). Cause: cause not measured"
    )


async def test_a_first_measurement_unlike_the_previous_run_can_come_back_to_it() -> None:
    goal = await settled([20.0, 4.0, 5.0, 6.0, 30.0], previous=PREVIOUSLY_MET)
    assert goal.runs == [20.0, 4.0, 5.0, 6.0] and goal.met and goal.votes == 3
    goal.previous = "met"
    assert goal.against_previous == "agrees"
    assert "this one agrees with it" in goal.line()


async def test_no_verdict_holds_a_majority_until_the_fifth_and_then_one_does() -> None:
    goal = await settled([20.0, 4.0, 20.0, 4.0, 20.0, 4.0], previous=PREVIOUSLY_MET)
    assert goal.runs == [20.0, 4.0, 20.0, 4.0, 20.0] and goal.stable and not goal.met


async def test_a_verdict_that_agrees_with_the_previous_run_is_measured_once() -> None:
    calls: list[int] = []
    (section,) = await settle(measurement([4.0, 20.0], calls), previous=PREVIOUSLY_MET)
    assert len(calls) == 1 and section.goals[0].runs == [4.0] and section.goals[0].again == ()


async def test_without_a_previous_run_a_far_figure_is_measured_once() -> None:
    goal = await settled([20.0, 4.0], previous={})
    assert goal.runs == [20.0] and goal.most == 1


async def test_a_measurement_too_long_to_repeat_is_re_run_once_and_may_stay_unstable() -> None:
    goal = await settled([20.0, 4.0, 30.0], previous=PREVIOUSLY_MET, again=ONCE_MORE)
    assert goal.runs == [20.0, 4.0] and goal.most == ONCE_MORE and not goal.stable
    assert "no verdict a majority of the 2 it may take" in goal.line()
    assert "not stable" in goal.line()
    agreed = await settled([20.0, 30.0, 4.0], previous=PREVIOUSLY_MET, again=ONCE_MORE)
    assert agreed.runs == [20.0, 30.0] and agreed.stable and not agreed.met


async def test_near_and_unlike_the_previous_run_takes_the_larger_bound() -> None:
    goal = await settled([10.5, 9.0, 11.0, 11.5, 3.0], previous=PREVIOUSLY_MET, again=ONCE_MORE)
    assert goal.runs == [10.5, 9.0, 11.0] and goal.most == 3  # near: 3, more than once more
    assert set(goal.again) == {NEAR, DIFFERED}
    assert "as it came out near its threshold and a verdict differed from the previous run's" in (
        goal.line()
    )


def test_the_tally_counts_each_goal_measured_again_under_one_reason() -> None:
    goals = [
        Goal("a", "a", 11.0, 10.0, runs=[10.5, 11.0, 12.0], again=(NEAR, DIFFERED)),
        Goal("b", "b", 9.0, 10.0, runs=[9.5, 8.5], again=(NEAR,)),
        Goal("c", "c", 1.0, 10.0, runs=[1.0, 1.0]),
        Goal("d", "d", 1.0, 10.0),
    ]
    assert tally([Section("S", [], goals=goals)]) == (
        "Goals: 3 met, 1 missed; 3 measured again (1 as a verdict differed from the previous "
        "run's, 1 near their threshold, 1 with another goal of their measurement)."
    )


async def test_once_near_its_threshold_a_goal_stays_in_question() -> None:
    # The median of 9.5 and 30 is far from 10, but one of each is no verdict: a third decides.
    goal = await settled([9.5, 30.0, 31.0, 2.0], previous={})
    assert goal.runs == [9.5, 30.0, 31.0] and goal.again == (NEAR,) and not goal.met


def test_the_previous_run_is_read_from_its_json_or_not_at_all_and_says_why(
    tmp_path: Path,
) -> None:
    committed = ROOT / "docs" / "benchmarks.json"
    found = previous_run(committed, quick=False)
    run = json.loads(committed.read_text(encoding="utf-8"))
    assert found.why_not is None and found.at == run["run"]["at"]
    assert found.verdicts == {goal["name"]: goal["verdict"] for goal in run["goals"]}
    assert found.line().startswith(f"Compared with the previous run ({committed}, ")
    assert previous_run(committed, quick=True).line() == (
        f"No comparison with a previous run: {committed} was a full run, and this one is "
        "quick: their figures do not compare."
    )
    missing = tmp_path / "none.json"
    assert previous_run(missing, quick=False).line() == (
        f"No comparison with a previous run: {missing} does not exist."
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"goals": [', encoding="utf-8")
    assert previous_run(broken, quick=False).why_not.startswith(  # type: ignore[union-attr]
        "cannot be read as a benchmark run ("
    )
    broken.write_text('{"figures": {}}', encoding="utf-8")
    assert previous_run(broken, quick=False).why_not == "holds no goals"
    assert previous_run(broken, quick=False).verdicts == {}


def test_the_report_says_which_verdicts_differ_from_the_previous_run_and_how_they_came_out() -> (
    None
):
    questioned = Goal(
        "a.p99", "fast", 22.5, 10.0, unit=" ms", runs=[20.0, 4.0, 30.0, 25.0], most=5,
        again=(DIFFERED,), previous="met", cause="py-spy",
    )  # fmt: skip
    agreeing = Goal("a.rate", "many", 200.0, 150.0, at_most=False, previous="met")
    new = Goal("a.new", "new", 1.0, 2.0)
    sections = [Section("S", ["h"], goals=[questioned, agreeing, new])]
    previous = Previous("old.json", {"a.p99": "met", "a.rate": "met"}, "2026-12-02T02:42:11")
    text = markdown(sections, 1.0, previous=previous)
    assert "| goal | verdict | figure | threshold | previous run |" in text
    assert "| fast | **missed** (4 runs) | 22.5 ms | ≤ 10 ms | met: **differs** |" in text
    assert "| many | met | 200 | ≥ 150 | met: agrees |" in text
    assert "| new | met | 1 | ≤ 2 | - |" in text
    assert "- 1 of 2 verdicts agree with it, 1 differs (a.p99); 1 goal was not in it." in text
    assert (
        "- Measured again as a verdict differed: a.p99: the previous run met; 4 measurements "
        "(20 ms, 4 ms, 30 ms, 25 ms), the median 22.5 ms: missed in 3 of 4, stable (a majority "
        "of at most 5 decides); it differs from the previous run.\n"
    ) in text
    assert "1 measured again (1 as a verdict differed from the previous run's)" in text
    assert "1 of 2 verdicts agree with it" in terminal(sections, previous=previous)
    run = document(sections, 1.0, previous=previous)
    assert run["previous"] == {
        "source": "old.json", "at": "2026-12-02T02:42:11", "compared": True, "why_not": None,
    }  # fmt: skip
    first = run["goals"][0]
    assert (first["previous_verdict"], first["against_previous"]) == ("met", "differs")
    assert (first["measured_again"], first["most_runs"], first["stable"]) == (
        ["differed"],
        5,
        True,
    )
    nothing = Previous("none.json", why_not="does not exist")
    text = markdown(sections, 1.0, previous=nothing)
    assert "- No comparison with a previous run: none.json does not exist." in text
    assert "previous run |" not in text
    assert document(sections, 1.0, previous=nothing)["previous"]["compared"] is False
