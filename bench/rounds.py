"""Rounds: compiling a supervision round of the real plan into the office's document.

A round of the plan's 43 departments and 110 tasks with a 2,000-character statement in every
slot (a slot is a department named on a task: 230 of them), rendered as DOCX and as XLSX. A
second shape names every department on every task (4,730 slots) to show the headroom.

Each shape and format is measured in a child process of its own (``python -m bench.rounds
measure <format> <shape>``) so that no earlier benchmark's memory counts: it loads the plan,
builds the round, renders it once cold (python-docx or openpyxl imported by that first call,
as in the bot), then ``WARM`` times more, then once under tracemalloc. Peak RSS is the child's
VmHWM (``getrusage`` maxrss where there is no ``/proc``) after the untraced calls: everything
the process held at its worst, the interpreter, the plan and the round included.

``python -m bench.rounds example FILE.docx`` writes the realistic example shown in the README:
every task, a few departments' statements, some late, some missing.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from bench.memory import current_rss_mb, maxrss_mb, rss_mb
from bench.report import Goal, Section
from bench.settle import settle
from bench.timing import spent
from bot.plan import Plan, load_plan
from bot.round_report import CompiledRound, DepartmentTally, Statement, TaskStatements

ROOT = Path(__file__).resolve().parent.parent
TASKS_FILE = ROOT / "data" / "tasks.json"
ZONE = ZoneInfo("Asia/Shanghai")
OPENED = datetime(2024, 6, 20, 2, 0, tzinfo=UTC)
DUE = date(2024, 7, 15)
CLOSED = datetime(2024, 7, 20, 1, 30, tzinfo=UTC)
STATEMENT_CHARS = 2_000
SEED = 20240715
WARM = 3
GOAL_S = 3.0
GOAL_MB = 150.0
FORMATS = ("docx", "xlsx")
SHAPES = {"plan": "the plan's slots", "every": "every department on every task"}

SENTENCES = (
    "按照计划分工，我部制定了年度工作方案，明确责任处室和完成时限。",
    "已召开专题会议研究部署，形成工作台账，逐项推进落实。",
    "配套制度起草工作已完成，正在征求有关部门和地方意见。",
    "会同相关部门开展联合调研，赴地方实地了解政策实施情况。",
    "相关条例修订草案已报送审议，预计年内完成。",
    "组织开展专项执法检查，查处各类案件，典型案例已向社会公布。",
    "加强宣传培训，举办专题培训班，覆盖各级工作人员。",
    "下一步将继续加强统筹协调，确保任务按期保质完成。",
    "存在的主要问题是跨部门协同机制有待完善，需进一步加强沟通。",
    "已建立季度调度机制，及时掌握工作进展，协调解决重点难点问题。",
)


def statement_text(rng: random.Random, opening: str, chars: int, *, exact: bool) -> str:
    """Plausible statement text of ``chars`` characters (cut to exactly that many when
    ``exact``, else whole sentences up to at least that), different in every slot."""
    parts = [opening]
    while sum(map(len, parts)) < chars:
        parts.append(rng.choice(SENTENCES))
    text = "".join(parts)
    return text[:chars] if exact else text


def tally(tasks: Sequence[TaskStatements], plan: Plan) -> tuple[DepartmentTally, ...]:
    """What each department owed and how it answered, worst first (most missing, then late)."""
    counts: dict[str, list[int]] = {}
    for task in tasks:
        for code in (task.lead, *task.participants):
            row = counts.setdefault(code, [0, 0, 0, 0])
            said = task.statements.get(code)
            row[0] += 1
            row[3 if said is None else 2 if said.late else 1] += 1
    order = {d.code: i for i, d in enumerate(plan.departments)}
    worst = sorted(counts, key=lambda code: (-counts[code][3], -counts[code][2], order[code]))
    return tuple(DepartmentTally(code, *counts[code]) for code in worst)


def compiled_round(
    plan: Plan,
    *,
    every: bool,
    answers: Callable[[random.Random, str], bool],
    chars: Callable[[random.Random], int],
    exact: bool,
) -> CompiledRound:
    """The round of ``plan``: each slot answered when ``answers`` says so, with ``chars``
    characters (``exact``: cut to that); one answer in ten late, one in eight with a document. ``every``: every
    department is named on every task (its lead first)."""
    rng = random.Random(SEED)
    codes = [d.code for d in plan.departments]
    tasks = []
    for task in plan.tasks:
        named = [task.lead, *(c for c in codes if c != task.lead)] if every else task.departments
        statements: dict[str, Statement] = {}
        for code in named:
            if not answers(rng, code):
                continue
            late = rng.random() < 0.1
            day = DUE + timedelta(days=rng.randint(1, 4) if late else -rng.randint(0, 12))
            when = datetime(day.year, day.month, day.day, 9, tzinfo=ZONE)
            when += timedelta(minutes=rng.randrange(9 * 60))
            opening = f"关于任务{task.number}的落实情况（{plan.department(code).name}）："
            document = f"任务{task.number}落实情况.pdf" if rng.random() < 0.125 else None
            text = statement_text(rng, opening, chars(rng), exact=exact)
            statements[code] = Statement(
                code, f"联络员{rng.randint(1, 99)}", when, text, document, late
            )
        tasks.append(
            TaskStatements(
                task.number, task.section, task.subsection, task.text, named[0],
                tuple(named[1:]), statements,
            )
        )  # fmt: skip
    return CompiledRound(
        round_id=1, title="2024 年上半年落实情况", plan_year=plan.year, plan_title=plan.title,
        opened_at=OPENED, due=DUE, closed_at=CLOSED, tasks=tuple(tasks), tally=tally(tasks, plan),
    )  # fmt: skip


def benchmark_round(plan: Plan, shape: str) -> CompiledRound:
    """Every slot answered, with a statement of :data:`STATEMENT_CHARS` characters."""
    return compiled_round(
        plan, every=shape == "every", answers=lambda *_: True, chars=lambda _: STATEMENT_CHARS,
        exact=True,
    )  # fmt: skip


EXAMPLE_DEPARTMENTS = frozenset({"cnipa", "cpd", "samr", "mara", "most", "mof", "gacc", "spc"})


def example_round(plan: Plan) -> CompiledRound:
    """What the office would see a week after the due date: eight departments answered most
    of what they owe, at lengths from a paragraph to a page; the others nothing yet."""
    return compiled_round(
        plan,
        every=False,
        answers=lambda rng, code: code in EXAMPLE_DEPARTMENTS and rng.random() < 0.85,
        chars=lambda rng: rng.choice((90, 160, 260, 420)),
        exact=False,
    )


# --- the child process --------------------------------------------------------------------------


def renderer(fmt: str) -> Callable[[CompiledRound, Plan], bytes]:
    """The format's renderer, imported as the bot imports it (the office library not yet)."""
    if fmt == "docx":
        from bot.render.round_docx import round_docx

        return lambda compiled, plan: round_docx(compiled, plan, lang="zh", zone=ZONE)
    from bot.render.round_xlsx import round_xlsx

    return lambda compiled, plan: round_xlsx(compiled, plan, lang="zh", zone=ZONE)


def measure(fmt: str, shape: str) -> dict[str, Any]:
    """One format and shape in this process: times, memory, and what was made."""
    render = renderer(fmt)
    plan = load_plan(TASKS_FILE)
    compiled = benchmark_round(plan, shape)
    before = current_rss_mb()
    started = time.perf_counter()
    data = render(compiled, plan)
    cold = time.perf_counter() - started
    warm = []
    for _ in range(WARM):
        started = time.perf_counter()
        again = render(compiled, plan)
        warm.append(time.perf_counter() - started)
        assert again == data, "the same round must give the same bytes"
    peak, maxrss = rss_mb(), maxrss_mb()
    tracemalloc.start()
    render(compiled, plan)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    slots = sum(1 + len(task.participants) for task in compiled.tasks)
    return {
        "slots": slots,
        "chars": sum(len(s.text) for task in compiled.tasks for s in task.statements.values()),
        "bytes": len(data),
        "cold_s": cold,
        "warm_s": warm,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "maxrss_mb": maxrss,
        "traced_peak_mb": traced / 2**20,
    }


async def in_child(*args: str) -> dict[str, Any]:
    """``python -m bench.rounds <args>``, its JSON read back."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.rounds", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"bench.rounds {' '.join(args)} failed (exit {child.returncode})")
    return cast(dict[str, Any], json.loads(out))


# --- the report ---------------------------------------------------------------------------------


def slowest(result: dict[str, Any]) -> float:
    return max(result["cold_s"], *result["warm_s"])


def verdict(seconds: float, peak_mb: float) -> str:
    misses = []
    if seconds > GOAL_S:
        misses.append(f"{seconds:.2f} s > {GOAL_S:.0f} s")
    if peak_mb > GOAL_MB:
        misses.append(f"{peak_mb:.0f} MB > {GOAL_MB:.0f} MB")
    return "missed: " + "; ".join(misses) if misses else "met"


THE_GOAL = ("docx", "plan")
"""The format and shape with goals: the DOCX of the plan's round."""


async def rendered(fmt: str, shape: str) -> dict[str, Any]:
    with spent(f"{fmt}, {SHAPES[shape]} (a child process)"):
        return await in_child("measure", fmt, shape)


def goals_of(result: dict[str, Any]) -> list[Section]:
    """The DOCX of the plan's round against its goals, on every call, the first included."""
    part = Section("goals", [])
    what = "the DOCX of the plan's round (43 departments, 110 tasks, every slot answered)"
    part.goal(
        Goal("rounds.docx.seconds", f"{what}: every call, the first included, under "
             f"{GOAL_S:g} s", slowest(result), GOAL_S, unit=" s")
    )  # fmt: skip
    part.goal(
        Goal("rounds.docx.peak_rss_mb", f"{what}: peak RSS under {GOAL_MB:g} MB",
             result["peak_rss_mb"], GOAL_MB, unit=" MB")
    )  # fmt: skip
    return [part]


async def run() -> list[Section]:
    section = Section(
        "Rounds: compiling a round, 2,000 characters in every slot",
        ["format", "slots", "statement text", "file", "first call s", "warm s (best / worst)",
         "RSS before MB", "peak RSS MB", "traced peak MB", "goal"],
    )  # fmt: skip
    results: dict[tuple[str, str], dict[str, Any]] = {}

    async def the_goal() -> list[Section]:
        results[THE_GOAL] = await rendered(*THE_GOAL)
        return goals_of(results[THE_GOAL])

    (part,) = await settle(the_goal, what=f"{THE_GOAL[0]}, {SHAPES[THE_GOAL[1]]}")
    section.goals += part.goals
    for shape, what in SHAPES.items():
        for fmt in FORMATS:
            result = results.get((fmt, shape)) or await rendered(fmt, shape)
            outcome = verdict(slowest(result), result["peak_rss_mb"])
            if (fmt, shape) == THE_GOAL:  # its goals' figures: the median, if measured again
                outcome = verdict(*(goal.figure for goal in part.goals))
            elif shape == "every":
                outcome = f"not a goal ({outcome})"
            section.add(
                f"{fmt.upper()}, {what}", f"{result['slots']:,}",
                f"{result['chars'] / 1e6:.2f} M chars", f"{result['bytes'] / 2**20:.1f} MB",
                f"{result['cold_s']:.2f}",
                f"{min(result['warm_s']):.2f} / {max(result['warm_s']):.2f}",
                f"{result['rss_before_mb']:.0f}", f"{result['peak_rss_mb']:.0f}",
                f"{result['traced_peak_mb']:.0f}", outcome,
            )  # fmt: skip
    section.notes += [
        "Each row in a child process of its own: plan loaded, round built, then rendered once "
        f"cold (the office library imported by that call, as in the bot), {WARM} times warm "
        "(each giving the same bytes), then once under tracemalloc.",
        "RSS before: VmRSS with the plan and the round built, before the first call. Peak RSS: "
        "VmHWM after the untraced calls, the whole process at its worst (interpreter, plan, "
        "round, library, document); getrusage maxrss agrees in a process of its own. Traced "
        "peak: the most Python memory the traced call held at once (lxml's C memory not "
        "included, which is why peak RSS is the goal's measure).",
        "Every department on every task (4,730 slots, 9.5 M characters) is far beyond a real "
        "round; it shows how the time and memory grow, not a goal.",
    ]
    return [section]


def main(argv: Sequence[str]) -> int:
    """``measure <docx|xlsx> <plan|every>`` (JSON out) or ``example FILE.docx``."""
    if argv[0] == "example":
        from bot.render.round_docx import round_docx

        plan = load_plan(TASKS_FILE)
        Path(argv[1]).write_bytes(round_docx(example_round(plan), plan, zone=ZONE))
        return 0
    _, fmt, shape = argv
    print(json.dumps(measure(fmt, shape)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
