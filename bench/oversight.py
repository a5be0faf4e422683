"""Scale: the office's oversight in the generated databases, and the operations on it.

The generator's rows (``bench/scale.py: fill`` writes them): every task's due date, spread
evenly from :data:`DUE_SPREAD` days around the benchmark's "now", with the reminder log as a
bot running all along would have written it up to this morning's 09:00 (so this morning's
reminders are not logged yet); one supervision round, closed two days ago, with statements in
most of its slots, some late, some revised.

The operations, as the bot runs them: the due-date scan of the JobQueue's minute tick, on the
morning it finds this morning's reminders and on every minute after (when the log holds them);
/scorecard's reads and ranking; opening a round (the one write transaction: the round, its
slots and every request row); and compiling the generated round for the office's document.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bench.profiling import timed_queries
from bench.rounds import statement_text
from bot.lights import year_end
from bot.plan import Plan
from bot.reminders import AT, Reminders, moment_of
from bot.rounds import compiled, deadline, owed_statements
from bot.scorecard import scorecard as scorecard_of
from storage.db import to_db
from storage.due import Remind
from storage.outbox import OutKind
from storage.rounds import count_owed

if TYPE_CHECKING:
    from bench.scale import Bench, Population

Row = tuple[object, ...]

DUE_SPREAD = (-30, 60)
"""Days from today over which the tasks' due dates are spread, evenly: at 1× every day has one
or two, so that each of this morning's reminders (14 days ahead, tomorrow, overdue since
yesterday) finds a task at every size."""
SET_BY = 1
"""The user who set the due dates and opened the generated round (a department's manager)."""
ROUND_ID = 1
ANSWERED, LATE, REVISED = 0.7, 0.15, 0.1
"""Of the round's slots: answered; of the statements, late; of the answered slots, answered
twice (a revision, whose latest stands)."""
STATEMENT_LENGTHS = (90, 160, 260, 420)


def closure_of(task: int, status: str) -> str | None:
    """A done task awaits the office's confirmation one time in four, else it is closed."""
    if status != "done":
        return None
    return "awaiting" if task % 4 == 0 else "closed"


def this_morning(anchor: datetime, zone: ZoneInfo) -> datetime:
    """Today's 09:00, when every reminder of the day comes due."""
    return datetime.combine(anchor.astimezone(zone).date(), AT, tzinfo=zone)


def due_of(task: int, tasks: int, today: date) -> date:
    first, last = DUE_SPREAD
    return today + timedelta(days=first + (task - 1) * (last - first) // tasks)


def due_rows(
    plan: Plan, closures: Mapping[int, str | None], *, anchor: datetime, zone: ZoneInfo
) -> dict[str, list[Row]]:
    """Each task's due date (one change each, from the plan's year end) and the reminders a
    bot running all along logged before this morning: every one whose moment passed, but none
    for a closed task, and for one awaiting confirmation only its overdue notice (as
    ``bot/reminders.py: decide`` does)."""
    morning = this_morning(anchor, zone)
    set_at = to_db(anchor - timedelta(days=60))
    previous = year_end(plan.year).isoformat()
    changes: list[Row] = []
    dates: list[Row] = []
    log: list[Row] = []
    for task in plan.tasks:
        number = task.number
        due = due_of(number, len(plan.tasks), morning.date())
        changes.append(
            (number, plan.year, number, due.isoformat(), previous, SET_BY, None, set_at, None)
        )
        dates.append((plan.year, number, due.isoformat(), number))
        closure = closures.get(number)
        for kind in Remind:
            moment = moment_of(kind, due, zone)
            skipped = closure == "closed" or (closure == "awaiting" and kind is not Remind.OVERDUE)
            if moment < morning and not skipped:
                log.append((plan.year, number, due.isoformat(), kind.value, 1, to_db(moment)))
    return {"due_changes": changes, "due_dates": dates, "due_reminders": log}


def round_rows(
    plan: Plan, people: Population, rng: random.Random, *, anchor: datetime, zone: ZoneInfo
) -> dict[str, list[Row]]:
    """The round opened three weeks ago, due a week ago, closed two days ago: its slots, and
    statements by the departments' members, in time order."""
    opened, closed = anchor - timedelta(days=21), anchor - timedelta(days=2)
    due = (anchor - timedelta(days=7)).astimezone(zone).date()
    late_from = deadline(due, zone)
    owed = owed_statements(plan)
    said: list[tuple[datetime, int, str, int, bool]] = []
    for slot in owed:
        if rng.random() >= ANSWERED:
            continue
        author = rng.choice(people.members[slot.dept])
        for _ in range(2 if rng.random() < REVISED else 1):
            late = rng.random() < LATE
            start, end = (late_from, closed) if late else (opened, late_from)
            said.append((start + (end - start) * rng.random(), slot.task, slot.dept, author, late))
    said.sort()
    statements: list[Row] = []
    for number, (at, task, dept, author, late) in enumerate(said, start=1):
        opening = f"关于任务{task}的落实情况（{plan.department(dept).name}）："
        text = statement_text(rng, opening, rng.choice(STATEMENT_LENGTHS), exact=False)
        statements.append(
            (number, ROUND_ID, plan.year, task, dept, author, text, None, None, None, None,
             int(late), author, to_db(at), None, None)
        )  # fmt: skip
    round_: Row = (
        ROUND_ID, plan.year, f"{plan.year} 年落实情况", due.isoformat(), SET_BY, to_db(opened),
        None, SET_BY, to_db(closed), None,
    )  # fmt: skip
    return {
        "rounds": [round_],
        "round_slots": [(ROUND_ID, plan.year, o.task, o.dept, int(o.is_lead)) for o in owed],
        "round_statements": statements,
    }


INSERTS = {
    "due_changes": "INSERT INTO due_changes (id, plan_year, task, due, previous, set_by,"
    " chat_id, set_at, source_update) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "due_dates": "INSERT INTO due_dates (plan_year, task, due, change_id) VALUES (?, ?, ?, ?)",
    "due_reminders": "INSERT INTO due_reminders (plan_year, task, due, kind, announced,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
    "rounds": "INSERT INTO rounds (id, plan_year, title, due_date, opened_by, opened_at,"
    " opened_update, closed_by, closed_at, closed_update) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "round_slots": "INSERT INTO round_slots (round_id, plan_year, task, dept, is_lead)"
    " VALUES (?, ?, ?, ?, ?)",
    "round_statements": "INSERT INTO round_statements (id, round_id, plan_year, task, dept,"
    " author_id, text, file_id, file_unique_id, file_name, file_size, late, chat_id,"
    " created_at, source_update, draft_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}


def insert(conn: sqlite3.Connection, tables: Mapping[str, list[Row]]) -> None:
    for table, rows in tables.items():
        conn.executemany(INSERTS[table], rows)


def insert_round(conn: sqlite3.Connection, tables: Mapping[str, list[Row]]) -> None:
    """The round's rows (:func:`round_rows`), its tally started from its slots before its
    statements are written, as ``Rounds.open`` starts it."""
    insert(conn, {table: tables[table] for table in ("rounds", "round_slots")})
    count_owed(conn, ROUND_ID)
    insert(conn, {"round_statements": tables["round_statements"]})


# --- the operations ------------------------------------------------------------------------


def reminders(bench: Bench) -> Reminders:
    """What ``bot/app.py`` builds for the JobQueue's due tick (the admins: one user)."""
    return Reminders(bench.storage, bench.plan, zone=bench.context.at.zone, office=(SET_BY,))


async def due_scan(bench: Bench, _: int) -> None:
    """The due tick's scan on the morning it finds work: this morning's reminders found (SQL
    chooses the tasks) and decided (``decide`` run on them and their states), nothing written."""
    await reminders(bench).decided(bench.storage.db.clock())


async def due_owe(bench: Bench, _: int) -> None:
    """The due tick's write that morning: the reminders the scan decided logged, and the
    messages they owe (to the lead departments' chats, and the office), in one transaction."""
    await reminders(bench).owe(bench.decided)


async def forget_this_morning(bench: Bench, _: int) -> None:
    """Not timed: take back what the last morning tick logged and owed, so that the next one
    decides the same morning again (the log would make it find nothing), and decide it."""
    morning = to_db(this_morning(bench.context.at.now, bench.context.at.zone))

    def work(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM due_reminders WHERE created_at >= ?", (morning,))
        conn.execute("DELETE FROM outbox WHERE kind = ?", (OutKind.DUE_REMINDER.value,))

    await bench.storage.db.write(work)
    bench.decided = await reminders(bench).decided(bench.storage.db.clock())


async def due_idle(bench: Bench, _: int) -> None:
    """The due tick of every other minute: the log holds this morning's reminders."""
    await reminders(bench).owe_due()


async def due_rows_of(bench: Bench) -> tuple[int, int]:
    """The morning's reminders the scan decides, and what it fetches to find them (the tasks
    SQL chooses, with their states)."""
    await forget_this_morning(bench, 0)
    return len(bench.decided), await scan_fetches(bench)


async def owe_rows_of(bench: Bench) -> tuple[int, int]:
    """The morning's write: the reminders logged and the messages owed (it fetches only the
    departments' chats)."""
    await forget_this_morning(bench, 0)
    owed = await reminders(bench).owe(bench.decided)
    bench.owed_this_morning = owed
    return len(bench.decided) + owed, owed


async def idle_rows_of(bench: Bench) -> tuple[int, int]:
    """What every minute's scan looks over (every task's due date, in SQL's ranges), and what
    it fetches (the tasks SQL chooses: none, the log holds this morning's)."""
    return len(bench.plan.tasks), await scan_fetches(bench)


async def scan_fetches(bench: Bench) -> int:
    """The rows a due tick now fetches: the tasks SQL chooses, each with its state."""
    return len(await reminders(bench).unreminded(bench.storage.db.clock()))


async def scorecard(bench: Bench, _: int) -> None:
    """What ``/scorecard`` reads and computes before it renders a page."""
    await scorecard_of(bench.storage, bench.plan, today=bench.context.at.today)


async def scorecard_rows(bench: Bench) -> tuple[int, int]:
    """What the counts are over (every task's state, the latest round's slots), and the rows
    /scorecard's reads return, counted as it runs once more: a row per department, not those."""
    storage = bench.storage
    states = len(await storage.updates.states())
    latest = await storage.rounds.latest()
    slots = 0 if latest is None else len(await storage.rounds.slots(latest.id))
    with timed_queries(storage.db) as queries:
        await scorecard(bench, 0)
    return states + slots, queries.fetched


async def close_open_round(bench: Bench, _: int) -> None:
    """Not timed: the round the last repetition opened is closed, so that one can be opened."""
    current = await bench.storage.rounds.current()
    if current is not None:
        await bench.storage.rounds.close(current.id, by=SET_BY)


async def round_open(bench: Bench, repetition: int) -> None:
    """What ``/round new`` waits for before its answer: the plan's slots listed, and the round,
    its slots and each department's request in one transaction."""
    owed = owed_statements(bench.plan)
    due = bench.context.at.today + timedelta(days=14)
    opening = await bench.storage.rounds.open(
        f"第{repetition + 10}轮落实情况", due, opened_by=bench.member, owed=owed
    )
    assert opening.round.closed_at is None, "a round was left open"
    bench.rows["round open"] = (len(owed) + opening.requests,) * 2


async def round_compile(bench: Bench, _: int) -> None:
    """The generated round from the database as the office's document shows it (the DOCX
    and XLSX are rendered from this off the event loop; bench/rounds.py times those)."""
    await compiled(bench.storage, bench.plan, ROUND_ID, zone=bench.context.at.zone)


async def compile_rows(bench: Bench) -> tuple[int, int]:
    """Every slot of the round, and the latest statement of each answered one."""
    made = await compiled(bench.storage, bench.plan, ROUND_ID, zone=bench.context.at.zone)
    slots = sum(1 + len(task.participants) for task in made.tasks)
    answered = sum(len(task.statements) for task in made.tasks)
    return (slots + answered,) * 2
