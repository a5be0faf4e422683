"""The digest's counts and lists made in SQL agree with the health light's rules in Python.

For random states, closures and due dates of the committed plan's tasks, ``storage/counting.py``
must find what ``bot/render/digest.attention_of`` and ``bot/render/tasks.plan_overview`` find
from the states themselves: the same tasks under the same kinds, the same counts.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.digest import overview_of, stages_of
from bot.lights import DueDates, year_end
from bot.plan import Plan
from bot.plan_years import index_plan
from bot.render.digest import MAX_ATTENTION, DigestInput, attention_of, week_of
from bot.render.tasks import Moment, plan_overview, stage_counts
from storage import Storage
from storage.counting import When
from storage.db import to_db
from storage.updates import Closure, Status, TaskState
from tests.conftest import PLAN_YEAR
from tests.test_digest_schedule import SHANGHAI

NOW = datetime(2024, 11, 20, 2, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=60)
TODAY = NOW.astimezone(SHANGHAI).date()
DEPTS = ("cnipa", "cpd", "samr", "moj", "mara")
"""A few departments: large and small, leading and taking part."""

task_states = st.fixed_dictionaries(
    {
        "status": st.sampled_from(list(Status)),
        "awaiting": st.booleans(),
        "quiet_days": st.sampled_from([0, 1, 13, 14, 15, 27, 28, 29, 40]),  # the boundaries
    }
)
plans = st.dictionaries(st.integers(min_value=1, max_value=110), task_states, max_size=110)
dues = st.dictionaries(
    st.integers(min_value=1, max_value=110),
    st.sampled_from([-8, -1, 0, 1, 13, 14, 15, 30]),
    max_size=40,
)


def written(row: dict[str, object]) -> tuple[Status, Closure | None, datetime]:
    status = row["status"]
    assert isinstance(status, Status)
    closure = None
    if status is Status.DONE:
        closure = Closure.AWAITING if row["awaiting"] else Closure.CLOSED
    quiet = row["quiet_days"]
    assert isinstance(quiet, int)
    return status, closure, NOW - timedelta(days=quiet)


def fill(
    conn: sqlite3.Connection, states: dict[int, dict[str, object]], due: dict[int, int]
) -> None:
    """The rows the bot would keep, written as they are (one history row stands for all)."""
    for table in ("task_state", "due_dates"):
        conn.execute(f"DELETE FROM {table}")
    for task, row in states.items():
        status, closure, updated = written(row)
        conn.execute(
            "INSERT INTO task_state (plan_year, task, status, progress, last_update_id,"
            " updated_at, closure) VALUES (?, ?, ?, NULL, 1, ?, ?)",
            (PLAN_YEAR, task, status.value, to_db(updated), closure and closure.value),
        )
    for task, days in due.items():
        conn.execute(
            "INSERT INTO due_dates (plan_year, task, due, change_id) VALUES (?, ?, ?, 1)",
            (PLAN_YEAR, task, (TODAY + timedelta(days=days)).isoformat()),
        )


async def prepared(storage: Storage, plan: Plan) -> None:
    await index_plan(storage, plan)
    await storage.users.seen(7, full_name="Li")
    await storage.db.write(
        lambda conn: (
            conn.execute(
                "INSERT INTO status_updates (plan_year, task, kind, old_status, status,"
                " author_id, created_at) VALUES (?, 1, 'note', 'not_started', 'not_started', 7, ?)",
                (PLAN_YEAR, to_db(NOW)),
            ),
            conn.execute(
                "INSERT INTO due_changes (plan_year, task, due, previous, set_by, set_at)"
                " VALUES (?, 1, '2024-12-31', '2024-12-31', 7, ?)",
                (PLAN_YEAR, to_db(NOW)),
            ),
        )
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(states=plans, due=dues)
async def test_sql_finds_what_the_rules_find(
    storage: Storage, plan: Plan, states: dict[int, dict[str, object]], due: dict[int, int]
) -> None:
    if await storage.db.fetchvalue("SELECT count(*) FROM plan_tasks") == 0:
        await prepared(storage, plan)
    await storage.db.write(lambda conn: fill(conn, states, due))

    in_python = {}
    for task, row in states.items():
        status, closure, updated = written(row)
        in_python[task] = TaskState(task, status, None, 1, updated, None, closure)
    dates = {task: TODAY + timedelta(days=days) for task, days in due.items()}
    at = Moment(NOW, SINCE, SHANGHAI, DueDates(year_end(PLAN_YEAR), dates))
    data = DigestInput(plan, in_python, [], at, week_of(NOW.astimezone(SHANGHAI)), "zh")
    when = When(today=TODAY, now=NOW, tracking_since=SINCE, year_end=date(PLAN_YEAR, 12, 31))
    counting = storage.counting

    for dept in DEPTS:
        expected = attention_of(data, plan.tasks_of(dept), {dept})
        found = await counting.attention(dept, when, limit=MAX_ATTENTION)
        assert found == expected, dept
        stages = stages_of(await counting.department_stages(dept))
        assert stages == +stage_counts(plan.tasks_of(dept), in_python), dept

    counted = overview_of(await counting.plan(when))
    rules = plan_overview(plan, in_python, at)
    assert counted.total == +rules.total
    assert counted.timing == rules.timing
    assert {k: +v for k, v in rules.by_section.items()} == counted.by_section
    assert {k: +v for k, v in rules.by_lead.items()} == counted.by_lead
    assert sum(Counter(counted.total).values()) == len(plan.tasks)
