"""/round export and ``python -m bot round export``: the compiled round as the office gets it.

The files sent or written are read back as the office's Word and Excel would read them: the
round's title, the statement under its task, "未报送" where nothing came, the language asked.
(What the renderers put where is pinned in tests/test_round_document.py.)"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import docx
import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.plan import Plan
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


def document_text(data: bytes) -> str:
    """Every paragraph and table cell of a .docx, in order."""
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def statements(data: bytes) -> dict[tuple[int, str], str]:
    """The workbook's statements sheet: (task, status) → text, for the statements given."""
    sheet = load_workbook(io.BytesIO(data)).worksheets[1]
    header = [cell.value for cell in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(2)]
    return {(int(r[header[0]]), str(r[header[3]])): str(r[header[-2]] or "") for r in rows}


async def test_round_export_sends_the_compiled_round(tmp_path: Path) -> None:
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
        text = document_text(sent.document or b"")
        assert "《2024 年知识产权强国建设推进计划》\n上半年汇总" in text
        assert "已完成修订" in text and "未报送" in text
        await bot.ask(admin, admin_dm, "/lang en")
        (sent,) = await bot.say(admin, admin_dm, "/round export excel")
        assert sent.filename == "round-1-20261123.xlsx"
        workbook = load_workbook(io.BytesIO(sent.document or b""))
        assert workbook.worksheets[0].title != "汇总", "the English workbook"
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
    tmp_path: Path, plan: Plan, monkeypatch: pytest.MonkeyPatch,
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
    last = document_text((tmp_path / "last.docx").read_bytes())
    assert "第 2 轮的报送" in last and "第 1 轮的报送" not in last
    assert main(["round", "export", "--round", "1", "--lang", "en", "-o", "first.xlsx"]) == 0
    first = load_workbook(tmp_path / "first.xlsx")
    texts = [c.value for row in first.worksheets[1].iter_rows() for c in row]
    assert "第 1 轮的报送" in texts and "第 2 轮的报送" not in texts
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
