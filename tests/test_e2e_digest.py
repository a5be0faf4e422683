"""End to end: the digest job, the outbox and the fake Telegram, with a controlled clock."""

from __future__ import annotations

from pathlib import Path

from bot.faketelegram import FakeMessage
from tests.conftest import FakeClock
from tests.harness import ADMIN_ID, Harness, running_bot
from tests.test_digest_schedule import local
from tests.test_e2e_commands import join

MING = 2
DEPT_GROUP, PLAN_GROUP = -1001, -1002


async def run_digest_job(bot: Harness) -> None:
    """What the JobQueue does each minute: the job itself, not a shortcut around it."""
    assert bot.app.job_queue is not None
    (job,) = bot.app.job_queue.get_jobs_by_name("digest")
    await job.run(bot.app)


async def test_groups_get_their_digest_at_the_set_time(tmp_path: Path) -> None:
    clock = FakeClock(local(hours=8))  # Monday 08:00 in Shanghai
    async with running_bot(tmp_path, clock=clock) as bot:
        admin, _ = bot.user(ADMIN_ID, "Ada")
        ming, ming_dm, _ = await join(bot, MING, "Ming", "cnipa")
        dept = bot.fake.add_group(DEPT_GROUP, "知识产权局工作群", members=[admin, ming])
        whole = bot.fake.add_group(PLAN_GROUP, "联席办", members=[admin])
        await bot.ask(admin, dept, "/bind cnipa")
        await bot.ask(admin, whole, "/bind all")
        await bot.ask(ming, ming_dm, "/update 1 进行中 40% 草案已报送")
        await bot.ask(ming, ming_dm, "/update 10 受阻 等待会签")

        await run_digest_job(bot)
        await bot.fake.idle()
        assert _digests(bot.fake.bot_messages(dept)) == [], "not before 09:00"

        clock.now = local(hours=9)
        await run_digest_job(bot)
        (digest,) = await bot.fake.replies(dept, at_least=1, timeout=10)
        assert digest.text.startswith("📋 国家知识产权局 · 第 48 周周报")
        assert "• 任务 1 ⚪→🔵 进行中 40% · Ming: “草案已报送”" in digest.text
        assert "⛔ 受阻（1）：" in digest.text and "⛔ 10 加强央地协同" in digest.text

        replies = await bot.fake.replies(whole, at_least=2, timeout=20)
        text, photo = replies[0], replies[-1]
        assert text.text.startswith("📋 全计划 · 第 48 周周报")
        assert "点名" in text.text
        assert photo.photo is not None and photo.photo.startswith(b"\x89PNG")
        assert photo.caption is not None and len(photo.caption) <= 1024

        clock.now = local(hours=10)  # later the same week: nothing more
        await run_digest_job(bot)
        await bot.fake.idle()
        assert len(_digests(bot.fake.bot_messages(dept))) == 1
        assert not bot.fake.rejections


async def test_digest_command_shows_changes_and_sends_now(tmp_path: Path) -> None:
    clock = FakeClock(local(hours=8))
    async with running_bot(tmp_path, clock=clock) as bot:
        admin, _ = bot.user(ADMIN_ID, "Ada")
        group = bot.fake.add_group(DEPT_GROUP, "Team", members=[admin])
        assert "不会收到周报" in await bot.ask(admin, group, "/digest")
        await bot.ask(admin, group, "/bind cnipa")
        shown = await bot.ask(admin, group, "/digest")
        assert shown.startswith("本聊天的周报：开启，每周一 09:00（Asia/Shanghai）。本周尚未发送。")
        moved = await bot.ask(admin, group, "/digest 星期五 16：30")
        assert moved.startswith("本聊天的周报：开启，每周五 16:30")
        assert "不认识“someday”" in await bot.ask(admin, group, "/digest someday 10:00")
        assert "时间“25:00”不对" in await bot.ask(admin, group, "/digest fri 25:00")
        # Full-width digits are typed on Chinese keyboards; other scripts' digits are not a time.
        assert "时间“9:0٥”不对" in await bot.ask(admin, group, "/digest fri 9:0٥")
        assert "时间“²:00”不对" in await bot.ask(admin, group, "/digest fri ²:00")
        assert "每周五 09:05" in await bot.ask(admin, group, "/digest fri ０９．０５")
        assert "关闭" in await bot.ask(admin, group, "/digest off")
        await bot.fake.send(admin, group, "/digest now")
        replies = await bot.fake.replies(group, at_least=2, timeout=10)
        assert replies[0].text == "周报马上发送。"
        assert replies[-1].text.startswith("📋 国家知识产权局 · 第 48 周周报")
        clock.now = local(days=4, hours=17)
        await run_digest_job(bot)  # off: the scheduled one does not go
        await bot.fake.idle()
        assert len(_digests(bot.fake.bot_messages(group))) == 1


def _digests(messages: list[FakeMessage]) -> list[FakeMessage]:
    return [m for m in messages if m.text.startswith("📋")]
