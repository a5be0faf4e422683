"""Start-up: from ``python -m bot run`` starting to its first ``getUpdates``.

The real plan (110 tasks) and an empty database each time, as on a first deployment: the
child process is spawned against a fake Telegram served from this process, and the clock
runs from just before the spawn to the moment the fake sees the first ``getUpdates`` (the
bot is then ready to answer). The median of several starts is the figure. One more start runs
under ``-X importtime`` to see what is imported at start: none of the heavy libraries the bot
uses now and then (matplotlib for the digest's chart, openpyxl for /export, python-docx) may
be among them. When the goal is missed, one more start runs under pyinstrument.
"""

from __future__ import annotations

import itertools
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pyinstrument.session import Session

from bench import sized
from bench.child import output_of, runnable_waiting, spawned, until_polling
from bench.profiling import hotspots
from bench.report import Goal, Section, median
from bench.settle import settle
from bench.timing import spent
from bot.faketelegram import FakeTelegram
from tests.harness import BOT_USERNAME

GOAL_SECONDS = 1.5
HEAVY = ("matplotlib", "openpyxl", "docx")
"""Imported where first used, never at start (python-docx's module is ``docx``)."""
NUMBERS = itertools.count()
"""Each start's database and log are new: numbered on."""
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def starts() -> int:
    return sized(5, 3)


@dataclass(frozen=True)
class Start:
    seconds: float
    """From just before the spawn to the first getUpdates."""
    kept_waiting: float
    """Of which the child's main thread was ready to run but had no CPU (the machine is shared)."""
    output: str


async def start_once(workdir: Path, number: int, *prefix: str) -> Start:
    """Spawn ``python [prefix] -m bot run`` on a new database and time it to its first
    getUpdates; what it printed is read after a graceful stop."""
    name = f"start-{number}"
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        began = time.perf_counter()
        async with spawned(fake, workdir, name, *prefix, "-m", "bot", "run") as child:
            took = await until_polling(fake, child, began)
            waited = runnable_waiting(child.pid)
    return Start(took, waited, output_of(workdir, name))


def imports(log: str) -> list[tuple[int, int, str]]:
    """``-X importtime`` lines: (self µs, depth, module), in the order printed."""
    found = []
    for line in log.splitlines():
        if match := IMPORT_LINE.match(line):
            found.append((int(match[1]), len(match[3]) // 2, match[4]))
    return found


def heavy_chains(found: list[tuple[int, int, str]]) -> list[str]:
    """Each heavy top-level package imported, with who imported it: importtime prints a
    module after what it imports, so its importer is the next line less indented."""
    chains = []
    for index, (_, depth, module) in enumerate(found):
        top = module.split(".")[0]
        if top not in HEAVY or any(m.split(".")[0] == top for _, _, m in found[index + 1 :]):
            continue  # report each package once: at its outermost (last printed) module
        chain, level = [module], depth
        for _, d, m in found[index + 1 :]:
            if d < level:
                chain.append(m)
                level = d
        chains.append(" ← ".join(chain))
    return chains


def by_package(found: list[tuple[int, int, str]]) -> list[tuple[str, float]]:
    """Import time (own, in seconds) by top-level package, largest first."""
    own: Counter[str] = Counter()
    for micros, _, module in found:
        own[module.split(".")[0]] += micros / 1e6
    return own.most_common()


async def profiled_start(workdir: Path) -> str:
    """One start under pyinstrument: where its time went, as the cause of a missed goal."""
    session_file = workdir / "start.pyisession"
    await start_once(workdir, 99, "-m", "pyinstrument", "-r", "pyisession", "-o", str(session_file))
    if not session_file.exists():
        return "pyinstrument wrote no profile of the start"
    found = hotspots(Session.load(str(session_file)))
    packages = ", ".join(f"{name} {share:.0%}" for name, share in found.packages[:6])
    functions = ", ".join(f"{name} {share:.0%}" for name, share in found.functions[:10])
    return (
        f"pyinstrument over one start and stop ({found.seconds:.1f} s, idle {found.idle:.0%}): "
        f"own time by package: {packages}; the project's functions, callees included: "
        f"{functions}."
    )


async def timed(workdir: Path) -> list[Section]:
    """One measurement: ``starts()`` starts, their median against the goal."""
    runs = [await start_once(workdir, next(NUMBERS)) for _ in range(starts())]
    times = [run.seconds for run in runs]
    section = Section(
        "Start-up: python -m bot run to its first getUpdates (110 tasks, empty database)",
        ["starts", "median s", "fastest s", "slowest s", "waited for a CPU"],
    )
    seconds = section.figure("startup.median_s", median(times), "s")
    waited = section.figure(
        "startup.waited_for_cpu", median([run.kept_waiting / run.seconds for run in runs])
    )
    section.add(
        len(times), f"{seconds:.2f}", f"{min(times):.2f}", f"{max(times):.2f}", f"{waited:.0%}"
    )
    section.goal(
        Goal("startup.seconds", f"ready (first getUpdates) within {GOAL_SECONDS:g} s", seconds,
             GOAL_SECONDS, unit=" s")
    )  # fmt: skip
    section.notes.append(
        "Each start: a new empty database, spawned and timed from this process; every start "
        f"then stops gracefully (SIGTERM). Starts: {', '.join(f'{t:.2f}' for t in times)} s. "
        "Waited for a CPU: the median share of a start its main thread was ready to run but "
        "had no core, taken by other processes (/proc schedstat)."
    )
    return [section]


async def imported(workdir: Path) -> list[Section]:
    """One start under ``-X importtime``: what it imported, none of the heavy libraries."""
    found = imports((await start_once(workdir, next(NUMBERS), "-X", "importtime")).output)
    chains = heavy_chains(found)
    part = Section("imports", [])
    part.figure("startup.modules", len(found), "modules")
    heavy = part.goal(
        Goal("startup.heavy_imports", "matplotlib, openpyxl and python-docx not imported at "
             "start", len(chains), 0)
    )  # fmt: skip
    if not heavy.met:
        heavy.cause = "imported at start: " + "; ".join(chains) + " (from -X importtime)."
    top = ", ".join(f"{name} {secs:.2f}" for name, secs in by_package(found)[:6])
    part.notes.append(
        f"Imported at start: {len(found)} modules, {sum(m for m, _, _ in found) / 1e6:.2f} s of "
        f"import time by -X importtime (which itself slows importing); by package, s: {top}."
    )
    return [part]


async def run() -> list[Section]:
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        workdir = Path(tmp)
        (section,) = await settle(lambda: timed(workdir), what=f"{starts()} starts")
        (part,) = await settle(lambda: imported(workdir), what="a start under -X importtime")
        section.figures += part.figures
        section.goals += part.goals
        (goal,) = (g for g in section.goals if g.name == "startup.seconds")
        if not goal.met:
            (waited,) = (f.value for f in section.figures if f.name == "startup.waited_for_cpu")
            with spent("a start under pyinstrument (the goal missed)"):
                profile = await profiled_start(workdir)
            goal.cause = (
                f"each start's main thread waited for a CPU (taken by other processes) "
                f"{waited:.0%} of it (median); {profile}"
            )
    section.notes += part.notes
    return [section]
