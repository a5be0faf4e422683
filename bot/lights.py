"""The health light of a task, from its reporting cadence: the same in cards, lists and digests.

green: reported within 14 days and not blocked; yellow: quiet for 14–28 days; red: blocked, or
quiet for more than 28 days. A task that is done stays green: it owes no more reports. A task
never reported is quiet since the bot began tracking the plan.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from storage.updates import Status, TaskState

QUIET = timedelta(days=14)
SILENT = timedelta(days=28)


class Light(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


LIGHTS = {Light.GREEN: "🟢", Light.YELLOW: "🟡", Light.RED: "🔴"}


def light(state: TaskState | None, now: datetime, tracking_since: datetime) -> Light:
    if state is not None and state.status is Status.BLOCKED:
        return Light.RED
    if state is not None and state.status is Status.DONE:
        return Light.GREEN
    quiet = now - (state.updated_at if state is not None else tracking_since)
    if quiet > SILENT:
        return Light.RED
    if quiet >= QUIET:
        return Light.YELLOW
    return Light.GREEN


def is_quiet(state: TaskState | None, now: datetime, tracking_since: datetime) -> bool:
    """No update for 14 days (done tasks excepted): what /mytasks stale and digests list."""
    if state is not None and state.status is Status.DONE:
        return False
    return now - (state.updated_at if state is not None else tracking_since) >= QUIET
