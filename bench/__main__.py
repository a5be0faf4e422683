"""``python -m bench``: every benchmark in one run; a table at the terminal, Markdown and JSON in docs/."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import QUICK, settle
from bench.compare import comparison, load_run, previous_run
from bench.report import Section, all_goals, document, markdown, terminal
from bench.timing import PARTS, spent

OUTPUT = Path("docs/benchmarks.md")
BENCHMARKS = {
    "startup": "bench.startup",
    "answering": "bench.answering",
    "fanout": "bench.fanout",
    "roundfanout": "bench.round_fanout",
    "scale": "bench.scale",
    "rounds": "bench.rounds",
}
"""Name → module; each module's ``async def run() -> list[Section]`` is one benchmark."""
BESIDE = {"fanout": ("scale",)}
"""A benchmark that leaves a core idle (the fan-outs wait on Telegram's limits, not on the CPU)
→ later benchmarks whose ``start_in_background()`` makes their data meanwhile, in child
processes that give way and are stopped while a measurement that must run alone runs
(``bench/beside.py``); each waits for all of it before it times anything, and
``stop_in_background()`` ends what a benchmark that failed first left running."""


async def run_all(only: list[str]) -> list[Section]:
    sections: list[Section] = []
    chosen = [name for name in BENCHMARKS if not only or name in only]
    started = []
    try:
        for name in chosen:
            with spent(name):
                for later in BESIDE.get(name, ()):
                    if later in chosen:
                        started.append(importlib.import_module(BENCHMARKS[later]))
                        started[-1].start_in_background()
                sections.extend(await importlib.import_module(BENCHMARKS[name]).run())
    finally:
        for module in started:
            await module.stop_in_background()
    return sections


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("only", nargs="*", help=f"{', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help=f"the Markdown report (default: {OUTPUT}; its .json beside)",
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="fewer actions and repetitions, for development (report in the temp folder)",
    )  # fmt: skip
    parser.add_argument(
        "--compare", type=Path, metavar="OLD.json", help="print each figure's ratio to an old run"
    )
    parser.add_argument(
        "--to", type=Path, metavar="NEW.json",
        help="with --compare: compare this run's file instead of running the benchmarks",
    )  # fmt: skip
    parser.add_argument(
        "--previous", type=Path, metavar="FILE.json",
        help="the run whose verdicts this one's must agree with, or be measured again until "
        "stable (default: the report's .json as it is before this run)",
    )  # fmt: skip
    args = parser.parse_args()
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if args.to is not None:
        if args.compare is None:
            parser.error("--to needs --compare OLD.json")
        print(comparison(load_run(args.compare), load_run(args.to)))
        return 0
    old = load_run(args.compare) if args.compare is not None else None
    if args.quick:
        os.environ[QUICK] = "1"  # read by bench.quick(); child processes inherit it
    output = args.output or (
        Path(tempfile.gettempdir()) / "plan-bot-bench" / "benchmarks.md" if args.quick else OUTPUT
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    previous = previous_run(args.previous or output.with_suffix(".json"), quick=args.quick)
    print(previous.line())
    settle.compare_with(previous.verdicts)
    started = time.perf_counter()
    sections = asyncio.run(run_all(args.only))
    elapsed = time.perf_counter() - started
    for goal in all_goals(sections):
        goal.previous = previous.verdicts.get(goal.name)
    print(terminal(sections, PARTS, previous))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(markdown(sections, elapsed, PARTS, previous), encoding="utf-8")
    run = document(sections, elapsed, PARTS, previous)
    output.with_suffix(".json").write_text(
        json.dumps(run, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(f"written to {output} and {output.with_suffix('.json').name} ({elapsed:.0f} s)")
    if old is not None:
        print()
        print(comparison(old, run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
