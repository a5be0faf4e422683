"""The benchmark's report machinery: goals and their verdicts, measuring again near a threshold,
the JSON of a run, ``--compare``, and reading what a profiler or ``-X importtime`` printed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench import scale
from bench.compare import comparison
from bench.fanout import Case
from bench.profiling import from_stacks
from bench.report import Goal, Section, document, markdown
from bench.round_fanout import Opening, report
from bench.rounds import goals_of, verdict
from bench.scale import Preparation, Prepared
from bench.settle import settle
from bench.startup import heavy_chains, imports
from bench.timing import Part, listing, spent
from tests.conftest import ROOT


def measurement(figures: list[float]):  # type: ignore[no-untyped-def]
    """A measurement whose p99 goal (≤ 10 ms) comes out as ``figures``, one per call."""
    calls = iter(figures)

    async def measure() -> list[Section]:
        section = Section("t", ["a"])
        section.add(1)
        section.goal(Goal("x.p99", "p99 ≤ 10 ms", next(calls), 10.0, unit=" ms"))
        return [section]

    return measure


async def test_a_figure_far_from_its_threshold_is_measured_once() -> None:
    (section,) = await settle(measurement([4.0, 11.0, 11.0]))
    (goal,) = section.goals
    assert goal.runs == [4.0] and goal.met


async def test_a_figure_near_its_threshold_is_measured_until_two_runs_agree() -> None:
    (section,) = await settle(measurement([9.5, 10.8, 10.9, 3.0]))
    (goal,) = section.goals
    assert goal.runs == [9.5, 10.8, 10.9]
    assert goal.figure == 10.8 and not goal.met
    assert "measured 3 times" in goal.line() and "met in 1 of 3" in goal.line()
    (section,) = await settle(measurement([9.6, 9.4, 30.0]))
    assert section.goals[0].runs == [9.6, 9.4] and section.goals[0].met


def test_a_count_that_must_be_zero_is_near_only_when_missed_by_a_little() -> None:
    assert not Goal("n", "none", 0, 0, noise=3).near
    assert Goal("n", "none", 2, 0, noise=3).near
    assert not Goal("n", "none", 40, 0, noise=3).near


def test_a_missed_goal_says_its_cause_and_a_met_one_does_not() -> None:
    missed = Goal("a.b", "fast", 3.0, 2.0, cause="py-spy: MainThread 90%")
    met = Goal("a.c", "at least", 200.0, 150.0, at_most=False, cause="ignored")
    assert missed.line() == "Goal: fast: MISSED (3 against ≤ 2). Cause: py-spy: MainThread 90%"
    assert met.line() == "Goal: at least: met (200 against ≥ 150)."
    unexplained = Goal("a.d", "fast", 3.0, 2.0)
    assert unexplained.line().endswith("Cause: cause not measured")
    section = Section("S", ["h"], goals=[missed, met])
    section.figure("a.e", 12.5, "ms")
    run = document([section], 10.0)
    assert [(g["name"], g["verdict"], g["cause"]) for g in run["goals"]] == [
        ("a.b", "missed", "py-spy: MainThread 90%"),
        ("a.c", "met", None),
    ]
    assert run["figures"]["a.e"]["value"] == 12.5
    assert run["figures"]["a.b"]["value"] == 3.0
    assert "| fast | **missed** | 3 | ≤ 2 |" in markdown([section], 10.0)


def run_of(figures: dict[str, tuple[float, bool]], goals: dict[str, str]) -> dict[str, object]:
    return {
        "figures": {
            name: {"value": value, "unit": "ms", "lower_is_better": lower}
            for name, (value, lower) in figures.items()
        },
        "goals": [{"name": name, "verdict": verdict} for name, verdict in goals.items()],
    }


def test_compare_shows_each_figure_as_a_ratio_and_marks_what_got_worse() -> None:
    old = run_of({"p99": (100.0, True), "rate": (150.0, False), "gone": (1.0, True)}, {"g": "met"})
    new = run_of(
        {"p99": (134.0, True), "rate": (151.0, False), "new": (2.0, True)}, {"g": "missed"}
    )
    lines = comparison(old, new).splitlines()
    assert lines[1].split() == ["p99", "100", "ms", "134", "ms", "1.34", "worse"]
    assert lines[2].split() == ["rate", "150", "ms", "151", "ms", "1.01"]
    assert "new" in lines[3] and "gone" in lines[4]
    assert "1 figures 1.2× or more worse than before." in lines
    signed = comparison(run_of({"cost": (-22.0, True)}, {}), run_of({"cost": (7.5, True)}, {}))
    assert signed.splitlines()[1].split() == ["cost", "-22", "ms", "7.5", "ms", "-"]
    assert "goal g: met → missed" in lines


def test_compare_runs_from_the_command_line(tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(run_of({"p50": (10.0, True)}, {})), encoding="utf-8")
    new.write_text(json.dumps(run_of({"p50": (5.0, True)}, {})), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--compare", str(old), "--to", str(new)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split() == ["p50", "10", "ms", "5", "ms", "0.50", "better"]
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--compare", str(bad), "--to", str(new)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (
        done.returncode == 1
        and done.stderr.strip() == f"error: {bad}: not a benchmark run (no figures)"
    )


def test_py_spy_stacks_say_how_busy_each_thread_was_and_with_what() -> None:
    root = str(ROOT)
    loop = (
        "BaseEventLoop._run_once (/usr/lib/python3.11/asyncio/base_events.py:1922);"
        "Handle._run (/usr/lib/python3.11/asyncio/events.py:80)"
    )
    text = "\n".join([
        f"thread (1): MainThread;main ({root}/bot/cli.py:9);{loop};"
        f"InboxHandler._handle ({root}/bot/inbox.py:169);"
        f"Database.write ({root}/storage/db.py:270) 30",
        f"thread (1): MainThread;main ({root}/bot/cli.py:9);{loop};"
        f"InboxHandler._handle ({root}/bot/inbox.py:169);"
        "Bot._post (/x/site-packages/telegram/_bot.py:600) 70",
        f"thread (2): sqlite-writer_0;_in_transaction ({root}/storage/db.py:101) 20",
    ])  # fmt: skip
    found = from_stacks(text, seconds=1.0)
    assert found.busy("MainThread") == 0.5 and found.busy("sqlite-writer_0") == 0.1
    assert dict(found.packages) == {"storage": 0.3, "telegram": 0.7}
    assert dict(found.functions) == {
        "bot.inbox.InboxHandler._handle": 1.0,
        "storage.db.Database.write": 0.3,
    }
    assert found.share("storage.db") == 0.3
    assert found.waits() == "thread sqlite-writer_0: _in_transaction (storage.db:101) 100%"


def test_importtime_lines_name_who_imported_a_heavy_library() -> None:
    log = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:       500 |        500 |     matplotlib.pyplot",
        "import time:      2000 |       2500 |   matplotlib",
        "import time:       100 |       2600 | bot.render.chart",
        "polling for updates",
        "import time:        50 |         50 | json",
    ])  # fmt: skip
    found = imports(log)
    assert [module for _, _, module in found] == [
        "matplotlib.pyplot", "matplotlib", "bot.render.chart", "json",
    ]  # fmt: skip
    assert heavy_chains(found) == ["matplotlib ← bot.render.chart"]
    assert heavy_chains(imports("import time:        50 |         50 | json")) == []


def case_of(expected: dict[int, int], arrivals: dict[int, list[float]], **kw: object) -> Case:
    """A fan-out started at 0 whose chats got their messages at ``arrivals`` (seconds)."""
    return Case("c", 0.0, arrivals, Counter(expected), **kw)  # type: ignore[arg-type]


def test_the_floor_is_the_overall_rate_unless_a_chats_own_limit_takes_longer() -> None:
    assert case_of({-1: 1, 2: 1}, {}, answers=[0.1]).floor == 3 / 30
    assert case_of({-1: 5, 2: 1}, {}).floor == 12.0  # a group's 20 a minute: 3 s apart
    assert case_of({2: 4, -1: 1}, {}).floor == 3.0  # a private chat's 1 a second
    assert case_of({n: 1 for n in range(1, 61)}, {}).floor == 2.0


def test_an_opening_reports_a_429_and_a_late_answer_as_missed_with_their_cause() -> None:
    chats = {-n: 1 for n in range(1, 61)}
    good = case_of(chats, {chat: [1.2] for chat in chats}, answers=[0.03])
    bad = case_of(
        chats, {chat: [3.5] for chat in list(chats)[1:]} | {-1: []}, answers=[0.5],
        too_many=1, refused=1,
    )  # fmt: skip
    section = report(
        [Opening(good, answer=0.03), Opening(bad, answer=0.5, before_answer=2)], 60, 230
    )
    verdicts = {goal.name: (goal.verdict, goal.figure) for goal in section.goals}
    assert verdicts == {
        "round_fanout.floor_ratio": ("missed", 3.5 / (61 / 30)),
        "round_fanout.delivery": ("missed", 2),
        "round_fanout.answer_first": ("missed", 2),
        "round_fanout.answer_ms": ("missed", 500.0),
    }
    causes = {goal.name: goal.cause for goal in section.goals}
    assert causes["round_fanout.delivery"] == (
        "c: 1 refused (1 × 429), 1 chats without their request, 0 with it twice."
    )
    assert causes["round_fanout.answer_first"] == "c: 2 requests delivered before the answer."
    assert [row[2:4] for row in section.rows] == [["30", "0"], ["500", "2"]]
    assert all(goal.met for goal in report([Opening(good, answer=0.03)], 60, 230).goals)


async def test_a_runs_time_lists_each_part_under_the_part_it_ran_in() -> None:
    parts: list[Part] = []

    async def case(name: str) -> None:
        with spent(name, parts):
            await asyncio.sleep(0.01)
            with spent(f"{name}: inside", parts):
                await asyncio.sleep(0.01)

    with spent("fanout", parts):
        await asyncio.gather(case("alone"), case("asking"))  # at once: siblings, not nested
    with spent("scale", parts):
        pass
    assert [(p.what, p.depth) for p in parts] == [
        ("fanout", 0),
        ("alone", 1),
        ("asking", 1),
        ("alone: inside", 2),
        ("asking: inside", 2),
        ("scale", 0),
    ]
    assert parts[0].seconds >= parts[1].seconds >= parts[3].seconds >= 0.01
    shown = listing(parts)  # each part's own parts under it, not in the order they started
    assert [line[:-10].rstrip() for line in shown] == [
        "fanout", "  alone", "    alone: inside", "  asking", "    asking: inside", "scale",
    ]  # fmt: skip
    assert shown[0].endswith(f"{parts[0].seconds:6.1f} s")
    section = Section("S", ["h"])
    assert "## This run's time" in markdown([section], 1.0, parts)
    assert document([section], 1.0, parts)["run"]["parts"][2] == {
        "what": "alone: inside",
        "depth": 2,
        "seconds": round(parts[3].seconds, 1),
    }


def test_the_rounds_goal_is_missed_by_a_slow_first_call_even_when_warm_ones_are_fast() -> None:
    (part,) = goals_of({"cold_s": 3.2, "warm_s": [0.2, 0.3, 0.2], "peak_rss_mb": 80.0})
    assert [(goal.name, goal.verdict, goal.figure) for goal in part.goals] == [
        ("rounds.docx.seconds", "missed", 3.2),
        ("rounds.docx.peak_rss_mb", "met", 80.0),
    ]
    assert verdict(3.2, 160.0) == "missed: 3.20 s > 3 s; 160 MB > 150 MB"


async def test_scales_data_made_in_the_background_is_taken_or_stopped_and_cleaned_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[Path, bool]] = []
    cancelled: list[Path] = []

    async def prepared(directory: Path, beside: bool) -> Prepared:
        (directory / "scale-1.db").write_bytes(b"")
        made.append((directory, beside))
        try:
            await asyncio.sleep(0.05 if beside else 0)
        except asyncio.CancelledError:
            cancelled.append(directory)
            raise
        return Prepared([], {}, Goal("scale.rss_mb", "rss", 100.0, 150.0), beside)

    monkeypatch.setattr(scale, "prepared", prepared)
    preparation = Preparation()
    preparation.start()
    async with preparation.taken() as data:
        assert data.beside and made[-1][1] is True
        assert (made[-1][0] / "scale-1.db").exists()
    assert not made[-1][0].exists()  # gone once the timing is done with it
    preparation.start()
    await asyncio.sleep(0.01)
    await preparation.stop()  # a benchmark before scale failed: nothing left behind
    assert cancelled == [made[-1][0]] and not made[-1][0].exists()
    async with preparation.taken() as data:  # not started: made at once, in the foreground
        assert not data.beside and made[-1][1] is False
    assert not made[-1][0].exists()
