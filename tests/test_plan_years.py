"""Plan years end to end: the bot restarted on next year's plan keeps this year's, never mixed.

2024's updates are recorded; the bot restarts on the 2025 tasks file, on the same database.
``/task 1`` is 2025's task 1 with no history, ``/task 1 2024`` is 2024's with its history and
no buttons; a 2024 task subscription ends (the chat is told once, in the first digest of the new
year) while a department subscription goes on; an export by year holds that year's rows; and the
database started again on the 2024 file is refused with one line naming both years.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.export import export_database
from bot.faketelegram import FakeTelegram
from bot.plan import load_plan
from tests.conftest import DATA, ROOT, FakeClock
from tests.harness import ADMIN_ID, BOT_USERNAME, Harness, bot_on
from tests.test_digest_schedule import local
from tests.test_e2e_commands import join
from tests.test_e2e_digest import run_digest_job

TASKS_2024 = DATA / "tasks.json"
TEXT_2025 = ROOT / "tests" / "data" / "plan-2025.txt"
REGISTRY_2025 = ROOT / "tests" / "data" / "departments-2025.json"
TASKS_2025 = ROOT / "tests" / "data" / "tasks-2025.json"
MING = 2


def import_2025(tmp_path: Path) -> Path:
    """Next year's plan text through the importer, as the README's steps do it."""
    output = tmp_path / "tasks-2025.json"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "import-plan", str(TEXT_2025),
         "--departments", str(REGISTRY_2025), "-o", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "75 tasks" in done.stdout
    return output


def led_by(path: Path, dept: str) -> int:
    """The first task of the plan in ``path`` that ``dept`` leads."""
    return next(t.number for t in load_plan(path).tasks if t.lead == dept)


async def first_year(bot: Harness) -> None:
    """2024: Ming of cnipa reports on task 1; the admin's chat follows task 1 and cnipa."""
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    ming, ming_dm, _ = await join(bot, MING, "Ming", "cnipa")
    assert "已关注任务 1" in await bot.ask(admin, admin_dm, "/subscribe 1")
    assert "已关注国家知识产权局的任务" in await bot.ask(admin, admin_dm, "/subscribe cnipa")
    await bot.ask(ming, ming_dm, "/update 1 进行中 40% 二〇二四年的草案已报送")
    await bot.fake.replies(admin_dm)  # the notification of it


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local(hours=8))  # a Monday, 08:00 in Shanghai: before the digest


async def test_next_years_plan_beside_this_years(tmp_path: Path, clock: FakeClock) -> None:
    tasks_2025 = import_2025(tmp_path)
    plan_2025 = load_plan(tasks_2025)
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        async with bot_on(fake, tmp_path, clock=clock) as bot:
            await first_year(bot)
            people = bot.people

        async with bot_on(fake, tmp_path, clock=clock, people=people, tasks_file=TASKS_2025) as bot:
            admin, admin_dm = bot.user(ADMIN_ID, "Ada")
            ming, ming_dm = bot.user(MING, "Ming")

            card = await bot.ask(admin, admin_dm, "/task 1")
            assert card.startswith(
                f"任务 1 · {plan_2025.section(plan_2025.tasks[0].section).numeral}"
            )
            assert plan_2025.tasks[0].text[:20] in card
            assert "还没有人报告进展" in card and "二〇二四" not in card
            (shown,) = [m for m in fake.bot_messages(admin_dm) if m.text == card]
            assert shown.buttons, "this year's card has its buttons"

            old = await bot.ask(admin, admin_dm, "/task 1 2024")
            assert "二〇二四年的草案已报送" in old and "🔵 进行中" in old
            assert "2024 年计划（已归档，只读）" in old
            (archived,) = [m for m in fake.bot_messages(admin_dm) if m.text == old]
            assert archived.buttons == [], "an earlier year's card changes nothing"
            refused = await bot.say(admin, admin_dm, "写在旧卡片上", reply_to=archived)
            assert "已经归档" in refused[-1].text

            # A department new in 2025's registry is there to invite people to.
            invite = await bot.ask(admin, admin_dm, "/invite 国家数据局")
            assert "加入国家数据局" in invite and "start=join-" in invite

            years = await bot.ask(admin, admin_dm, "/plan")
            assert "2025 年</b>（当前）" not in years  # the fake shows text, not tags
            assert "2025 年（当前）" in years and f"{len(plan_2025.tasks)} 项任务" in years
            assert "2024 年（已归档，只读）" in years and "110 项任务" in years

            # The task subscription ended with 2024; the department one goes on.
            follows = await bot.ask(admin, admin_dm, "/subscriptions")
            assert "国家知识产权局的任务" in follows and "任务 1" not in follows
            task = led_by(tasks_2025, "cnipa")
            await bot.ask(ming, ming_dm, f"/update {task} 进行中 10% 二〇二五年开局")
            (notified,) = await bot.fake.replies(admin_dm)
            assert "二〇二五年开局" in notified.text

            # Membership carried on: Ming still acts for cnipa (asked above); and the first
            # digest of the new year says, once, which subscriptions ended.
            clock.now = local(hours=9)
            await run_digest_job(bot)
            digest = [m.text for m in await bot.fake.replies(admin_dm, timeout=10)]
            assert any("已结束的关注" in text and "任务 1" in text for text in digest), digest
            clock.now = local(days=7, hours=9)
            await run_digest_job(bot)
            later = [m.text for m in await bot.fake.replies(admin_dm, timeout=10)]
            assert later and not any("已结束的关注" in text for text in later)

            # Export by year: each year's own rows.
            settings = bot.settings
            of_2024 = await export_database(settings, plan_2025, fmt="csv", lang="zh", year=2024)
            of_2025 = await export_database(settings, plan_2025, fmt="csv", lang="zh")
        assert of_2024.count == 110 and of_2025.count == len(plan_2025.tasks)
        assert "二〇二四年的草案已报送" in of_2024.data.decode("utf-8-sig")
        assert "二〇二四" not in of_2025.data.decode("utf-8-sig")
        assert "二〇二五年开局" in of_2025.data.decode("utf-8-sig")
        assert of_2024.filename.startswith("plan-2024-") and of_2025.filename.startswith(
            "plan-2025-"
        )
        assert not fake.rejections


async def test_going_back_a_year_is_refused_in_one_line(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        async with bot_on(fake, tmp_path, clock=clock) as bot:
            await first_year(bot)
        async with bot_on(fake, tmp_path, clock=clock, tasks_file=TASKS_2025):
            pass

        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
        env.update(
            PYTHONPATH=str(ROOT),
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_BASE_URL=fake.base_url,
            DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
            TASKS_FILE=str(TASKS_2024),
        )
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(child.communicate(), timeout=30)
    lines = err.decode().strip().splitlines()
    assert child.returncode == 2, err.decode()
    assert len(lines) == 1 and "Traceback" not in err.decode(), err.decode()
    assert lines[0].startswith("error: TASKS_FILE ")
    assert "holds the 2024 plan" in lines[0] and "current plan is 2025" in lines[0]
    assert "ALLOW_EARLIER_PLAN" in lines[0]
