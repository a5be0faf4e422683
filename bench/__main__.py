"""``python -m bench``: every benchmark in one run, a table at the terminal and in docs/."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from bench.report import Section, markdown, terminal

OUTPUT = Path("docs/benchmarks.md")


async def run_all(only: set[str]) -> list[Section]:
    from bench import answering, fanout, rounds, scale

    sections: list[Section] = []
    modules = (("answering", answering), ("fanout", fanout), ("scale", scale), ("rounds", rounds))
    for name, module in modules:
        if not only or name in only:
            sections.extend(await module.run())
    return sections


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "only", nargs="*", help="answering, fanout, scale and/or rounds (default: all)"
    )
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    unknown = set(args.only) - {"answering", "fanout", "scale", "rounds"}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    sections = asyncio.run(run_all(set(args.only)))
    elapsed = time.perf_counter() - started
    print(terminal(sections))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(markdown(sections, elapsed), encoding="utf-8")
    print(f"written to {args.output} ({elapsed:.0f} s)")
    return 0


raise SystemExit(main())
