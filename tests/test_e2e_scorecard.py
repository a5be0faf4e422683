"""End to end, with a test clock: /scorecard ranks the departments worst first, pages with its
buttons, shows a member and a bound group only their own rows, and refuses a forged page."""

from __future__ import annotations

from pathlib import Path

from bot import callbacks
from bot.faketelegram import FakeMessage
from tests.conftest import FakeClock
from tests.harness import ADMIN_ID, running_bot
from tests.test_e2e_commands import join
from tests.test_e2e_due_and_closing import GROUP, MING, MONDAY_10, office_and_group

STRANGER = 9


def ranked(text: str) -> list[str]:
    """The numbered rows of a scorecard page: '1. 🔴 中央宣传部'."""
    return [line for line in text.splitlines() if line.split(".")[0].isdigit()]


def data_of(message: FakeMessage) -> list[str]:
    return [data for row in message.buttons for _, data in row]


async def test_an_overdue_task_ranks_its_department_first(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_10)
    async with running_bot(tmp_path, clock=clock) as bot:
        fake = bot.fake
        await office_and_group(bot, "cnipa")
        admin, dm = bot.user(ADMIN_ID, "Ada")
        await bot.ask(admin, dm, "/due all 2027-06-30")  # nobody is late

        (page,) = await bot.say(admin, dm, "/scorecard")
        assert page.text.startswith("📊 各部门成绩单（2024 年计划，")
        rows = ranked(page.text)
        assert rows[0] == "1. 🟡 国家知识产权局", "a tie keeps the plan's order"
        assert rows[1] == "2. 🟡 中央宣传部"
        assert len(rows) == 10 and "第 1/" in page.text
        assert "本轮报送：2024 年计划还没有发起过报送（—）" in page.text

        await bot.ask(admin, dm, "/due 12 2026-11-22")  # task 12, led by 中央宣传部, is late
        (page,) = await bot.say(admin, dm, "/scorecard")
        rows = ranked(page.text)
        assert rows[:2] == ["1. 🔴 中央宣传部", "2. 🟡 国家知识产权局"]
        first = page.text.split("2. ")[0]
        assert "逾期 1" in first and "最近报告：从未报告" in first

        await fake.tap(admin, page, callbacks.scorecard("*", 2))
        (edited,) = await fake.replies(fake.chat(ADMIN_ID))
        assert edited is page, "the page is edited in place"
        assert ranked(edited.text)[0].startswith("11. ") and "第 2/" in edited.text
        assert callbacks.scorecard("*", 1) in data_of(edited)

        ming, ming_dm, _ = await join(bot, MING, "Ming", "cnipa")
        (own,) = await bot.say(ming, ming_dm, "/scorecard")
        assert ranked(own.text) == ["2. 🟡 国家知识产权局"], "a member sees their row, in its place"
        assert own.buttons == []
        query = await fake.tap(ming, own, callbacks.scorecard("*", 1), forged=True)
        refused = await fake.callback_answer(query)
        assert refused.show_alert and "国家知识产权局" not in (refused.text or "x")
        assert [m.text for m in fake.bot_messages(ming_dm)][-1] == own.text, "nothing shown"

        group = fake.chat(GROUP)
        (bound,) = await bot.say(admin, group, "/scorecard")
        assert ranked(bound.text) == ["2. 🟡 国家知识产权局"], "a bound group: its department"

        stranger, stranger_dm = bot.user(STRANGER, "Sam")
        answer = await bot.ask(stranger, stranger_dm, "/scorecard")
        assert "/scorecard" not in answer and "国家知识产权局" not in answer
        assert not fake.rejections
