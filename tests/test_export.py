"""The export: every task with its state as CSV or XLSX, by /export and by ``python -m bot export``."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree
from zipfile import ZipFile
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.export import (
    COLUMNS,
    ExportRow,
    defuse,
    headers,
    rows,
    section_name,
    sheet_title,
    to_csv,
    to_xlsx,
)
from bot.i18n import Language
from bot.plan import Plan
from storage import Storage
from storage.updates import Status
from tests.conftest import DATA, PLAN_YEAR, ROOT, FakeClock
from tests.harness import ADMIN_ID, Harness, running_bot

SHANGHAI = ZoneInfo("Asia/Shanghai")
MING, LAN, BO = 2, 3, 4
BOM = b"\xef\xbb\xbf"
TRICKY = 'Draft sent, "v2" to <b>NPC</b> &amp; more\nsecond line 🚀'
FORMULA = '=HYPERLINK("http://x", "click"), then -1'
COL = {name: i for i, name in enumerate(COLUMNS)}


async def seed(storage: Storage, clock: FakeClock) -> None:
    """A few updates: notes with commas, quotes, newlines, HTML, emoji and a formula."""
    await storage.users.seen(MING, full_name="Ming", username="ming", language="zh")
    await storage.users.seen(LAN, full_name="Lan 兰", username=None, language="zh")
    record = storage.updates.record
    await record(1, author_id=MING, dept="cnipa", chat_id=None, status=Status.IN_PROGRESS,
                 progress=40, note=TRICKY)  # fmt: skip
    clock.advance(hours=5)
    await record(1, author_id=MING, dept="cnipa", chat_id=None, progress=60)
    await record(9, author_id=LAN, dept="cpd", chat_id=None, note=FORMULA)
    clock.advance(days=2, minutes=7)
    await record(50, author_id=MING, dept=None, chat_id=None, status=Status.BLOCKED)
    await record(110, author_id=LAN, dept=None, chat_id=None, status=Status.DONE, note="完成")


def expected(lang: Language = "zh") -> dict[int, tuple[str, str, str, str]]:
    """What the seeded tasks show: status, progress, last note, its author (time checked apart)."""
    if lang == "en":
        return {
            1: (
                "in progress",
                "60",
                TRICKY,
                "Ming (China National Intellectual Property Administration)",
            )
        }
    return {
        1: ("进行中", "60", TRICKY, "Ming（国家知识产权局）"),
        9: ("未启动", "", FORMULA, "Lan 兰（中央宣传部）"),
        50: ("受阻", "", "", ""),
        110: ("已完成", "100", "完成", "Lan 兰"),  # done without a figure is 100%
    }


def pick(cells: list[str]) -> tuple[str, str, str, str]:
    """Status, progress, last note and its author, from a row of the file."""
    return cells[COL["status"]], cells[COL["progress"]], cells[COL["note"]], cells[COL["author"]]


def parse_csv(data: bytes) -> list[list[str]]:
    """The rows of an exported CSV, after checking what Excel needs: a BOM, CRLF line ends."""
    assert data.startswith(BOM), "Excel needs the BOM to read UTF-8"
    text = data[len(BOM) :].decode("utf-8")
    assert text.endswith("\r\n") and text.split("\r\n", 1)[0].startswith(("序号,", "No.,"))
    return list(csv.reader(io.StringIO(text, newline="")))


def undefuse(cell: str) -> str:
    return cell[1:] if cell.startswith("'=") else cell


def local(moment: datetime) -> str:
    return f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def sheet_rows(ws: Worksheet) -> list[list[object]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


# --- storage -----------------------------------------------------------------------------------


async def test_latest_notes_keeps_each_tasks_newest_note(
    storage: Storage, clock: FakeClock
) -> None:
    await storage.users.seen(MING, full_name="Ming", username="ming", language="zh")
    record = storage.updates.record
    await record(3, author_id=MING, dept="cnipa", chat_id=None, note="first")
    clock.advance(minutes=1)
    newest = await record(3, author_id=MING, dept="cnipa", chat_id=None, note="second, newer")
    await record(3, author_id=MING, dept="cnipa", chat_id=None, status=Status.DONE)
    await record(4, author_id=MING, dept="cnipa", chat_id=None, status=Status.DONE, note="")
    await record(5, author_id=MING, dept="cnipa", chat_id=None, progress=10)
    notes = await storage.updates.latest_notes()
    assert set(notes) == {3}
    assert notes[3] == newest.update
    assert notes[3].author_name == "Ming" and notes[3].note == "second, newer"


# --- rows, CSV, XLSX ---------------------------------------------------------------------------


async def test_rows_follow_the_plan_and_the_database(
    storage: Storage, clock: FakeClock, plan: Plan
) -> None:
    await seed(storage, clock)
    table = await rows(plan, storage, zone=SHANGHAI)
    assert [r.number for r in table] == list(range(1, len(plan.tasks) + 1)) == list(range(1, 111))
    states = await storage.updates.states()
    first = table[0]
    assert first.section == "一、完善知识产权制度"
    assert first.subsection == plan.section(1).subsections[0].title
    assert first.lead == "国家知识产权局"
    assert first.progress == 60
    assert first.updated == datetime.fromisoformat(local(states[1].updated_at))
    task9 = table[8]
    assert task9.participants == "国家知识产权局、中央宣传部等部门"  # the plan's 等部门
    by_duty = next(t for t in plan.tasks if t.by_duty)
    assert table[by_duty.number - 1].participants.endswith("（按职责分工负责）")
    no_subsection = next(t for t in plan.tasks if t.subsection is None)
    assert table[no_subsection.number - 1].subsection == ""
    quiet = table[1]
    assert (quiet.status, quiet.progress, quiet.updated, quiet.note, quiet.author) == (
        "未启动", None, None, "", ""
    )  # fmt: skip


async def test_csv_has_a_bom_crlf_and_parses_back_to_the_database(
    storage: Storage, clock: FakeClock, plan: Plan
) -> None:
    await seed(storage, clock)
    data = to_csv(await rows(plan, storage, zone=SHANGHAI), headers("zh"))
    parsed = parse_csv(data)
    assert len(parsed) == 111
    assert parsed[0] == headers("zh") and parsed[0][0] == "序号"
    assert all(len(line) == len(COLUMNS) for line in parsed)
    states = await storage.updates.states()
    by_number = {int(line[0]): line for line in parsed[1:]}
    assert sorted(by_number) == list(range(1, 111))
    for number, want in expected().items():
        line = by_number[number]
        assert pick([undefuse(c) for c in line]) == want, number
        assert line[COL["updated"]] == local(states[number].updated_at)
    assert by_number[9][COL["note"]] == "'" + FORMULA, "a formula is never live in Excel"
    for number, line in by_number.items():
        if number not in expected():
            assert line[COL["status"]] == "未启动"
            assert line[COL["progress"]] == line[COL["updated"]] == line[COL["note"]] == ""
        assert line[COL["text"]] == plan.task(number).text  # type: ignore[union-attr]


async def test_english_headers_labels_and_departments(
    storage: Storage, clock: FakeClock, plan: Plan
) -> None:
    await seed(storage, clock)
    parsed = parse_csv(to_csv(await rows(plan, storage, lang="en"), headers("en")))
    assert parsed[0][:3] == ["No.", "Section", "Subsection"]
    assert pick(parsed[1]) == expected("en")[1]
    assert parsed[1][COL["lead"]] == plan.department("cnipa").en
    assert parsed[9][COL["participants"]].endswith(" and other departments")


async def test_xlsx_has_every_task_and_a_sheet_per_section(
    storage: Storage, clock: FakeClock, plan: Plan
) -> None:
    await seed(storage, clock)
    table = await rows(plan, storage, zone=SHANGHAI)
    wb = load_workbook(io.BytesIO(to_xlsx(table, headers("zh"), plan)))
    sections = [section_name(plan, s.number) for s in plan.sections]
    assert wb.sheetnames == ["全部", *sections]
    counts = Counter(task.section for task in plan.tasks)
    assert [counts[s.number] for s in plan.sections] == [21, 32, 24, 9, 8, 10, 6]
    for section, name in zip(plan.sections, sections, strict=True):
        assert wb[name].max_row == counts[section.number] + 1, name
    states = await storage.updates.states()
    for ws in wb.worksheets:
        assert isinstance(ws, Worksheet)
        assert ws["A1"].font.bold and ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:N{ws.max_row}"
        assert ws.column_dimensions["D"].width > ws.column_dimensions["A"].width
        assert ws.cell(2, COL["note"] + 1).alignment.wrap_text
    everything = wb["全部"]
    assert isinstance(everything, Worksheet)
    values = sheet_rows(everything)
    assert values[0] == headers("zh") and len(values) == 111
    first = values[1]
    late = f"逾期 {(clock.now.astimezone(SHANGHAI).date() - date(PLAN_YEAR, 12, 31)).days} 天"
    assert first[: COL["text"]] == [1, "一、完善知识产权制度", table[0].subsection]
    assert first[COL["status"] :] == [
        "进行中", 60, datetime(2024, 12, 31), late, None,
        datetime.fromisoformat(local(states[1].updated_at)), TRICKY, "Ming（国家知识产权局）",
    ]  # fmt: skip
    assert everything.cell(2, COL["due"] + 1).number_format == "yyyy-mm-dd"
    formula = everything.cell(10, COL["note"] + 1)
    assert formula.value == FORMULA and formula.data_type == "s"
    assert values[2][COL["progress"] :] == [
        None, datetime(2024, 12, 31), late, None, None, None, None
    ]  # fmt: skip
    task110 = wb[sections[-1]]
    assert isinstance(task110, Worksheet)
    last = sheet_rows(task110)[-1]
    assert last[0] == 110 and last[COL["status"]] == "已完成"
    assert last[COL["time_left"]] is None, "a closed task is not late"
    assert last[COL["closed"]] == datetime.fromisoformat(local(states[110].updated_at))


async def test_xlsx_bytes_depend_only_on_the_data(
    storage: Storage, clock: FakeClock, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(storage, clock)
    table = await rows(plan, storage)
    first = to_xlsx(table, headers("zh"), plan)
    newest = max(r.updated for r in table if r.updated is not None)
    stamp = (newest.year, newest.month, newest.day, newest.hour, newest.minute, 0)
    archive = ZipFile(io.BytesIO(first))
    assert {info.date_time for info in archive.infolist()} == {stamp}, "not the time of writing"
    core = ElementTree.fromstring(archive.read("docProps/core.xml"))
    modified = core.find("{http://purl.org/dc/terms/}modified")
    assert modified is not None and modified.text == f"{newest:%Y-%m-%dT%H:%M}:00Z"
    later = time.time() + 86_400
    monkeypatch.setattr(time, "time", lambda: later)
    assert to_xlsx(table, headers("zh"), plan) == first


def test_control_characters_do_not_break_the_workbook(plan: Plan) -> None:
    row = ExportRow(
        1, "s", "", "t", "l", "", "受阻", None, date(2024, 12, 31), "", None, None,
        "bell\x07 and tab\tok", "a",
    )  # fmt: skip
    wb = load_workbook(io.BytesIO(to_xlsx([row], headers("zh"), plan)))
    assert wb["全部"].cell(2, COL["note"] + 1).value == "bell and tab\tok"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("一、完善知识产权制度", "一、完善知识产权制度"),
        ("a/b\\c[d]:e*f?g", "abcdefg"),
        ("x" * 40, "x" * 31),
        ("", "-"),
    ],
)
def test_sheet_titles_are_what_excel_accepts(name: str, expected: str) -> None:
    assert sheet_title(name, set()) == expected


def test_sheet_titles_stay_unique() -> None:
    taken: set[str] = set()
    names = [sheet_title("y" * 40, taken) for _ in range(3)]
    assert names == ["y" * 31, "y" * 27 + " (2)", "y" * 27 + " (3)"]


def test_defuse_only_touches_formulas() -> None:
    assert defuse("=1+1") == "'=1+1"
    assert defuse("@cmd") == "'@cmd"
    assert defuse("进行中, 40%") == "进行中, 40%"


# --- /export through the fake Telegram ---------------------------------------------------------


@pytest.fixture
async def bot(tmp_path: Path):
    async with running_bot(tmp_path) as harness:
        yield harness
        assert harness.fake.rejections == [], "the bot sent something Telegram would refuse"


async def test_an_admin_gets_csv_and_xlsx_that_agree(bot: Harness) -> None:
    admin, dm = bot.user(ADMIN_ID, "Ada")
    note = 'a, b; "c" <i>d</i> & 🚀\nnext'
    answer = await bot.ask(admin, dm, f"/update 7 进行中 30% {note}")
    assert answer.startswith("已记录：任务 7")

    (sent_csv,) = await bot.say(admin, dm, "/export csv")
    assert sent_csv.document is not None and sent_csv.filename is not None
    assert sent_csv.filename.startswith("plan-2024-tasks-") and sent_csv.filename.endswith(".csv")
    assert sent_csv.caption is not None and "110 项任务" in sent_csv.caption
    parsed = parse_csv(sent_csv.document)
    assert len(parsed) == 111
    assert pick(parsed[7]) == ("进行中", "30", note, "Ada")

    (sent_xlsx,) = await bot.say(admin, dm, "/export")
    assert sent_xlsx.filename is not None and sent_xlsx.filename.endswith(".xlsx")
    assert sent_xlsx.document is not None and sent_xlsx.document.startswith(b"PK")
    ws = load_workbook(io.BytesIO(sent_xlsx.document))["全部"]
    assert isinstance(ws, Worksheet)
    as_text = [
        ["" if v is None else (f"{v:%Y-%m-%d}" if i == COL["due"] else f"{v:%Y-%m-%d %H:%M}")
         if isinstance(v, datetime) else str(v) for i, v in enumerate(line)]
        for line in sheet_rows(ws)
    ]  # fmt: skip
    assert as_text == parsed


async def test_others_are_refused_and_bad_formats_get_the_usage(bot: Harness) -> None:
    admin, dm = bot.user(ADMIN_ID, "Ada")
    bo, bo_dm = bot.user(BO, "Bo")
    replies = await bot.say(bo, bo_dm, "/export")
    assert [m.text for m in replies] == ["只有管理员可以这样做。"]
    assert all(m.document is None for m in replies)
    assert await bot.ask(bo, bo_dm, "/export pdf") == "只有管理员可以这样做。"
    usage = await bot.say(admin, dm, "/export pdf")
    assert [m.text for m in usage] == [
        "用法：/export [xlsx|csv] [年份]，例如 /export、/export csv 或 /export xlsx 2024"
    ]
    assert "/export" in await bot.ask(admin, dm, "/help")
    assert "/export" not in await bot.ask(bo, bo_dm, "/help")


# --- python -m bot export ----------------------------------------------------------------------


def run_cli(
    database: Path, *args: str, command: str = "export"
) -> subprocess.CompletedProcess[str]:
    """``python -m bot <command> ...`` on ``database``, with no token in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        TASKS_FILE=str(DATA / "tasks.json"),
        PYTHONPATH=str(ROOT),
    )
    return subprocess.run(
        [sys.executable, "-m", "bot", command, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_command_line_writes_the_file(tmp_path: Path, plan: Plan) -> None:
    database = tmp_path / "bot.db"

    async def prepare() -> None:
        clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
        store = Storage(database, clock=clock)
        await store.open(plan_year=PLAN_YEAR)
        try:
            await seed(store, clock)
        finally:
            await store.close()

    asyncio.run(prepare())
    out = tmp_path / "out.csv"
    done = run_cli(database, "--format", "csv", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [done.stdout.strip()]
    assert done.stdout.startswith(f"wrote {out}: 110 tasks, csv")
    parsed = parse_csv(out.read_bytes())
    assert len(parsed) == 111 and pick(parsed[1]) == expected()[1]

    book = tmp_path / "out.xlsx"
    done = run_cli(database, "-o", str(book), "--lang", "en")
    assert done.returncode == 0, done.stderr
    assert load_workbook(book).sheetnames[0] == "All"


@pytest.mark.parametrize("command", ["export", "scorecard"])
@pytest.mark.parametrize(
    ("content", "says"), [(None, "error: no database at"), (b"garbage", "is not an SQLite")]
)
def test_the_command_line_without_a_database_says_so_in_one_line(
    tmp_path: Path, content: bytes | None, says: str, command: str
) -> None:
    database = tmp_path / "nowhere" / "bot.db"
    if content is not None:
        database.parent.mkdir()
        database.write_bytes(content)
    done = run_cli(database, "--format", "csv", "-o", str(tmp_path / "out.csv"), command=command)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert database.exists() is (content is not None), "it never creates a database"
    assert not (tmp_path / "out.csv").exists()
