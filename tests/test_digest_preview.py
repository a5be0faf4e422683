"""``python -m bot digest … --print``: a digest at the terminal, from the database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage import Storage
from storage.updates import Status
from tests.conftest import DATA, PLAN_YEAR, ROOT


def preview(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env |= {"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db"}
    env |= {"TASKS_FILE": str(DATA / "tasks.json")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "digest", *args, "--print"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def database(tmp_path: Path) -> Path:
    async def fill() -> None:
        store = Storage(tmp_path / "bot.db")
        await store.open(plan_year=PLAN_YEAR)
        await store.users.seen(7, full_name="Li <Wei>")
        await store.chats.seen(-5, type="group", title="Team")
        await store.chats.bind(-5, "cnipa", by=7)
        await store.updates.record(
            1, author_id=7, dept="cnipa", chat_id=-5, status=Status.BLOCKED, note="等待 & 会签"
        )
        await store.close()

    asyncio.run(fill())
    return tmp_path


def test_a_department_digest_prints_as_plain_text(database: Path) -> None:
    result = preview(database, "--dept", "知识产权局")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("📋 国家知识产权局 · 第 ")
    assert "• 任务 1 ⚪→⛔ 受阻 · Li <Wei>: “等待 & 会签”" in result.stdout
    assert "<b>" not in result.stdout and "&amp;" not in result.stdout


def test_a_chats_digest_and_the_whole_plan(database: Path) -> None:
    assert preview(database, "--chat", "-5").stdout.startswith("📋 国家知识产权局")
    whole = preview(database, "--all", "--lang", "en")
    assert whole.stdout.startswith("📋 The whole plan")
    assert whole.stdout.rstrip().endswith("[progress chart, sent as a photo]")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--chat", "42"), "error: chat 42 gets no digest"),
        (("--dept", "最高"), "error: no single department called '最高' (candidates: spc, spp)"),
    ],
)
def test_bad_targets_get_one_line(database: Path, args: tuple[str, ...], message: str) -> None:
    result = preview(database, *args)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1


def test_no_database_gets_one_line(tmp_path: Path) -> None:
    result = preview(tmp_path, "--all")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no database at")
