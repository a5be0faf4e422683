"""Due-date reminders with a test clock: each at 09:00 on its day, at once when that has
passed, exactly once per task, due date and kind through restarts, one message per
department, never for a closed task, and an old plan's overdue tasks noted but not announced."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.lights import year_end
from bot.plan import Plan
from bot.plan_years import index_plan
from bot.reminders import Reminders, decide, standing_of
from storage import Storage
from storage.closures import Closure
from storage.due import TASKS_PER_MESSAGE, Remind, Reminder
from storage.updates import Status, TaskState
from tests.conftest import PLAN_YEAR, SHANGHAI, FakeClock
from tests.rows import pending

DUE = date(2026, 12, 31)
ADMIN, GROUP = 1, -1001


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def kinds(found: list[Reminder]) -> list[tuple[Remind, bool]]:
    return [(r.kind, r.announce) for r in found]


def done(closure: Closure) -> TaskState:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return TaskState(12, Status.DONE, 100, 1, at, at, closure)


@pytest.mark.parametrize(
    ("when", "logged", "expected"),
    [
        (local(DUE - timedelta(days=14), 8, 59), set(), []),
        (local(DUE - timedelta(days=14), 9), set(), [(Remind.DAY14, True)]),
        (local(DUE - timedelta(days=1), 8, 59), {Remind.DAY14}, []),
        (local(DUE - timedelta(days=1), 9), {Remind.DAY14}, [(Remind.DAY1, True)]),
        (local(DUE, 23, 59), {Remind.DAY14, Remind.DAY1}, []),
        (local(DUE + timedelta(days=1), 8, 59), {Remind.DAY14, Remind.DAY1}, []),
        (local(DUE + timedelta(days=1), 9), {Remind.DAY14, Remind.DAY1}, [(Remind.OVERDUE, True)]),
        # Set (or back up) late: only the latest reminder ahead is sent; the other is noted.
        (local(DUE - timedelta(days=5), 15), set(), [(Remind.DAY14, True)]),
        (local(DUE, 10), set(), [(Remind.DAY14, False), (Remind.DAY1, True)]),
        # Down over the day before and the due date: no reminder once the date has passed.
        (local(DUE + timedelta(days=1), 8), {Remind.DAY14}, []),
        # Found overdue late: announced up to 7 days late, noted silently after that.
        (local(DUE + timedelta(days=7), 9), set(), [(Remind.OVERDUE, True)]),
        (local(DUE + timedelta(days=8), 9), set(), [(Remind.OVERDUE, False)]),
    ],
)
def test_what_is_decided_at_each_boundary(
    when: datetime, logged: set[Remind], expected: list[tuple[Remind, bool]]
) -> None:
    assert kinds(decide(12, DUE, standing_of(None), when, SHANGHAI, logged)) == expected


def test_closed_tasks_get_nothing_and_done_ones_only_the_overdue_notice() -> None:
    for when in (local(DUE - timedelta(days=14), 9), local(DUE + timedelta(days=1), 9)):
        assert decide(12, DUE, standing_of(done(Closure.CLOSED)), when, SHANGHAI, set()) == []
    awaiting = standing_of(done(Closure.AWAITING))
    assert decide(12, DUE, awaiting, local(DUE - timedelta(days=14), 9), SHANGHAI, set()) == []
    late = decide(12, DUE, awaiting, local(DUE + timedelta(days=1), 9), SHANGHAI, set())
    assert kinds(late) == [(Remind.OVERDUE, True)], "not closed until the office confirms"


class Bot:
    """Just enough of the bot for reminders: storage, and the reminders on it (a restart each
    time it is entered)."""

    def __init__(self, path: Path, clock: FakeClock, plan: Plan) -> None:
        self.storage = Storage(path, clock=clock)
        self.plan = plan

    async def __aenter__(self) -> Reminders:
        await self.storage.open(plan_year=PLAN_YEAR)
        await index_plan(self.storage, self.plan)  # as the start does: the scan reads it
        return Reminders(self.storage, self.plan, zone=SHANGHAI, office={ADMIN})

    async def __aexit__(self, *exc: object) -> None:
        await self.storage.close()


async def setting_up(reminders: Reminders, dues: dict[date, list[int]]) -> None:
    """A group bound to cpd, the admin's private chat, and these due dates set."""
    storage, plan = reminders.storage, reminders.plan
    await storage.users.seen(ADMIN, full_name="Ada")
    await storage.chats.seen(ADMIN, type="private", title="Ada")
    await storage.chats.seen(GROUP, type="group", title="宣传部")
    await storage.chats.bind(GROUP, "cpd", by=ADMIN)
    for due, numbers in dues.items():
        tasks = {n: plan.task(n).departments for n in numbers}  # type: ignore[union-attr]
        await storage.due.change(tasks, due, default=year_end(PLAN_YEAR), by=ADMIN, chat_id=ADMIN)


async def owed(storage: Storage) -> list[tuple[int, str, list[int]]]:
    """The reminders owed so far: chat, kind, tasks."""
    return [
        (item.chat_id, item.payload["kind"], item.payload["tasks"])
        for item in await pending(storage)
        if item.kind == "due_reminder"
    ]


async def test_one_message_per_department_and_kind_and_once_through_restarts(
    tmp_path: Path, plan: Plan
) -> None:
    led = [task.number for task in plan.tasks_of("cpd", lead_only=True)]
    assert len(led) > TASKS_PER_MESSAGE
    other = next(t.number for t in plan.tasks if t.lead == "cnipa")
    clock = FakeClock(local(date(2026, 12, 20), 10))  # Sunday 20 December, 10:00
    path = tmp_path / "bot.db"
    async with Bot(path, clock, plan) as reminders:
        await reminders.owe_due()  # the 2024 plan's year end: long past, noted, not announced
        assert await owed(reminders.storage) == []
        await setting_up(reminders, {DUE: [*led, other]})
        assert await reminders.owe_due() == 2  # the group twice (23 tasks); cnipa has no chat
    first, second = led[:TASKS_PER_MESSAGE], led[TASKS_PER_MESSAGE:]
    expected = [(GROUP, "day14", first), (GROUP, "day14", second)]
    for restart in range(3):
        clock.advance(minutes=restart)
        async with Bot(path, clock, plan) as reminders:
            assert await reminders.owe_due() == 0
            assert (await owed(reminders.storage))[:2] == expected
    clock.now = local(DUE - timedelta(days=1), 9)
    async with Bot(path, clock, plan) as reminders:
        assert await reminders.owe_due() == 2
        assert await reminders.owe_due() == 0
    clock.now = local(DUE + timedelta(days=1), 9, 30)
    async with Bot(path, clock, plan) as reminders:
        assert await reminders.owe_due() == 4  # the group twice, the office's list twice
        found = await owed(reminders.storage)
        assert [kind for _, kind, _ in found] == ["day14"] * 2 + ["day1"] * 2 + ["overdue"] * 2 + [
            "office"
        ] * 2
        office = [tasks for chat, kind, tasks in found if kind == "office"]
        assert all(chat == ADMIN for chat, kind, _ in found if kind == "office")
        assert sorted(n for tasks in office for n in tasks) == sorted([*led, other])


async def test_a_changed_due_date_arms_the_reminders_afresh_and_a_closed_task_gets_none(
    tmp_path: Path, plan: Plan
) -> None:
    clock = FakeClock(local(date(2026, 12, 20), 10))
    async with Bot(tmp_path / "bot.db", clock, plan) as reminders:
        await reminders.owe_due()
        await setting_up(reminders, {DUE: [12, 18]})
        assert await reminders.owe_due() == 1
        storage = reminders.storage
        await storage.updates.record(
            18, author_id=ADMIN, dept=None, chat_id=None, status=Status.DONE
        )
        await setting_up(reminders, {date(2027, 1, 2): [12, 18]})
        assert await reminders.owe_due() == 1
        assert [tasks for _, _, tasks in await owed(storage)] == [[12, 18], [12]]
        clock.now = local(date(2027, 1, 3), 9)
        assert await reminders.owe_due() == 2  # task 12's overdue notice, and the office's
        assert [tasks for _, _, tasks in await owed(storage)][2:] == [[12], [12]]
