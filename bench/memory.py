"""This process's memory as Linux counts it: its peak and its current resident set."""

from __future__ import annotations

import resource
from pathlib import Path


def rss_mb() -> float:
    """This process's peak resident set: ``getrusage`` maxrss, except in a child process, where
    Linux carries the parent's maxrss over fork and exec; VmHWM is the peak of this process's
    own memory, and equals maxrss in a process that was not forked from a larger one."""
    return _proc_status_mb("VmHWM") or maxrss_mb()


def maxrss_mb() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MB (Linux counts it in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    return _proc_status_mb("VmRSS")


def _proc_status_mb(name: str) -> float:
    """A ``kB`` figure of ``/proc/self/status`` in MB; 0 where there is no ``/proc``."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) / 1024
    return 0.0
