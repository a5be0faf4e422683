"""/round export and ``python -m bot round export``: the compiled round handed to the document's
renderer, and the file sent or written.

The renderers (``bot/render/round_docx.py``, ``round_xlsx.py``) are written beside this feature;
here a stand-in of each, set up only inside these tests, records what it was given, so the tests
check what this side owes them: the compiled round, its plan and the language, and that the
bytes they return are what is sent or written.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.i18n import Language
from bot.plan import Plan
from bot.round_report import CompiledRound
from bot.rounds import deadline, owed_statements
from storage import Storage
from storage.people import Role
from tests.conftest import DATA, PLAN_YEAR, ROOT, FakeClock
from tests.harness import ADMIN_ID, running_bot
from tests.rows import join
from tests.test_digest_schedule import SHANGHAI, local
from tests.test_e2e_commands import join as invited
from tests.test_e2e_rounds import delivered

WANG = 2


def rendered(fmt: str, compiled: CompiledRound, plan: Plan, lang: Language) -> bytes:
    """What a stand-in renderer returns: enough of its input to check it was the round's."""
    statements = {
        f"{task.number}/{dept}": statement.text
        for task in compiled.tasks
        for dept, statement in task.statements.items()
    }
    summary = {
        "format": fmt, "lang": lang, "plan": plan.year, "title": compiled.title,
        "tasks": len(compiled.tasks), "statements": statements,
        "worst": compiled.tally[0].dept if compiled.tally else None,
    }  # fmt: skip
    return json.dumps(summary, ensure_ascii=False).encode()


@pytest.fixture
def renderers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Stand-ins for the two renderer modules, for the length of one test."""
    for fmt in ("docx", "xlsx"):
        module = types.ModuleType(f"bot.render.round_{fmt}")
        setattr(module, f"round_{fmt}", lambda c, p, lang, fmt=fmt: rendered(fmt, c, p, lang))
        monkeypatch.setitem(sys.modules, f"bot.render.round_{fmt}", module)
    yield


async def test_round_export_sends_the_compiled_round(tmp_path: Path, renderers: None) -> None:
    clock = FakeClock(local(hours=10))
    async with running_bot(tmp_path, clock=clock) as bot:
        admin, admin_dm = bot.user(ADMIN_ID, "Ada")
        wang, wang_dm, _ = await invited(bot, WANG, "Wang", "samr")
        assert await bot.ask(admin, admin_dm, "/round export") == (
            "还没有发起过报送。管理员可以发送 /round new 07-15 标题 发起一轮。"
        )
        await bot.ask(admin, admin_dm, "/round new 11-25 上半年")
        await delivered(bot)
        await bot.ask(wang, wang_dm, "/submit 3 已完成修订")
        assert await bot.ask(wang, wang_dm, "/round export") == "只有管理员可以这样做。"
        (sent,) = await bot.say(admin, admin_dm, "/round export")
        assert sent.filename == "round-1-20261123.docx"
        assert sent.caption == "《上半年》汇总：43 个部门，已报 1/230 项（逾期 0 项）"
        got = json.loads(sent.document or b"")
        assert got == {
            "format": "docx", "lang": "zh", "plan": PLAN_YEAR, "title": "上半年", "tasks": 110,
            "statements": {"3/samr": "已完成修订"}, "worst": "cnipa",
        }  # fmt: skip
        await bot.ask(admin, admin_dm, "/lang en")
        (sent,) = await bot.say(admin, admin_dm, "/round export excel")
        assert sent.filename == "round-1-20261123.xlsx"
        assert json.loads(sent.document or b"")["lang"] == "en"
        assert (await bot.ask(admin, admin_dm, "/round export pdf")).startswith("Usage: /round")
        assert not bot.fake.rejections


async def filled(database: Path, plan: Plan, *, rounds: int = 1) -> None:
    """A database with closed rounds and one open, a statement in the last."""
    store = Storage(database, clock=FakeClock(local(hours=10)))
    await store.open(plan_year=PLAN_YEAR)
    try:
        await store.users.seen(WANG, full_name="Wang")
        await join(store, WANG, "samr", Role.MEMBER)
        for n in range(1, rounds + 1):
            opened = await store.rounds.open(f"第 {n} 轮", date(2026, 12, n), opened_by=ADMIN_ID,
                                             owed=owed_statements(plan))  # fmt: skip
            await store.rounds.submit(
                opened.round.id, 3, "samr", author_id=WANG, text=f"第 {n} 轮的报送",
                document=None, chat_id=WANG, deadline=deadline(date(2026, 12, n), SHANGHAI),
            )  # fmt: skip
            if n < rounds:
                await store.rounds.close(opened.round.id, by=ADMIN_ID)
    finally:
        await store.close()


def test_the_command_line_writes_the_file(
    tmp_path: Path, plan: Plan, renderers: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    database = tmp_path / "bot.db"
    asyncio.run(filled(database, plan, rounds=2))
    monkeypatch.chdir(tmp_path)  # no .env of the checkout is read
    for name in [k for k in os.environ if k.startswith(("TELEGRAM_", "BOT_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("TASKS_FILE", str(DATA / "tasks.json"))

    assert main(["round", "export", "-o", "last.docx"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("wrote last.docx: round 2 '第 2 轮', 1 of 230 statements, docx, zh, ")
    assert json.loads((tmp_path / "last.docx").read_bytes())["statements"] == {
        "3/samr": "第 2 轮的报送"
    }
    assert main(["round", "export", "--round", "1", "--lang", "en", "-o", "first.xlsx"]) == 0
    first = json.loads((tmp_path / "first.xlsx").read_bytes())
    assert (first["format"], first["lang"], first["title"]) == ("xlsx", "en", "第 1 轮")
    assert main(["round", "export", "--round", "9"]) == 2
    assert capsys.readouterr().err == f"error: the database at {database} holds no round 9\n"


def run_cli(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{database}", TASKS_FILE=str(DATA / "tasks.json"),
        PYTHONPATH=str(ROOT),
    )  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "bot", "round", "export", *args],
        cwd=database.parent, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_command_line_says_in_one_line_what_is_wrong(tmp_path: Path, plan: Plan) -> None:
    missing = tmp_path / "none.db"
    done = run_cli(missing)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: no database at {missing} (DATABASE_URL): run the bot first\n"
    assert not missing.exists()
    text = tmp_path / "notes.db"
    text.write_text("not a database", encoding="utf-8")
    done = run_cli(text)
    assert done.stderr == f"error: {text} (DATABASE_URL) is not an SQLite database\n"
    empty = tmp_path / "bot.db"
    asyncio.run(filled(empty, plan, rounds=0))
    done = run_cli(empty)
    assert done.returncode == 2
    assert done.stderr == f"error: the database at {empty} holds no round yet\n"
