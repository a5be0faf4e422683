"""The scorecard's counts made in SQL agree with the rules in Python.

For random states, closures, due dates and days (before and after the plan's year end), each
lead department's row from ``storage.counting.leads``, and the scorecard's row with the tasks it
leads from the plan, must be what ``bot/standing.standings`` finds from the states themselves;
``task_standing``, which those counts read, must be the join of the plan index, the due dates
and the states after any writes to the three; for random slots and statements (on time, late,
revised), a round's tally as kept must be what the slots' own states add up to.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.lights import DueDates, year_end
from bot.plan import Plan
from bot.rounds import owed_statements, round_summary
from bot.scorecard import scorecard
from bot.standing import standings
from storage import Storage
from storage.counting import Led
from storage.db import to_db
from storage.due import Remind
from storage.rounds import Owed, SlotState, Tally
from storage.updates import Closure, Status, TaskState
from tests.conftest import PLAN_YEAR
from tests.test_counting import NOW, TODAY, dues, prepared

days_after = st.sampled_from([-30, 0, 1, 7, 40, 41, 42, 43, 60, 400])
"""How far the day counted on is from the day due dates are set around: 41 days after
2024-11-20 is the plan's year end, 42 the first day every task without a date is overdue."""

states_of = st.dictionaries(
    st.integers(min_value=1, max_value=110),
    st.tuples(st.sampled_from(list(Status)), st.sampled_from([None, *Closure])),
    max_size=110,
)
"""Each task's status and closure, any with any: a task done before closing existed may have
none, and the rules must agree on whatever a row holds."""

rounds = st.fixed_dictionaries(
    {
        "owed": st.sets(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=120),
        "answers": st.dictionaries(
            st.integers(min_value=0, max_value=10_000),
            st.lists(st.booleans(), min_size=1, max_size=3),  # each statement: late or not
            max_size=80,
        ),
    }
)


async def indexed(storage: Storage, plan: Plan) -> None:
    """The plan index, and the rows the states and statements refer to (once per test)."""
    if await storage.db.fetchvalue("SELECT count(*) FROM plan_tasks") == 0:
        await prepared(storage, plan)


def fill(
    conn: sqlite3.Connection, states: dict[int, tuple[Status, Closure | None]], due: dict[int, int]
) -> None:
    """The states and due dates as rows (each state's update is the one history row)."""
    for table in ("task_state", "due_dates"):
        conn.execute(f"DELETE FROM {table}")
    for task, (status, closure) in states.items():
        conn.execute(
            "INSERT INTO task_state (plan_year, task, status, progress, last_update_id,"
            " updated_at, closure) VALUES (?, ?, ?, NULL, 1, ?, ?)",
            (PLAN_YEAR, task, status.value, to_db(NOW), closure and closure.value),
        )
    for task, days in due.items():
        conn.execute(
            "INSERT INTO due_dates (plan_year, task, due, change_id) VALUES (?, ?, ?, 1)",
            (PLAN_YEAR, task, (TODAY + timedelta(days=days)).isoformat()),
        )


async def expected_and_found(
    storage: Storage,
    plan: Plan,
    states: dict[int, tuple[Status, Closure | None]],
    due: dict[int, int],
    today: date,
) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """Per department named on a task: (led, closed, awaiting, overdue, blocked) by the
    Python rule, and as the scorecard counts them (none for a department that leads none)."""
    await storage.db.write(lambda conn: fill(conn, states, due))
    in_python = {
        task: TaskState(task, status, None, 1, NOW, None, closure)
        for task, (status, closure) in states.items()
    }
    dates = DueDates(
        year_end(PLAN_YEAR), {task: TODAY + timedelta(days=d) for task, d in due.items()}
    )
    ruled = standings(plan, in_python, dates, today)
    expected = {
        code: (s.led, s.closed, s.awaiting, s.overdue, s.blocked) for code, s in ruled.items()
    }
    found = await storage.counting.leads(today=today, year_end=year_end(PLAN_YEAR), year=PLAN_YEAR)
    assert found == {
        code: Led(code, s.closed, s.awaiting, s.overdue, s.blocked) for code, s in ruled.items()
    }
    card = await scorecard(storage, plan, today=today)
    counted = {
        r.dept: (r.led, r.closed, r.awaiting, r.overdue, r.blocked)
        for r in card.rows
        if (r.led, r.closed, r.awaiting, r.overdue, r.blocked) != (0, 0, 0, 0, 0)
    }
    return expected, counted


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(states=states_of, due=dues, after=days_after)
async def test_lead_rows_are_what_the_standing_rule_finds(
    storage: Storage, plan: Plan, states: dict[int, tuple[Status, Closure | None]],
    due: dict[int, int], after: int,
) -> None:  # fmt: skip
    await indexed(storage, plan)
    expected, counted = await expected_and_found(
        storage, plan, states, due, TODAY + timedelta(days=after)
    )
    assert counted == expected


@pytest.mark.parametrize(
    ("today", "overdue"),
    [
        (date(PLAN_YEAR, 12, 31), 1),  # the year end itself: only the date of June is past
        (date(PLAN_YEAR + 1, 1, 1), 2),  # then the task without a date too (not the closed one)
        (date(PLAN_YEAR + 1, 3, 1), 2),  # but not yet the one due on 1 March
        (date(PLAN_YEAR + 1, 3, 2), 3),
    ],
)
async def test_once_the_year_end_is_past_a_task_without_a_date_is_overdue(
    storage: Storage, plan: Plan, today: date, overdue: int
) -> None:
    await indexed(storage, plan)
    led = [t.number for t in plan.tasks_of("mara", lead_only=True)]
    assert len(led) == 4
    june, march = (date(PLAN_YEAR, 6, 30) - TODAY).days, (date(PLAN_YEAR + 1, 3, 1) - TODAY).days
    states = {led[3]: (Status.DONE, Closure.CLOSED), led[0]: (Status.BLOCKED, None)}
    due = {led[0]: june, led[1]: march}
    expected, counted = await expected_and_found(storage, plan, states, due, today)
    assert counted["mara"] == (4, 1, 0, overdue, 1) == expected["mara"]


def joined(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    """What ``task_standing`` must hold: each planned task with its due date and state, and
    which reminders the log holds for the date in force (its own, or its plan's year end)."""
    logged = {
        tuple(row) for row in conn.execute("SELECT plan_year, task, due, kind FROM due_reminders")
    }
    rows = conn.execute(
        "SELECT t.plan_year, t.task, t.lead, t.section, d.due, s.status, s.closure"
        " FROM plan_tasks AS t"
        " LEFT JOIN due_dates AS d ON d.plan_year = t.plan_year AND d.task = t.task"
        " LEFT JOIN task_state AS s ON s.plan_year = t.plan_year AND s.task = t.task"
        " ORDER BY t.plan_year, t.task"
    ).fetchall()
    return [
        (*row, *(int((year, task, due or year_end(year).isoformat(), kind.value) in logged)
                 for kind in (Remind.DAY14, Remind.DAY1, Remind.OVERDUE)))
        for row in rows
        for year, task, due in [(row[0], row[1], row[4])]
    ]  # fmt: skip


TASKS = range(1, 5)
tasks = st.sampled_from(TASKS)
years = st.sampled_from([PLAN_YEAR + 1, PLAN_YEAR + 2])
writes = st.lists(
    st.one_of(
        st.tuples(st.just("state"), years, tasks, st.sampled_from(list(Status)),
                  st.sampled_from([None, *Closure])),
        st.tuples(st.just("unstate"), years, tasks),
        st.tuples(st.just("due"), years, tasks, st.integers(min_value=-40, max_value=40)),
        st.tuples(st.just("undue"), years, tasks),
        st.tuples(st.just("plan"), years, tasks, st.sampled_from(["cnipa", "cpd", "mara"])),
        st.tuples(st.just("lead"), years, tasks, st.sampled_from(["cnipa", "cpd", "mara"])),
        *(st.tuples(st.just("renumber"), years, tasks, tasks, st.just(table))
          for table in ("task_state", "due_dates", "plan_tasks")),
        st.tuples(st.just("unplan"), years, tasks),
        st.tuples(st.just("log"), years, tasks, st.sampled_from(list(Remind)), st.booleans()),
        st.tuples(st.just("unlog"), years, tasks, st.sampled_from(list(Remind))),
        st.tuples(st.just("relog"), years, tasks, tasks),
    ),
    min_size=1,
    max_size=30,
)  # fmt: skip
"""Writes to the plan index, the due dates, the states and the reminder log of two years
(beside the indexed plan's), as any writer makes them: inserted, changed (as the bot's upserts
do), moved to another task, deleted; a reminder logged for the task's date in force or for
another date."""


def write(conn: sqlite3.Connection, step: tuple[object, ...]) -> None:
    """One of :data:`writes` as SQL."""
    kind, year, task, *rest = step
    key = {"year": year, "task": task}
    if kind == "state":
        status, closure = rest
        assert isinstance(status, Status)
        conn.execute(
            "INSERT INTO task_state (plan_year, task, status, progress, last_update_id,"
            " updated_at, closure) VALUES (:year, :task, :status, NULL, 1, :now, :closure)"
            " ON CONFLICT (plan_year, task) DO UPDATE SET status = excluded.status,"
            " closure = excluded.closure",
            key | {"status": status.value, "now": to_db(NOW), "closure": closure},
        )
    elif kind == "due":
        (days,) = rest
        assert isinstance(days, int)
        conn.execute(
            "INSERT INTO due_dates (plan_year, task, due, change_id) VALUES (:year, :task, :due, 1)"
            " ON CONFLICT (plan_year, task) DO UPDATE SET due = excluded.due",
            key | {"due": (TODAY + timedelta(days=days)).isoformat()},
        )
    elif kind == "plan":
        conn.execute(
            "INSERT OR IGNORE INTO plan_tasks (plan_year, task, section, lead)"
            " VALUES (:year, :task, 1, :lead)",
            key | {"lead": rest[0]},
        )
    elif kind == "lead":
        conn.execute(
            "UPDATE plan_tasks SET lead = :lead, section = section + 1"
            " WHERE plan_year = :year AND task = :task",
            key | {"lead": rest[0]},
        )
    elif kind == "renumber":
        to, table = rest
        conn.execute(
            f"UPDATE OR IGNORE {table} SET task = :to WHERE plan_year = :year AND task = :task",
            key | {"to": to},
        )
    elif kind == "log":
        remind, in_force = rest
        assert isinstance(remind, Remind)
        due = "coalesce((SELECT due FROM due_dates WHERE plan_year = :year AND task = :task),"
        due += " :year || '-12-31')" if in_force else " '2000-01-01')"
        conn.execute(
            "INSERT OR IGNORE INTO due_reminders (plan_year, task, due, kind, announced,"
            f" created_at) VALUES (:year, :task, {due}, :kind, 1, :now)",
            key | {"kind": remind.value, "now": to_db(NOW)},
        )
    elif kind == "unlog":
        conn.execute(
            "DELETE FROM due_reminders WHERE plan_year = :year AND task = :task AND kind = :kind",
            key | {"kind": rest[0]},
        )
    elif kind == "relog":
        conn.execute(
            "UPDATE OR IGNORE due_reminders SET task = :to WHERE plan_year = :year AND task = :task",
            key | {"to": rest[0]},
        )
    else:
        table = {"unstate": "task_state", "undue": "due_dates", "unplan": "plan_tasks"}[kind]
        conn.execute(f"DELETE FROM {table} WHERE plan_year = :year AND task = :task", key)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=writes)
async def test_task_standing_is_the_join_whatever_is_written(
    storage: Storage, plan: Plan, steps: list[tuple[object, ...]]
) -> None:
    await indexed(storage, plan)

    def work(conn: sqlite3.Connection) -> tuple[list[tuple[object, ...]], ...]:
        for table in ("task_state", "due_dates", "plan_tasks", "due_reminders"):  # the last's
            conn.execute(f"DELETE FROM {table} WHERE plan_year > ?", (PLAN_YEAR,))
        for year in (PLAN_YEAR + 1, PLAN_YEAR + 2):  # rows to change, and a task not planned
            for task in TASKS[:-1]:
                write(conn, ("plan", year, task, ("cnipa", "cpd")[task % 2]))
                write(conn, ("state", year, task, Status.IN_PROGRESS, None))
                write(conn, ("due", year, task, task))
                write(conn, ("log", year, task, Remind.DAY14, True))
        for step in steps:
            write(conn, step)
        kept = conn.execute("SELECT * FROM task_standing ORDER BY plan_year, task")
        kept = [tuple(row) for row in kept]
        return kept, joined(conn)

    kept, join = await storage.db.write(work)
    assert kept == join


def submitted(
    round_id: int, slots: list[Owed], answers: dict[int, list[bool]]
) -> list[tuple[object, ...]]:
    """The statements' rows: each answered slot's statements in turn, late or not."""
    rows = []
    for index, lates in answers.items():
        slot = slots[index % len(slots)]
        for late in lates:
            rows.append(
                (round_id, PLAN_YEAR, slot.task, slot.dept, 7, "说明", int(late), to_db(NOW))
            )
    return rows


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=rounds)
async def test_a_rounds_tally_is_what_its_slots_add_up_to(
    storage: Storage, plan: Plan, drawn: dict[str, object]
) -> None:
    await indexed(storage, plan)
    every = owed_statements(plan)
    chosen, answers = drawn["owed"], drawn["answers"]
    assert isinstance(chosen, set) and isinstance(answers, dict)
    slots = list({every[i % len(every)]: None for i in sorted(chosen)})
    if (current := await storage.rounds.current()) is not None:
        await storage.rounds.close(current.id, by=7)  # statements are kept: a round each time
    opened = await storage.rounds.open("一轮", TODAY, opened_by=7, owed=slots)
    round_id = opened.round.id

    def write(conn: sqlite3.Connection) -> None:
        conn.executemany(
            "INSERT INTO round_statements (round_id, plan_year, task, dept, author_id, text,"
            " late, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            submitted(round_id, slots, answers),
        )

    await storage.db.write(write)

    # The rule: a slot with no statement is missing; one with any statement by the due date is
    # on time (a revision after it does not make it late); one answered only after it is late.
    lates: dict[tuple[int, str], list[bool]] = {}
    for index, flags in answers.items():
        slot = slots[index % len(slots)]
        lates.setdefault((slot.task, slot.dept), []).extend(flags)
    counts: dict[str, list[int]] = {}
    for slot in slots:
        flags = lates.get((slot.task, slot.dept), [])
        row = counts.setdefault(slot.dept, [0, 0, 0])
        row[0] += 1
        row[1] += bool(flags) and not all(flags)
        row[2] += bool(flags) and all(flags)
    expected = [Tally(dept, *row) for dept, row in sorted(counts.items())]

    assert await storage.rounds.tally(round_id) == expected
    by_state: dict[str, list[int]] = {}
    for slot_state in await storage.rounds.slots(round_id):
        row = by_state.setdefault(slot_state.dept, [0, 0, 0])
        row[0] += 1
        row[1] += slot_state.state is SlotState.ON_TIME
        row[2] += slot_state.state is SlotState.LATE
    assert [Tally(dept, *row) for dept, row in sorted(by_state.items())] == expected
    summary = {x.dept: (x.owed, x.on_time, x.late, x.missing) for x in await round_summary(
        storage, round_id, plan)}  # fmt: skip
    assert summary == {x.dept: (x.owed, x.on_time, x.late, x.missing) for x in expected}
