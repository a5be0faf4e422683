"""The scorecard's counts made in SQL agree with the rules in Python.

For random states, closures, due dates and days (before and after the plan's year end), each
lead department's row from ``storage.counting.leads`` must be what ``bot/standing.standings``
finds from the states themselves; for random slots and statements (on time, late, revised),
a round's tally in SQL must be what the slots' own states add up to.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.lights import DueDates, year_end
from bot.plan import Plan
from bot.rounds import owed_statements, round_summary
from bot.standing import standings
from storage import Storage
from storage.counting import Led
from storage.db import to_db
from storage.rounds import Owed, SlotState, Tally
from storage.updates import TaskState
from tests.conftest import PLAN_YEAR
from tests.test_counting import NOW, TODAY, dues, fill, plans, prepared, written

days_after = st.sampled_from([-30, 0, 1, 7, 40, 41, 42, 43, 60, 400])
"""How far the day counted on is from the day due dates are set around: 41 days after
2024-11-20 is the plan's year end, 42 the first day every task without a date is overdue."""

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


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(states=plans, due=dues, after=days_after)
async def test_lead_rows_are_what_the_standing_rule_finds(
    storage: Storage, plan: Plan, states: dict[int, dict[str, object]], due: dict[int, int],
    after: int,
) -> None:  # fmt: skip
    await indexed(storage, plan)
    await storage.db.write(lambda conn: fill(conn, states, due))
    today = TODAY + timedelta(days=after)

    in_python = {}
    for task, row in states.items():
        status, closure, updated = written(row)
        in_python[task] = TaskState(task, status, None, 1, updated, None, closure)
    dates = DueDates(
        year_end(PLAN_YEAR), {task: TODAY + timedelta(days=d) for task, d in due.items()}
    )
    expected = {
        code: Led(code, s.led, s.closed, s.awaiting, s.overdue, s.blocked)
        for code, s in standings(plan, in_python, dates, today).items()
    }
    found = await storage.counting.leads(
        today=today, year_end=date(PLAN_YEAR, 12, 31), year=PLAN_YEAR
    )
    assert found == expected


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
