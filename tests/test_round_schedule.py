"""A round's reminders, with a controlled clock: on time, at once when late, exactly once per
department and kind, through restarts; never to a department that owes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.plan import Plan
from bot.rounds import RoundKeeper, deadline, due_kinds, owed_statements
from storage import Storage
from storage.people import WHOLE_PLAN, Role
from storage.rounds import Reminder
from tests.conftest import PLAN_YEAR, FakeClock
from tests.rows import join, pending
from tests.test_digest_schedule import SHANGHAI

ADMIN, WANG = 1, 7
GROUP, OFFICE = -1001, -1002
DUE = date(2026, 11, 25)  # a Wednesday


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """A local moment in Shanghai, as the UTC the storage clock gives."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


class Bot:
    """Just enough of the bot for the round's schedule: storage and the keeper."""

    def __init__(self, path: Path, clock: FakeClock) -> None:
        self.storage = Storage(path, clock=clock)

    async def __aenter__(self) -> RoundKeeper:
        await self.storage.open(plan_year=PLAN_YEAR)
        return RoundKeeper(self.storage, zone=SHANGHAI, admins={ADMIN})

    async def __aexit__(self, *exc: object) -> None:
        await self.storage.close()


async def opened(keeper: RoundKeeper, plan: Plan, due: date = DUE, *, office: bool = True) -> int:
    """A round over the whole plan; 市场监管总局 has a group, the office a whole-plan group."""
    storage = keeper.storage
    await storage.users.seen(WANG, full_name="Wang")
    await join(storage, WANG, "samr", Role.MEMBER)
    await storage.chats.seen(GROUP, type="supergroup", title="市场监管总局工作群")
    await storage.chats.bind(GROUP, "samr", by=ADMIN)
    if office:
        await storage.chats.seen(OFFICE, type="supergroup", title="联席办")
        await storage.chats.bind(OFFICE, WHOLE_PLAN, by=ADMIN)
    opening = await storage.rounds.open("上半年", due, opened_by=ADMIN, owed=owed_statements(plan))
    return opening.round.id


async def reminders(storage: Storage) -> list[tuple[str, str]]:
    rows = await storage.db.fetchall("SELECT dept, kind FROM round_reminders ORDER BY created_at")
    return [(row[0], row[1]) for row in rows]


async def owed_to(storage: Storage) -> list[tuple[int, str]]:
    """(chat, kind) of every reminder or missing list owed, in order."""
    items = await pending(storage)
    return [(i.chat_id, i.payload["kind"]) for i in items if i.kind != "round_request"]


def test_the_windows() -> None:
    assert due_kinds(DUE, at(date(2026, 11, 22), 8, 59), SHANGHAI) == []
    assert due_kinds(DUE, at(date(2026, 11, 22), 9), SHANGHAI) == [Reminder.BEFORE]
    assert due_kinds(DUE, at(DUE, 8, 59), SHANGHAI) == [Reminder.BEFORE]
    assert due_kinds(DUE, at(DUE, 9), SHANGHAI) == [Reminder.DUE]
    assert due_kinds(DUE, at(DUE, 23, 59), SHANGHAI) == [Reminder.DUE]
    assert due_kinds(DUE, at(date(2026, 11, 26), 0), SHANGHAI) == []
    assert due_kinds(DUE, at(date(2026, 11, 26), 9), SHANGHAI) == [Reminder.MISSING]
    assert due_kinds(DUE, at(date(2026, 12, 20), 9), SHANGHAI) == [Reminder.MISSING]
    assert deadline(DUE, SHANGHAI) == at(date(2026, 11, 26))


async def test_reminders_go_out_on_time_and_once(tmp_path: Path, plan: Plan) -> None:
    clock = FakeClock(at(date(2026, 11, 20), 10))  # Friday: five days before the due date
    async with Bot(tmp_path / "bot.db", clock) as keeper:
        await opened(keeper, plan)
        assert await keeper.owe_due() == 0
        clock.now = at(date(2026, 11, 22), 8, 59)
        assert await keeper.owe_due() == 0
        clock.now = at(date(2026, 11, 22), 9)  # three days before, 09:00
        assert await keeper.owe_due() == 1, "the one department with a chat"
        assert await keeper.owe_due() == 0
        clock.now = at(DUE, 9)
        assert await keeper.owe_due() == 1
        clock.now = at(DUE, 18)
        assert await keeper.owe_due() == 0
        clock.now = at(date(2026, 11, 26), 9)
        assert await keeper.owe_due() == 1, "the office's list"
        clock.now = at(date(2026, 11, 30), 9)
        assert await keeper.owe_due() == 0
        assert await reminders(keeper.storage) == [
            ("samr", "before"), ("samr", "due"), (WHOLE_PLAN, "missing"),
        ]  # fmt: skip
        assert await owed_to(keeper.storage) == [
            (GROUP, "before"), (GROUP, "due"), (OFFICE, "missing"),
        ]  # fmt: skip


async def test_a_round_opened_late_reminds_at_once_but_once(tmp_path: Path, plan: Plan) -> None:
    clock = FakeClock(at(DUE, 10))  # opened on the due date itself, after 09:00
    async with Bot(tmp_path / "bot.db", clock) as keeper:
        await opened(keeper, plan)
        assert await keeper.owe_due() == 1
        assert await owed_to(keeper.storage) == [(GROUP, "due")], "not the earlier one as well"


async def test_missed_while_down_goes_out_when_back_within_its_window(
    tmp_path: Path, plan: Plan
) -> None:
    path = tmp_path / "bot.db"
    clock = FakeClock(at(date(2026, 11, 20), 10))
    async with Bot(path, clock) as keeper:
        await opened(keeper, plan)
    clock.now = at(date(2026, 11, 24), 15)  # down over the 22nd's 09:00; back on the 24th
    async with Bot(path, clock) as keeper:
        assert await keeper.owe_due() == 1
    clock.now = at(date(2026, 11, 27), 12)  # down over the due date and the morning after
    async with Bot(path, clock) as keeper:
        assert await keeper.owe_due() == 1  # the office's list; the due date's window is over
        assert await reminders(keeper.storage) == [("samr", "before"), (WHOLE_PLAN, "missing")]


async def test_only_departments_that_owe_are_reminded(tmp_path: Path, plan: Plan) -> None:
    clock = FakeClock(at(date(2026, 11, 22), 10))
    async with Bot(tmp_path / "bot.db", clock) as keeper:
        round_id = await opened(keeper, plan)
        for slot in await keeper.storage.rounds.slots(round_id, "samr"):
            await keeper.storage.rounds.submit(
                round_id, slot.task, "samr", author_id=WANG, text="已完成", document=None,
                chat_id=GROUP, deadline=deadline(DUE, SHANGHAI),
            )  # fmt: skip
        assert await keeper.owe_due() == 0
        assert await reminders(keeper.storage) == []


async def test_without_a_whole_plan_group_the_admins_are_told(tmp_path: Path, plan: Plan) -> None:
    clock = FakeClock(at(date(2026, 11, 26), 10))
    async with Bot(tmp_path / "bot.db", clock) as keeper:
        await keeper.storage.users.seen(ADMIN, full_name="Ada")
        await keeper.storage.chats.seen(ADMIN, type="private")
        await opened(keeper, plan, office=False)
        assert await keeper.owe_due() == 1
        assert await owed_to(keeper.storage) == [(ADMIN, "missing")]


async def test_a_closed_round_reminds_nobody(tmp_path: Path, plan: Plan) -> None:
    clock = FakeClock(at(date(2026, 11, 22), 10))
    async with Bot(tmp_path / "bot.db", clock) as keeper:
        round_id = await opened(keeper, plan)
        await keeper.storage.rounds.close(round_id, by=ADMIN)
        clock.now = at(date(2026, 11, 26), 10)
        assert await keeper.owe_due() == 0
        assert await reminders(keeper.storage) == []


# --- property: once per department and kind, through any sequence of restarts ----------------

START = at(date(2026, 11, 18))  # a week before the due date
runs = st.lists(
    st.tuples(
        st.integers(0, 12 * 24 * 60),
        st.integers(1, 3 * 24 * 60),
        st.lists(st.integers(0, 3 * 24 * 60), max_size=4),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(up=runs)
async def test_exactly_once_through_any_restarts(
    tmp_path_factory: pytest.TempPathFactory, plan: Plan, up
) -> None:
    path = tmp_path_factory.mktemp("restarts") / "bot.db"
    clock = FakeClock(START)
    async with Bot(path, clock) as keeper:
        await opened(keeper, plan)

    ticks: list[datetime] = []
    for start, length, offsets in sorted(up):
        clock.now = START + timedelta(minutes=start)
        async with Bot(path, clock) as keeper:  # a restart: nothing kept in memory
            for offset in [0, *sorted(o for o in offsets if o < length)]:
                clock.now = START + timedelta(minutes=start + offset)
                ticks.append(clock.now)
                await keeper.owe_due()

    expected = set()
    for tick in ticks:
        expected |= {
            (WHOLE_PLAN if k is Reminder.MISSING else "samr", k.value)
            for k in due_kinds(DUE, tick, SHANGHAI)
        }
    async with Bot(path, clock) as keeper:
        sent = await reminders(keeper.storage)
        owed = await owed_to(keeper.storage)
    assert len(sent) == len(set(sent)) and set(sent) == expected
    assert len(owed) == len(sent), "one message per reminder, each owed once"
