"""Work done beside a benchmark (the scale's databases made while the fan-outs wait on
Telegram's pacing), and the measurements it must not disturb.

The child processes doing it give way on the CPU and the disk, but not in the memory and the
caches they share with the benchmark: the weekly digest's fan-out, which renders 1,000 digests,
took 15% longer beside the 100× database being made. Such a measurement runs inside
:func:`alone`, which stops every child registered here (SIGSTOP) until it ends (SIGCONT).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager

CHILDREN: set[asyncio.subprocess.Process] = set()
"""The child processes running beside the benchmarks now."""
_alone = 0
"""How many measurements are inside :func:`alone` now (they may overlap: ``gather``)."""


def _signal(child: asyncio.subprocess.Process, number: signal.Signals) -> None:
    if child.returncode is None:
        child.send_signal(number)


@contextmanager
def running(child: asyncio.subprocess.Process) -> Iterator[None]:
    """Register a child beside the benchmarks while it runs; stopped at once if a measurement
    that must run alone is under way."""
    CHILDREN.add(child)
    if _alone:
        _signal(child, signal.SIGSTOP)
    try:
        yield
    finally:
        CHILDREN.discard(child)
        _signal(child, signal.SIGCONT)  # a child killed while stopped must be able to die


@contextmanager
def alone() -> Iterator[None]:
    """Run the block with the work beside the benchmarks stopped."""
    global _alone
    _alone += 1
    if _alone == 1:
        for child in CHILDREN:
            _signal(child, signal.SIGSTOP)
    try:
        yield
    finally:
        _alone -= 1
        if _alone == 0:
            for child in CHILDREN:
                _signal(child, signal.SIGCONT)
