"""End to end, with a test clock: due dates, their reminders exactly once, and closing a task
with the office's confirmation (销号) or its return with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import start_sender
from bot.faketelegram import FakeChat, FakeMessage, FakeTelegram
from bot.reminders import Reminders
from storage.db import WriteFailed
from storage.files import Problem
from tests import rows
from tests.conftest import FakeClock
from tests.harness import ADMIN_ID, BOT_USERNAME, Harness, running_bot
from tests.rows import pending
from tests.test_delivery import until
from tests.test_e2e_commands import join

MING, LAN, BEA = 2, 3, 5
GROUP = -1001
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
"""Monday 2026-11-23, 10:00 in Shanghai."""


def at_local(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of November/December 2026 in Shanghai (day 24 = Nov 24, 32 = Dec 2)."""
    month, day = (11, day) if day <= 30 else (12, day - 30)
    return datetime(2026, month, day, hour - 8, minute, tzinfo=UTC)


async def run_due_job(bot: Harness) -> None:
    """What the JobQueue does each minute: the job itself."""
    assert bot.app.job_queue is not None
    (job,) = bot.app.job_queue.get_jobs_by_name("due")
    await job.run(bot.app)


def labels(message: FakeMessage) -> list[str]:
    return [text for row in message.buttons for text, _ in row]


def group_chat(fake: FakeTelegram) -> FakeChat:
    return fake.chat(GROUP)


def starting(fake: FakeTelegram, chat_id: int, prefix: str) -> list[FakeMessage]:
    return [m for m in fake.bot_messages(fake.chat(chat_id)) if (m.text or "").startswith(prefix)]


async def office_and_group(bot: Harness, dept: str) -> tuple[Harness, int]:
    """The admin has opened a private chat (the office's, with no whole-plan group) and bound
    a group of their own to ``dept``."""
    admin, dm = bot.user(ADMIN_ID, "Ada")
    await bot.ask(admin, dm, "/start")
    group = bot.fake.add_group(GROUP, "工作群", members=[admin])
    await bot.ask(admin, group, f"/bind {dept}")
    await run_due_job(bot)  # what the start found: the old plan's overdue tasks, not announced
    await bot.fake.idle()
    return bot, group.id


async def test_a_due_date_already_past_turns_red_and_is_announced_once(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_10)
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        async with running_bot(tmp_path, clock=clock, fake=fake) as bot:
            await office_and_group(bot, "cpd")  # task 12 is led by 中央宣传部
            assert starting(fake, GROUP, "🔴") == [], "a bot started on an old plan floods nobody"
            admin, dm = bot.user(ADMIN_ID, "Ada")
            lan, lan_dm = bot.user(LAN, "Lan")
            await bot.ask(lan, lan_dm, "/subscribe 12")

            replies = [m.text for m in await bot.say(admin, dm, "/due 12 2026-11-22")]
            (card,) = [text for text in replies if text.startswith("已设定任务 12")]
            assert card.startswith("已设定任务 12 的时限：逾期 1 天（截止 2026-11-22）。")
            assert "状态：⚪ 未启动 · 🔴 已逾期" in card
            assert "时限：逾期 1 天（截止 2026-11-22）（Ada 于 2026-11-23 10:00 设定）" in card
            (told,) = await fake.replies(lan_dm, at_least=1, timeout=10)
            assert told.text.startswith("📅 任务 12 时限调整 修改《作品自愿登记暂行办法》")
            assert "2024-12-31 → 2026-11-22 · Ada" in told.text and "🔕 取消关注" in labels(told)
            (notice,) = await fake.replies(fake.chat(GROUP), at_least=1, timeout=10)
            assert notice.text.startswith("🔴 中央宣传部：1 项牵头任务已逾期")
            assert "🔴⚪ 12 " in notice.text and "逾期 1 天（截止 11-22）" in notice.text
            (office,) = await fake.replies(dm, at_least=1, timeout=10)  # after the answer
            assert office.text.startswith("🔴 新逾期的任务")
            assert "中央宣传部" in office.text and "🔴⚪ 12 " in office.text
            assert "🔴⚪ 12 " in await bot.ask(admin, group_chat(fake), "/mytasks")

            await run_due_job(bot)
            clock.advance(days=1)
            await run_due_job(bot)
            await fake.idle()
        people = bot.people
        async with running_bot(tmp_path, clock=clock, fake=fake) as again:  # a restart
            again.people.update(people)
            await run_due_job(again)
            await fake.idle()
            assert len(starting(fake, GROUP, "🔴 中央宣传部")) == 1
            assert len(starting(fake, ADMIN_ID, "🔴 新逾期的任务")) == 1
            assert not fake.rejections


async def test_ten_days_ahead_gives_one_14_day_reminder_then_the_day_before(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_10)
    async with running_bot(tmp_path, clock=clock) as bot:
        await office_and_group(bot, "cpd")
        admin, dm = bot.user(ADMIN_ID, "Ada")
        await bot.ask(admin, dm, "/due 12 2026-12-03")
        (first,) = await bot.fake.replies(group_chat(bot.fake), at_least=1, timeout=10)
        assert first.text.startswith("⏰ 中央宣传部：1 项牵头任务两周内到期")
        assert "🟡⚪ 12 " in first.text and "截止 12-03，还剩 10 天" in first.text

        clock.now = at_local(32, 8, 59)  # Wednesday 2 December, 08:59
        await run_due_job(bot)
        await bot.fake.idle()
        assert len(bot.fake.bot_messages(group_chat(bot.fake))) == 2  # /bind's answer, the first
        clock.now = at_local(32, 9)
        await run_due_job(bot)
        (second,) = await bot.fake.replies(group_chat(bot.fake), at_least=1, timeout=10)
        assert second.text.startswith("⏰ 中央宣传部：1 项牵头任务即将到期")
        assert "截止 12-03，还剩 1 天" in second.text
        clock.now = at_local(33, 18)
        await run_due_job(bot)
        await bot.fake.idle()
        assert len(starting(bot.fake, GROUP, "⏰")) == 2
        assert starting(bot.fake, GROUP, "🔴") == [], "not overdue before 4 December, 09:00"
        assert not bot.fake.rejections


async def test_a_date_saved_is_answered_as_saved_when_its_reminder_must_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The date is recorded before the answer; if the reminder it made due cannot be owed at
    that moment (the database briefly refusing writes), the answer still says the date is set,
    nothing says it was not saved, and the next minute's tick owes the reminder."""
    clock = FakeClock(MONDAY_10)
    async with running_bot(tmp_path, clock=clock) as bot:
        await office_and_group(bot, "cpd")
        admin, dm = bot.user(ADMIN_ID, "Ada")

        async def refused(self: Reminders) -> int:
            raise WriteFailed(Path("bot.db"), Problem("locked", "try again", lasting=False))

        monkeypatch.setattr(Reminders, "owe_due", refused)
        (answer,) = await bot.say(admin, dm, "/due 12 2026-12-03")
        assert answer.text.startswith("已设定任务 12 的时限：截止 2026-12-03，还剩 10 天。")
        await bot.fake.idle()
        assert starting(bot.fake, GROUP, "⏰") == []
        monkeypatch.undo()
        await run_due_job(bot)
        (reminder,) = await bot.fake.replies(group_chat(bot.fake), at_least=1, timeout=10)
        assert reminder.text.startswith("⏰ 中央宣传部：1 项牵头任务两周内到期")
        assert [m.text for m in bot.fake.bot_messages(dm)][-1] == answer.text, "nothing after it"


async def two_admins_and_ming(bot: Harness) -> tuple[FakeMessage, FakeMessage]:
    """Ming of 知识产权局 reports task 1 done from its card; both admins get the office's card."""
    for user_id, name in ((ADMIN_ID, "Ada"), (BEA, "Bea")):
        person, dm = bot.user(user_id, name)
        await bot.ask(person, dm, "/start")
    ada, _ = bot.user(ADMIN_ID, "Ada")
    ming, ming_dm, _ = await join(bot, MING, "Ming", "cnipa")
    group = bot.fake.add_group(GROUP, "知识产权局工作群", members=[ada, ming])
    await bot.ask(ada, group, "/bind cnipa")
    await bot.ask(ming, ming_dm, "/update 1 进行中 60% 已起草")
    (card,) = await bot.say(ming, ming_dm, "/task 1")
    toast = await bot.fake.callback_answer(await bot.fake.tap(ming, card, text="✅ 已完成"))
    assert toast.text == "已记录：任务 1 → ⏳ 已完成 100%，等待联席会议办公室销号"
    await bot.fake.replies(ming_dm)
    assert "状态：⏳ 待销号 · 100%" in bot.fake.last_bot_message(ming_dm).text
    cards = []
    for user_id in (ADMIN_ID, BEA):
        (office,) = await bot.fake.replies(bot.fake.chat(user_id), at_least=1, timeout=10)
        assert office.text.startswith("📋 待销号：任务 1 推进《中华人民共和国商标法》")
        assert "Ming（国家知识产权局） 于 2026-11-23 10:00 报告完成" in office.text
        assert labels(office) == ["✅ 销号", "↩️ 退回"]
        cards.append(office)
    return cards[0], cards[1]


async def test_one_admin_confirms_and_every_copy_shows_who(tmp_path: Path) -> None:
    async with running_bot(tmp_path, admins=(ADMIN_ID, BEA), clock=FakeClock(MONDAY_10)) as bot:
        ada_card, bea_card = await two_admins_and_ming(bot)
        ada, ada_dm = bot.user(ADMIN_ID, "Ada")
        toast = await bot.fake.callback_answer(await bot.fake.tap(ada, ada_card, text="✅ 销号"))
        assert toast.text == "已销号：任务 1。已通知牵头部门。"

        (notice,) = await bot.fake.replies(group_chat(bot.fake), at_least=1, timeout=10)
        assert notice.text.startswith("✅ 任务 1 已销号")
        assert "联席会议办公室 Ada 于 2026-11-23 10:00 确认完成。" in notice.text
        bea, bea_dm = bot.user(BEA, "Bea")
        (edited,) = await bot.fake.replies(bea_dm, at_least=1, timeout=10)
        assert edited.message_id == bea_card.message_id and edited.edits == 1
        assert edited.text.startswith("✅ 已销号：任务 1")
        assert edited.text.endswith("✅ Ada 于 2026-11-23 10:00 销号") and edited.buttons == []
        (own,) = await bot.fake.replies(ada_dm, at_least=2, timeout=10)  # the toast, the edit
        assert own is ada_card and own.edits == 1 and own.buttons == [], "the tapped copy too"

        card = await bot.ask(ada, ada_dm, "/task 1")
        assert "状态：✅ 已完成 · 100% · 🟢 无需催报" in card
        assert "已销号：Ada · 2026-11-23 10:00" in card
        late = await bot.ask(bea, bea_dm, "/confirm 1")
        assert late == "任务 1 没有待销号的完成报告（现在：已完成）。"
        ming, ming_dm = bot.user(MING, "Ming")
        refused = await bot.ask(ming, ming_dm, "/update 1 进行中")
        assert refused.startswith("这项任务已销号，只有联席会议办公室可以再修改它的状态")
        await bot.fake.idle()
        assert len(bot.fake.bot_messages(group_chat(bot.fake))) == 2  # /bind's answer, the notice
        assert not bot.fake.rejections


async def test_returning_with_a_reason_puts_the_task_back_in_progress(tmp_path: Path) -> None:
    async with running_bot(tmp_path, admins=(ADMIN_ID, BEA), clock=FakeClock(MONDAY_10)) as bot:
        ada_card, bea_card = await two_admins_and_ming(bot)
        ada, ada_dm = bot.user(ADMIN_ID, "Ada")
        await bot.fake.tap(ada, ada_card, text="↩️ 退回")
        (prompt,) = await bot.fake.replies(ada_dm)
        assert prompt.text == "Ada，请回复这条消息，写明退回任务 1 的理由："
        assert prompt.reply_markup["force_reply"] is True
        replies = await bot.say(ada, ada_dm, "缺少印发文件 <附件>", reply_to=prompt)
        answer = replies[0].text
        assert answer.startswith("已退回：任务 1 改回进行中，已把理由告知牵头部门。")
        assert "状态：🔵 进行中 · 60%" in answer
        assert "Ada: ✅→🔵 进行中 60% “缺少印发文件 <附件>”" in answer

        (notice,) = await bot.fake.replies(group_chat(bot.fake), at_least=1, timeout=10)
        assert notice.text.startswith("↩️ 任务 1 被退回")
        assert "理由：“缺少印发文件 <附件>”" in notice.text
        assert "状态已改回 🔵 进行中 60%" in notice.text
        assert "✅ 已完成" in labels(notice), "the department carries on from the notice"
        bea, bea_dm = bot.user(BEA, "Bea")
        (edited,) = await bot.fake.replies(bea_dm, at_least=1, timeout=10)
        assert edited.message_id == bea_card.message_id
        assert edited.text.endswith("↩️ Ada 于 2026-11-23 10:00 退回：“缺少印发文件 <附件>”")
        # The other copy's button was already pressed on another phone: it says so.
        toast = await bot.fake.callback_answer(
            await bot.fake.tap(bea, bea_card, "cl1:1:c", forged=True)
        )
        assert toast.text == "任务 1 已由 Ada 于 11-23 10:00 退回。"
        assert "状态：🔵 进行中 · 60%" in await bot.ask(bea, bea_dm, "/task 1")
        assert not bot.fake.rejections


async def test_by_command_and_an_admins_own_done(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(MONDAY_10)) as bot:
        ada, dm = bot.user(ADMIN_ID, "Ada")
        await bot.ask(ada, dm, "/start")
        done = await bot.ask(ada, dm, "/update 5 done")
        assert done.startswith("已记录：任务 5 → ✅ 已完成 100%")
        assert "状态：✅ 已完成 · 100%" in done
        ming, ming_dm, _ = await join(bot, MING, "Ming", "cnipa")
        await bot.ask(ming, ming_dm, "/update 10 done 会签完毕")
        (office,) = await bot.fake.replies(dm, at_least=1, timeout=10)
        assert office.text.startswith("📋 待销号：任务 10")
        assert "说明：“会签完毕”" in office.text
        usage = await bot.ask(ada, dm, "/return 10")
        assert usage == "用法：/return <编号> <理由>，例如 /return 12 缺少印发文件"
        returned = await bot.ask(ada, dm, "/return 10 请补充会签文件")
        assert returned.startswith("已退回：任务 10 改回进行中")
        (edited,) = await bot.fake.replies(dm, at_least=1, timeout=10)
        assert edited.message_id == office.message_id and edited.buttons == []
        (back,) = await bot.fake.replies(ming_dm, at_least=1, timeout=10)
        assert back.text.startswith("↩️ 任务 10 被退回"), "no group: its members are told"
        await bot.ask(ming, ming_dm, "/update 10 done 已补充")
        (again,) = await bot.fake.replies(dm, at_least=1, timeout=10)
        assert again.text.startswith("📋 待销号：任务 10") and labels(again)
        confirmed = await bot.ask(ada, dm, "/confirm 10")
        assert confirmed.startswith("已销号：任务 10。已通知牵头部门。")
        (told,) = await bot.fake.replies(ming_dm, at_least=1, timeout=10)
        assert told.text.startswith("✅ 任务 10 已销号")
        assert await bot.ask(ming, ming_dm, "/confirm 10") == "只有管理员可以这样做。"
        assert (
            await bot.ask(ada, dm, "/confirm 11")
            == "任务 11 没有待销号的完成报告（现在：未启动）。"
        )
        assert not bot.fake.rejections


async def test_with_the_setting_off_done_closes_at_once(tmp_path: Path) -> None:
    settings = {"close_needs_confirmation": False}
    async with running_bot(tmp_path, clock=FakeClock(MONDAY_10), settings=settings) as bot:
        ada, dm = bot.user(ADMIN_ID, "Ada")
        await bot.ask(ada, dm, "/start")
        ming, ming_dm, _ = await join(bot, MING, "Ming", "cnipa")
        done = await bot.ask(ming, ming_dm, "/update 10 done")
        assert done.startswith("已记录：任务 10 → ✅ 已完成 100%")
        assert "状态：✅ 已完成 · 100%" in done
        await bot.fake.idle()
        assert starting(bot.fake, ADMIN_ID, "📋") == []
        assert "⏳0 ✅1" in await bot.ask(ada, dm, "/plan")


async def test_due_for_every_task_and_what_is_refused(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(MONDAY_10)) as bot:
        ada, dm = bot.user(ADMIN_ID, "Ada")
        lan, lan_dm = bot.user(LAN, "Lan")
        await bot.ask(lan, lan_dm, "/subscribe all")
        assert await bot.ask(ada, dm, "/due all 12-31") == (
            "已将 110 项任务的时限设为 2026-12-31（另有 0 项本来就是）。"
        )
        (told,) = await bot.fake.replies(lan_dm, at_least=1, timeout=10)
        assert told.text.startswith("📅 110 项任务时限调整为 2026-12-31 · Ada")
        assert "……另有 80 项" in told.text and len(told.text) <= 4096
        assert await bot.ask(ada, dm, "/due 全部 2026-12-31") == (
            "全部任务的时限本来就是 2026-12-31，没有变化。"
        )
        unchanged = await bot.ask(ada, dm, "/due 12 ２０２６年１２月３１日")
        assert unchanged.startswith("任务 12 的时限没有变化：截止 2026-12-31。")
        assert await bot.ask(ada, dm, "/due 12 02-30") == (
            "“02-30”不是日期：请写 YYYY-MM-DD 或 MM-DD，例如 2026-07-15 或 07-15。"
        )
        assert (await bot.ask(ada, dm, "/due 12")).startswith("用法：/due <编号|all> <日期>")
        assert (await bot.ask(ada, dm, "/due 999 12-31")).startswith("“999”不是任务编号")
        assert await bot.ask(lan, lan_dm, "/due 12 12-31") == "只有管理员可以这样做。"
        card = await bot.ask(lan, lan_dm, "/task 12")
        assert "时限：截止 2026-12-31（Ada 于 2026-11-23 10:00 设定）" in card
        assert not bot.fake.rejections


async def test_a_card_drawn_after_the_answer_is_not_edited_to_the_same(tmp_path: Path) -> None:
    """The card was on its way (claimed by the sender) when an admin answered: the edit owed
    for it finds the card already showing the answer, and asks Telegram for nothing."""
    async with running_bot(tmp_path, clock=FakeClock(MONDAY_10)) as bot:
        ada, dm = bot.user(ADMIN_ID, "Ada")
        await bot.ask(ada, dm, "/start")
        ming, ming_dm, _ = await join(bot, MING, "Ming", "cnipa")
        sender, storage = bot.app.bot_data.sender, bot.app.bot_data.storage
        assert sender is not None and storage is not None
        await sender.stop()
        await bot.ask(ming, ming_dm, "/update 10 done")
        (card,) = [item for item in await pending(storage) if item.kind == "close_card"]
        assert await storage.outbox.mark_sending(card.id)  # in flight, not drawn yet
        assert (await bot.ask(ada, dm, "/confirm 10")).startswith("已销号：任务 10")
        edit, _ = owed = await pending(storage)
        assert [i.kind for i in owed] == ["edit", "closure"]
        await storage.outbox.requeue_sending()  # as after a crash: it is drawn again now
        await start_sender(bot.app)
        (shown,) = await bot.fake.replies(dm, at_least=1, timeout=10)
        assert shown.text.startswith("✅ 已销号：任务 10") and shown.buttons == []

        async def edit_done() -> bool:
            return await rows.outbox_state(storage, edit.id) == "sent"

        await until(edit_done, "the edit's row, settled without a request")
        assert bot.fake.requests["editMessageText"] == 0 and shown.edits == 0
        assert not bot.fake.rejections
