"""The due-date scan's choice made in SQL decides what choosing in Python decided.

For random due dates around now (some tasks left at the plan's year end, a date kept for a
task no longer in the plan), random reminder logs (some for a date since changed), random
states and closures and random clock times around 09:00, ``Reminders.decided`` (SQL finds
the tasks, ``decide`` runs on them) must give exactly the reminders that reading every due date
and the whole log and deciding for every task of the plan gave; and SQL must choose only the
tasks some reminder is then logged for, so that a minute with nothing new reads no task's state.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.lights import SOON, year_end
from bot.plan import Plan
from bot.reminders import AT, Reminders, decide, moment_of, passed_until, standing_of
from storage import Storage
from storage.db import to_db
from storage.due import Remind, Reminder
from storage.updates import Closure, Status, TaskState
from tests.conftest import PLAN_YEAR, SHANGHAI, FakeClock
from tests.test_counting import prepared

YEAR_END = year_end(PLAN_YEAR)
ZONES = (SHANGHAI, ZoneInfo("America/New_York"))
"""Shanghai, and a zone that keeps summer time."""
OUTSIDE = 111
"""A task number the committed plan (110 tasks) does not have: its due date is never used."""
UPDATED = datetime(2024, 6, 1, tzinfo=SHANGHAI)

tasks = st.integers(min_value=1, max_value=OUTSIDE)
states = st.dictionaries(
    tasks,
    st.tuples(st.sampled_from(list(Status)), st.sampled_from([None, *Closure])),
    max_size=60,
)
logs = st.lists(
    st.tuples(tasks, st.booleans(), st.sampled_from(list(Remind))),  # (task, for its date, kind)
    max_size=80,
)
clock_times = st.one_of(
    st.sampled_from([time(0, 0), time(8, 59, 59), time(9, 0), time(9, 0, 1), time(23, 59)]),
    st.times(),
)


def old_selection(
    plan: Plan,
    dues: dict[int, date],
    logged: set[tuple[int, date, Remind]],
    found: dict[int, TaskState],
    now: datetime,
    zone: ZoneInfo,
) -> list[Reminder]:
    """What ``owe_due`` decided before the choice moved into SQL: every task of the plan, its
    date and its log looked at in Python."""
    today = now.astimezone(zone).date()
    waiting: dict[int, date] = {}
    for x in plan.tasks:
        due = dues.get(x.number, YEAR_END)
        if (due - today).days > SOON:
            continue
        done = {k for t, d, k in logged if (t, d) == (x.number, due)}
        if any(k not in done and now >= moment_of(k, due, zone) for k in Remind):
            waiting[x.number] = due
    reminders = []
    for number, due in waiting.items():
        done = {k for t, d, k in logged if (t, d) == (number, due)}
        reminders += decide(number, due, standing_of(found.get(number)), now, zone, done)
    return reminders


def fill(
    conn: sqlite3.Connection,
    dues: dict[int, date],
    logged: set[tuple[int, date, Remind]],
    found: dict[int, TaskState],
    *,
    log_first: bool = False,
) -> None:
    """The dates, the log and the states; ``log_first`` logs before the dates are set, as when
    a task's date changes after its reminders were logged (or changes back)."""
    for table in ("task_state", "due_dates", "due_reminders"):
        conn.execute(f"DELETE FROM {table}")

    def set_dates() -> None:
        conn.executemany(
            "INSERT INTO due_dates (plan_year, task, due, change_id) VALUES (?, ?, ?, 1)",
            [(PLAN_YEAR, task, due.isoformat()) for task, due in dues.items()],
        )

    def log_them() -> None:
        conn.executemany(
            "INSERT INTO due_reminders (plan_year, task, due, kind, announced, created_at)"
            " VALUES (?, ?, ?, ?, 1, ?)",
            [(PLAN_YEAR, t, d.isoformat(), k.value, to_db(UPDATED)) for t, d, k in logged],
        )

    for step in (log_them, set_dates) if log_first else (set_dates, log_them):
        step()
    conn.executemany(
        "INSERT INTO task_state (plan_year, task, status, progress, last_update_id, updated_at,"
        " closure) VALUES (?, ?, ?, NULL, 1, ?, ?)",
        [
            (PLAN_YEAR, s.task, s.status.value, to_db(s.updated_at), s.closure and s.closure.value)
            for s in found.values()
        ],
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    day=st.integers(min_value=-40, max_value=12).map(lambda d: YEAR_END + timedelta(days=d)),
    at=clock_times,
    zone=st.sampled_from(ZONES),
    due=st.dictionaries(tasks, st.integers(min_value=-12, max_value=18), max_size=80),
    log=logs,
    state=states,
    log_first=st.booleans(),
)
async def test_sql_chooses_what_python_chose(
    storage: Storage,
    clock: FakeClock,
    plan: Plan,
    day: date,
    at: time,
    zone: ZoneInfo,
    due: dict[int, int],
    log: list[tuple[int, bool, Remind]],
    state: dict[int, tuple[Status, Closure | None]],
    log_first: bool,
) -> None:
    if await storage.db.fetchvalue("SELECT count(*) FROM plan_tasks") == 0:
        await prepared(storage, plan)
    now = datetime.combine(day, at, tzinfo=zone)
    dues = {task: day + timedelta(days=days) for task, days in due.items()}
    logged = {
        (task, dues.get(task, YEAR_END) if current else day - timedelta(days=30), kind)
        for task, current, kind in log
    }
    found = {
        task: TaskState(task, status, None, 1, UPDATED, None, closure)
        for task, (status, closure) in state.items()
    }
    await storage.db.write(lambda conn: fill(conn, dues, logged, found, log_first=log_first))
    clock.now = now

    expected = old_selection(plan, dues, logged, found, now, zone)
    reminders = Reminders(storage, plan, zone=zone, office={1})
    assert await reminders.decided(now) == expected
    chosen = await storage.due.unreminded(
        today=now.astimezone(zone).date(),
        passed=passed_until(now, zone),
        default=YEAR_END,
        year=PLAN_YEAR,
    )
    assert [w.task for w in chosen] == sorted({r.task for r in expected}), (
        "SQL chooses only the tasks a reminder is logged for: no state is read for the others"
    )


async def test_the_morning_tick_logs_and_the_next_finds_nothing(
    storage: Storage, clock: FakeClock, plan: Plan
) -> None:
    """The scan at 09:00 finds the day's reminders; once logged, the minute after finds none."""
    await prepared(storage, plan)
    morning = datetime.combine(date(2024, 12, 10), AT, tzinfo=SHANGHAI)
    dues = {12: date(2024, 12, 24), 13: date(2024, 12, 11), 14: date(2024, 12, 9)}
    await storage.db.write(lambda conn: fill(conn, dues, set(), {}))
    reminders = Reminders(storage, plan, zone=SHANGHAI, office={1})
    clock.now = morning - timedelta(seconds=1)
    before = [(r.task, r.kind, r.announce) for r in await reminders.decided(clock.now)]
    assert before == [(13, Remind.DAY14, True)], "13 was 14 days ahead yesterday"
    clock.now = morning
    found = [(r.task, r.kind, r.announce) for r in await reminders.decided(clock.now)]
    assert found == [
        (12, Remind.DAY14, True),
        (13, Remind.DAY14, False),
        (13, Remind.DAY1, True),
        (14, Remind.OVERDUE, True),
    ]
    await reminders.owe_due()
    clock.advance(minutes=1)
    assert await reminders.decided(clock.now) == []


async def test_each_kind_is_found_by_its_own_range(
    storage: Storage, clock: FakeClock, plan: Plan
) -> None:
    """Each reminder is found by the range of due dates its moment has passed, less what its
    own kind has logged: a task reminded 14 days ahead is found again the day before it falls
    due, one long reminded is not, and one left at the plan's year end (already past) is found
    for its overdue notice however many tasks have dates of their own. A task done and
    awaiting the office is still told it went overdue, though not reminded ahead; a closed task
    is told nothing, dated or not."""
    await prepared(storage, plan)
    morning = datetime.combine(date(2025, 1, 9), AT, tzinfo=SHANGHAI)
    dues = {12: date(2025, 1, 10), 13: date(2025, 1, 20), 14: date(2025, 1, 5)}
    dues |= {15: date(2025, 1, 6), 16: date(2025, 1, 6), 17: date(2025, 1, 12)}
    dues |= {n: date(2025, 2, 1) for n in range(20, 111)}
    logged = {(12, dues[12], Remind.DAY14), (13, dues[13], Remind.DAY14)}
    logged |= {(14, dues[14], Remind.OVERDUE)}
    found_states = {
        task: TaskState(task, Status.DONE, 100, 1, UPDATED, None, closure)
        for task, closure in ((15, Closure.AWAITING), (16, Closure.CLOSED), (17, Closure.AWAITING))
    }
    found_states[1] = TaskState(1, Status.DONE, 100, 1, UPDATED, None, Closure.CLOSED)
    await storage.db.write(lambda conn: fill(conn, dues, logged, found_states))
    clock.now = morning
    found = [
        (r.task, r.due, r.kind)
        for r in await Reminders(storage, plan, zone=SHANGHAI, office={1}).decided(morning)
    ]
    undated = [n for n in range(2, 20) if n not in dues]
    assert found == sorted(
        [(12, dues[12], Remind.DAY1), (15, dues[15], Remind.OVERDUE)]
        + [(n, YEAR_END, Remind.OVERDUE) for n in undated]
    )


async def test_the_log_and_the_lists_are_written_as_one_by_one(storage: Storage) -> None:
    """Logged and owed in single statements, the rows are those owed row by row: a reminder
    given twice is logged and owed once; each chat gets the lists in order, chat by chat, each
    payload the JSON text it always was."""
    await storage.users.seen(1, full_name="Ada")
    for chat in (-1002, -1001):
        await storage.chats.seen(chat, type="group", title="宣传部")
        await storage.chats.bind(chat, "cpd", by=1)
    due = date(2024, 12, 31)
    reminders = [Reminder(n, due, Remind.DAY1, announce=True) for n in range(1, 26)]
    owed = await storage.due.remind(
        [*reminders, reminders[0]], leads=dict.fromkeys(range(1, 26), "cpd"), office={1}
    )
    assert owed == 4
    rows = await storage.db.fetchall("SELECT chat_id, kind, payload FROM outbox ORDER BY id")
    lists = [list(range(1, 21)), list(range(21, 26))]
    expected = [
        (chat, "due_reminder", {"kind": "day1", "year": PLAN_YEAR, "dept": "cpd", "tasks": tasks})
        for chat in (-1002, -1001)
        for tasks in lists
    ]
    assert [tuple(row) for row in rows] == [
        (chat, kind, json.dumps(payload, ensure_ascii=False)) for chat, kind, payload in expected
    ]
    logged = await storage.db.fetchall("SELECT task, due, kind, announced FROM due_reminders")
    assert sorted(tuple(row) for row in logged) == [
        (n, "2024-12-31", "day1", 1) for n in range(1, 26)
    ]
    assert await storage.due.remind(reminders, leads={}, office={1}) == 0, "logged already"
