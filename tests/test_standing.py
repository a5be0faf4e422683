"""Where each lead department stands, as a scorecard will read it: led, closed, awaiting
confirmation, overdue, blocked, last report."""

from __future__ import annotations

from datetime import date

from bot.lights import DueDates, year_end
from bot.plan import Plan
from bot.standing import standings
from storage import Storage
from storage.closures import DoneRule
from storage.updates import LAST_REPORTS, Status
from tests.conftest import PLAN_YEAR, FakeClock

MING, LAN = 2, 3


async def test_counts_and_last_reports(storage: Storage, clock: FakeClock, plan: Plan) -> None:
    for user_id, name in ((MING, "Ming"), (LAN, "Lan")):
        await storage.users.seen(user_id, full_name=name)
    led = [task.number for task in plan.tasks_of("cnipa", lead_only=True)]
    record = storage.updates.record
    await record(led[0], author_id=MING, dept="cnipa", chat_id=None, status=Status.DONE)
    await record(led[1], author_id=MING, dept="cnipa", chat_id=None, status=Status.DONE,
                 done=DoneRule(closes=False))  # fmt: skip
    await record(led[2], author_id=MING, dept="cnipa", chat_id=None, status=Status.BLOCKED)
    clock.advance(hours=2)
    await record(led[3], author_id=MING, dept="cnipa", chat_id=None, note="在办")
    await record(2, author_id=LAN, dept="cpd", chat_id=None, note="x")
    states = await storage.updates.states()
    reports = await storage.updates.last_reports()
    assert reports == {"cnipa": clock.now, "cpd": clock.now}
    due = DueDates(year_end(PLAN_YEAR), {led[4]: date(2024, 6, 30), led[0]: date(2024, 6, 30)})
    found = standings(plan, states, due, date(2024, 7, 1), reports)
    cnipa = found["cnipa"]
    assert (cnipa.led, cnipa.closed, cnipa.awaiting, cnipa.blocked) == (23, 1, 1, 1)
    assert cnipa.overdue == 1, "led[4] is late; led[0] is late too, but closed"
    assert cnipa.last_report == clock.now
    assert found["cpd"].led == 23 and found["cpd"].closed == 0
    assert set(found) == {task.lead for task in plan.tasks}, "only departments that lead"
    assert sum(s.led for s in found.values()) == len(plan.tasks)


async def test_last_reports_seek_each_department_and_read_no_update_else(
    storage: Storage, clock: FakeClock
) -> None:
    """At 100x data a GROUP BY read all 1,000,000 updates of the year (seconds); the skip-scan
    on ``status_updates_by_dept`` reads a couple of index entries per department."""
    for user_id in (MING, LAN):
        await storage.users.seen(user_id, full_name=str(user_id))
    await storage.updates.record(1, author_id=MING, dept="cnipa", chat_id=None, note="早")
    clock.advance(days=3)
    await storage.updates.record(2, author_id=LAN, dept="cpd", chat_id=None, note="中")
    cpd_reported = clock.now
    await storage.updates.record(1, author_id=MING, dept=None, chat_id=None, note="admin")
    clock.advance(days=1)
    await storage.updates.record(1, author_id=MING, dept="cnipa", chat_id=None, note="晚")
    assert await storage.updates.last_reports() == {"cnipa": clock.now, "cpd": cpd_reported}
    assert await storage.updates.last_reports(year=PLAN_YEAR - 1) == {}

    plan_rows = await storage.db.fetchall(f"EXPLAIN QUERY PLAN {LAST_REPORTS}", {"year": PLAN_YEAR})
    steps = [str(row[3]) for row in plan_rows]
    reads = [step for step in steps if "status_updates" in step]
    assert len(reads) == 3, f"the first department, the next one, each one's latest: {steps}"
    assert all(
        step.startswith("SEARCH status_updates USING COVERING INDEX status_updates_by_dept")
        for step in reads
    ), steps
    assert not any("TEMP B-TREE" in step for step in steps), steps
