"""The weekly digest's schedule, with a controlled clock: on time, exactly once, across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.digest import Digester
from bot.plan import Plan
from bot.plan_years import index_plan
from storage import Storage
from storage.people import WHOLE_PLAN
from tests.conftest import PLAN_YEAR, FakeClock
from tests.rows import pending

SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP = -1001
# Monday 2026-11-23 00:00 in Shanghai, the start of ISO week 2026-W48.
WEEK_START = datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI)


def local(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    return (WEEK_START + timedelta(days=days, hours=hours, minutes=minutes)).astimezone(UTC)


class Bot:
    """Just enough of the bot to run the digest schedule: storage and the digester."""

    def __init__(self, path: Path, clock: FakeClock, plan: Plan) -> None:
        self.storage = Storage(path, clock=clock)
        self.plan = plan

    async def __aenter__(self) -> Digester:
        await self.storage.open(plan_year=PLAN_YEAR)
        await index_plan(self.storage, self.plan)  # as the bot's start does
        since = await self.storage.db.tracking_since()
        return Digester(
            self.storage, self.plan, zone=SHANGHAI, default_language="zh", tracking_since=since
        )

    async def __aexit__(self, *exc: object) -> None:
        await self.storage.close()


async def bound_group(digester: Digester, binding: str = "cnipa") -> None:
    await digester.storage.chats.seen(GROUP, type="group", title="Team")
    await digester.storage.chats.bind(GROUP, binding, by=1)


async def digests_sent(digester: Digester) -> list[str]:
    rows = await digester.storage.db.fetchall("SELECT iso_week FROM digest_log ORDER BY iso_week")
    return [row[0] for row in rows]


async def test_goes_out_at_the_set_local_time(tmp_path: Path, plan: Plan) -> None:
    clock = FakeClock(local(hours=8, minutes=59))
    async with Bot(tmp_path / "bot.db", clock, plan) as digester:
        await bound_group(digester)
        assert await digester.owe_due() == 0  # Monday 08:59 in Shanghai
        clock.now = local(hours=9)  # 01:00 UTC
        assert await digester.owe_due() == 1
        assert await digester.owe_due() == 0
        assert await digests_sent(digester) == ["2026-W48"]
        rows = await pending(digester.storage)
        assert rows[0].payload["text"].startswith("<b>📋 国家知识产权局 · 第 48 周周报</b>")


async def test_a_digest_missed_while_down_goes_out_on_return_that_week_only(
    tmp_path: Path, plan: Plan
) -> None:
    clock = FakeClock(local(hours=8))  # Monday 08:00, then down until Wednesday
    async with Bot(tmp_path / "bot.db", clock, plan) as digester:
        await bound_group(digester)
        assert await digester.owe_due() == 0
    clock.now = local(days=2, hours=15)  # back on Wednesday afternoon
    async with Bot(tmp_path / "bot.db", clock, plan) as digester:
        assert await digester.owe_due() == 1
    clock.now = local(days=7, hours=8)  # next Monday, before its time
    async with Bot(tmp_path / "bot.db", clock, plan) as digester:
        assert await digester.owe_due() == 0
        assert await digests_sent(digester) == ["2026-W48"]


async def test_a_week_missed_entirely_is_not_sent_the_next_week(tmp_path: Path, plan: Plan) -> None:
    clock = FakeClock(local(days=6, hours=19))  # Sunday 19:00
    async with Bot(tmp_path / "bot.db", clock, plan) as digester:
        await bound_group(digester)
        await digester.storage.digests.save(GROUP, weekday=7, at_time="20:00")
        assert await digester.owe_due() == 0
    clock.now = local(days=7, hours=10)  # down over Sunday 20:00; back Monday of W49
    async with Bot(tmp_path / "bot.db", clock, plan) as digester:
        assert await digester.owe_due() == 0
        assert await digests_sent(digester) == []


async def test_rescheduling_takes_effect_this_week_when_still_ahead(
    tmp_path: Path, plan: Plan
) -> None:
    clock = FakeClock(local(hours=8))
    async with Bot(tmp_path / "bot.db", clock, plan) as digester:
        await bound_group(digester)
        await digester.storage.digests.save(GROUP, weekday=5, at_time="16:30")
        clock.now = local(hours=9, minutes=30)
        assert await digester.owe_due() == 0, "Monday 09:00 no longer applies"
        clock.now = local(days=4, hours=16, minutes=29)
        assert await digester.owe_due() == 0
        clock.now = local(days=4, hours=16, minutes=30)
        assert await digester.owe_due() == 1
        # Moving it again after it went out does not send a second one this week.
        await digester.storage.digests.save(GROUP, weekday=6, at_time="10:00")
        clock.now = local(days=5, hours=11)
        assert await digester.owe_due() == 0


async def test_off_sends_nothing_and_unbound_chats_get_none(tmp_path: Path, plan: Plan) -> None:
    clock = FakeClock(local(hours=10))
    async with Bot(tmp_path / "bot.db", clock, plan) as digester:
        await bound_group(digester)
        await digester.storage.chats.seen(-2, type="group", title="Idle")
        await digester.storage.digests.save(GROUP, enabled=False)
        assert await digester.owe_due() == 0
        await digester.storage.digests.save(GROUP, enabled=True)
        assert await digester.owe_due() == 1


async def test_the_whole_plan_digest_owes_a_chart(tmp_path: Path, plan: Plan) -> None:
    clock = FakeClock(local(hours=10))
    async with Bot(tmp_path / "bot.db", clock, plan) as digester:
        await bound_group(digester, WHOLE_PLAN)
        assert await digester.owe_due() == 1
        kinds = [item.kind for item in await pending(digester.storage)]
        assert kinds[-1] == "chart" and set(kinds[:-1]) == {"text"}


async def test_a_department_digest_lists_the_first_40_changes_and_counts_the_rest(
    tmp_path: Path, plan: Plan
) -> None:
    clock = FakeClock(local(days=-1))  # Sunday of the week before
    async with Bot(tmp_path / "bot.db", clock, plan) as digester:
        await bound_group(digester)
        await digester.storage.users.seen(7, full_name="Ming")
        mine = [task.number for task in plan.tasks_of("cnipa")]
        others = [task.number for task in plan.tasks if task.number not in set(mine)]
        record = digester.storage.updates.record
        await record(mine[0], author_id=7, dept="cnipa", chat_id=None, note="last week")
        for i in range(45):
            clock.now = local(hours=1, minutes=i)
            await record(mine[i % len(mine)], author_id=7, dept="cnipa", chat_id=None, note=f"n{i}")
            await record(others[i % len(others)], author_id=7, dept=None, chat_id=None, note="x")
        clock.now = local(hours=9)
        assert await digester.owe_due() == 1
        text = "".join(item.payload["text"] for item in await pending(digester.storage))
        assert "<b>本周变化</b>（45）" in text
        assert "n0”" in text and "n39”" in text and "n40”" not in text
        assert "……另有 5 条" in text
        assert "last week" not in text and "“x”" not in text


# --- property: exactly once per chat per week, through any sequence of restarts ----------------

schedules = st.tuples(st.integers(1, 7), st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))
# Up-times: (start, length) in minutes over three weeks; ticks at start and at chosen offsets.
runs = st.lists(
    st.tuples(
        st.integers(0, 3 * 7 * 24 * 60),
        st.integers(1, 3 * 24 * 60),
        st.lists(st.integers(0, 3 * 24 * 60), max_size=4),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schedule=schedules, up=runs)
async def test_exactly_once_per_week_through_any_restarts(
    tmp_path_factory: pytest.TempPathFactory, plan: Plan, schedule, up
) -> None:
    weekday, hour, minute = schedule
    path = tmp_path_factory.mktemp("restarts") / "bot.db"
    clock = FakeClock(local(minutes=-1))
    async with Bot(path, clock, plan) as digester:
        await bound_group(digester)
        await digester.storage.digests.save(
            GROUP, weekday=weekday, at_time=f"{hour:02d}:{minute:02d}"
        )

    ticks: list[datetime] = []
    for start, length, offsets in sorted(up):
        clock.now = local(minutes=start)
        async with Bot(path, clock, plan) as digester:  # a restart: nothing kept in memory
            for offset in [0, *sorted(o for o in offsets if o < length)]:
                clock.now = local(minutes=start + offset)
                ticks.append(clock.now)
                await digester.owe_due()

    expected = set()
    for week in range(4):
        due = local(days=7 * week + weekday - 1, hours=hour, minutes=minute)
        end = local(days=7 * (week + 1))
        if any(due <= tick < end for tick in ticks):
            expected.add(f"2026-W{48 + week}")
    async with Bot(path, clock, plan) as digester:
        sent = await digests_sent(digester)
    assert len(sent) == len(set(sent))
    assert set(sent) == expected
