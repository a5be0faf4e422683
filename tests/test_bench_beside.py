"""The work beside the benchmarks stops while a measurement that must run alone runs, and goes
on after it; measurements that overlap keep it stopped until the last one ends."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from bench import beside

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def stopped(child: asyncio.subprocess.Process) -> bool:
    """Whether the kernel says the process is stopped (state T in /proc/<pid>/stat)."""
    stat = Path(f"/proc/{child.pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


async def settled(child: asyncio.subprocess.Process, want: bool) -> bool:
    """A signal is delivered asynchronously: wait a little for the state to show it."""
    for _ in range(200):
        if stopped(child) == want:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_measurement_alone_stops_the_work_beside_it_until_the_last_one_ends() -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)"
    )
    try:
        with beside.running(child):
            assert await settled(child, False)
            with beside.alone():
                assert await settled(child, True)
                with beside.alone():  # two fan-outs at once
                    assert await settled(child, True)
                assert await settled(child, True), "still stopped: the other one runs"
            assert await settled(child, False)
            with beside.alone():
                assert await settled(child, True)
        assert await settled(child, False), "a child leaving is never left stopped"
        assert not beside.CHILDREN
    finally:
        child.kill()
        await child.wait()


async def test_a_child_starting_during_a_measurement_alone_is_stopped_at_once() -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)"
    )
    try:
        with beside.alone():
            with beside.running(child):
                assert await settled(child, True)
            assert await settled(child, False)
    finally:
        child.kill()
        await child.wait()
