"""Benchmarks: ``python -m bench`` prints a table and writes ``docs/benchmarks.md`` and ``.json``.

Figures that matter are ratios measured side by side in one run: these machines are shared and
noisy, so absolute times vary between runs while ratios hold.
"""

import os

QUICK = "BENCH_QUICK"
"""Set to 1 (``python -m bench --quick``): fewer actions and repetitions, for development."""


def quick() -> bool:
    return os.environ.get(QUICK) == "1"


def sized(full: int, quick_size: int) -> int:
    """How many of something a run takes: ``full``, or ``quick_size`` in quick mode."""
    return quick_size if quick() else full
