"""The scorecard: its order (worst first, as the README defines it), what it reads from the
database, its pages within Telegram's limits, the digest's worst rows, and its file from the
command line."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot import callbacks
from bot.i18n import LANGUAGES, Language
from bot.plan import Plan
from bot.plan_years import index_plan
from bot.render.scorecard import PER_PAGE, scorecard_page, worst_rows
from bot.render.text import MESSAGE_LIMIT, units
from bot.round_report import DepartmentTally
from bot.rounds import deadline, owed_statements
from bot.scorecard import Scorecard, ScoreRow, scorecard, worst_first
from storage import Storage
from storage.closures import DoneRule
from storage.people import WHOLE_PLAN
from storage.updates import Status
from tests.conftest import PLAN_YEAR, FakeClock
from tests.test_export import run_cli as export_cli

MING, LAN = 2, 3
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def row(dept: str, **fields: object) -> ScoreRow:
    values: dict[str, object] = {
        "rank": 0, "dept": dept, "led": 3, "closed": 0, "awaiting": 0, "overdue": 0,
        "blocked": 0, "last_report": NOW, "statements": None,
    }  # fmt: skip
    return ScoreRow(**(values | fields))  # type: ignore[arg-type]


def tally(dept: str, owed: int, on_time: int, late: int) -> DepartmentTally:
    return DepartmentTally(dept, owed, on_time, late, owed - on_time - late)


def order(rows: list[ScoreRow], plan: Plan) -> list[str]:
    return [r.dept for r in worst_first(rows, plan)]


def test_worst_first_follows_each_rule_in_turn(plan: Plan) -> None:
    # cnipa, cpd, samr, mara… is the plan's order: a tie keeps it.
    assert order([row("samr"), row("cpd"), row("cnipa")], plan) == ["cnipa", "cpd", "samr"]
    # An overdue task outweighs everything after it: missing statements, blocked, silence.
    worse_otherwise = row("cnipa", blocked=9, last_report=None, statements=tally("cnipa", 48, 0, 0))
    assert order([worse_otherwise, row("samr", overdue=1)], plan) == ["samr", "cnipa"]
    assert order([row("cnipa", overdue=1), row("samr", overdue=2)], plan) == ["samr", "cnipa"]
    # Then the statements missing in the round (late ones are not missing).
    late = row("cnipa", statements=tally("cnipa", 10, 0, 10), blocked=5)
    assert order([late, row("samr", statements=tally("samr", 2, 1, 0))], plan) == ["samr", "cnipa"]
    # Then blocked tasks.
    assert order([row("cnipa", last_report=None), row("samr", blocked=1)], plan) == [
        "samr",
        "cnipa",
    ]
    # Then the last report: never, then the oldest.
    old, older = NOW - timedelta(days=3), NOW - timedelta(days=30)
    rows = [
        row("cnipa", last_report=old),
        row("cpd", last_report=older),
        row("samr", last_report=None),
    ]
    assert order(rows, plan) == ["samr", "cpd", "cnipa"]
    # Then the fewest closed.
    assert order([row("cnipa", closed=5), row("samr", closed=1)], plan) == ["samr", "cnipa"]
    ranked = worst_first([row("samr"), row("cnipa", overdue=1)], plan)
    assert [(r.rank, r.dept) for r in ranked] == [(1, "cnipa"), (2, "samr")]


async def test_the_scorecard_reads_states_due_dates_reports_and_the_round(
    storage: Storage, clock: FakeClock, plan: Plan
) -> None:
    await index_plan(storage, plan)
    for user_id, name in ((1, "Ada"), (MING, "Ming"), (LAN, "Lan")):
        await storage.users.seen(user_id, full_name=name)
    today = clock.now.astimezone(SHANGHAI).date()
    led = [task.number for task in plan.tasks_of("cnipa", lead_only=True)]
    everything = {task.number: task.departments for task in plan.tasks}
    await storage.due.change(
        everything, date(2026, 12, 31), default=date(2024, 12, 31), by=1, chat_id=None
    )
    await storage.due.change(
        {12: ("cpd",)}, today - timedelta(days=1), default=date(2024, 12, 31), by=1, chat_id=None
    )
    record = storage.updates.record
    await record(led[0], author_id=MING, dept="cnipa", chat_id=None, status=Status.DONE)
    await record(led[1], author_id=MING, dept="cnipa", chat_id=None, status=Status.DONE,
                 done=DoneRule(closes=False))  # fmt: skip
    await record(led[2], author_id=MING, dept="cnipa", chat_id=None, status=Status.BLOCKED)
    # 工业和信息化部 leads nothing; its note is its last report all the same.
    miit_task = next(task for task in plan.tasks if "miit" in task.participants)
    await record(miit_task.number, author_id=LAN, dept="miit", chat_id=None, note="参与")

    card = await scorecard(storage, plan, today=today)
    assert card.round is None and card.plan_year == PLAN_YEAR
    assert len(card.rows) == 43, "every department named on a task, leading or taking part"
    by_dept = {r.dept: r for r in card.rows}
    assert card.rows[0].dept == "cpd" and card.rows[0].overdue == 1 and card.rows[0].rank == 1
    assert all(r.overdue == 0 for r in card.rows[1:])
    cnipa = by_dept["cnipa"]
    assert (cnipa.led, cnipa.closed, cnipa.awaiting, cnipa.blocked) == (23, 1, 1, 1)
    assert cnipa.last_report == clock.now and cnipa.statements is None
    assert card.rows[1].dept == "cnipa", "blocked comes before the never reported"
    miit = by_dept["miit"]
    assert (miit.led, miit.last_report) == (0, clock.now)

    opened = await storage.rounds.open(
        "上半年", today + timedelta(days=2), opened_by=1, owed=owed_statements(plan)
    )
    due = deadline(opened.round.due, SHANGHAI)
    await storage.rounds.submit(
        opened.round.id, led[0], "cnipa", author_id=MING, text="已完成", document=None,
        chat_id=None, deadline=due,
    )  # fmt: skip
    clock.advance(days=3)  # past the due date: the next one is late
    await storage.rounds.submit(
        opened.round.id, led[1], "cnipa", author_id=MING, text="补报", document=None,
        chat_id=None, deadline=due,
    )  # fmt: skip
    card = await scorecard(storage, plan, today=today)
    assert card.round is not None and card.round.id == opened.round.id
    cnipa = next(r for r in card.rows if r.dept == "cnipa")
    assert cnipa.statements == DepartmentTally("cnipa", 48, 1, 1, 46)
    assert all(r.statements is not None for r in card.rows), "every department owes some"
    await storage.rounds.close(opened.round.id, by=1)
    closed = await scorecard(storage, plan, today=today)
    assert closed.round is not None and not closed.round.is_open, "the latest, once closed"
    assert closed.rows == card.rows

    earlier = await scorecard(storage, plan.model_copy(update={"year": PLAN_YEAR - 1}), today=today)
    assert earlier.round is None, "another year's round is not this plan's"


def full_card(plan: Plan) -> Scorecard:
    """Every department, the longest texts a row can have: counts in the thousands, a round."""
    rows = [
        row(d.code, led=1000 + i, closed=999, awaiting=999, overdue=999 - i, blocked=999,
            statements=tally(d.code, 9999, 3333, 3333))
        for i, d in enumerate(plan.departments)
    ]  # fmt: skip
    return Scorecard(PLAN_YEAR, None, tuple(worst_first(rows, plan)))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_fits_a_message_and_its_buttons_carry_the_scope(
    plan: Plan, lang: Language
) -> None:
    card = full_card(plan)
    pages = -(-len(card.rows) // PER_PAGE)
    seen = []
    for number in range(1, pages + 1):
        page = scorecard_page(
            card, plan, card.rows, scope=WHOLE_PLAN, page=number, now=NOW, lang=lang
        )
        assert units(page.text) <= MESSAGE_LIMIT
        assert (page.page, page.pages) == (number, pages)
        assert page.keyboard is not None
        data = [b.callback_data for r in page.keyboard.inline_keyboard for b in r]
        wanted = [callbacks.scorecard("*", n) for n in (number - 1, number + 1) if 1 <= n <= pages]
        assert data == wanted
        assert all(isinstance(d, str) and callbacks.fits(d) for d in data)
        shown = re.sub("<[^>]+>", "", page.text).splitlines()
        seen += [line for line in shown if line.split(".")[0].isdigit()]
    assert len(seen) == len(card.rows), "each department once, on one page"
    beyond = scorecard_page(card, plan, card.rows, scope=WHOLE_PLAN, page=99, now=NOW, lang=lang)
    assert beyond.page == pages, "a page out of range shows the last"
    one = scorecard_page(card, plan, card.of(["cnipa"]), scope="cnipa", page=1, now=NOW, lang=lang)
    assert one.keyboard is None and one.pages == 1


def test_callback_data_parse_back_and_forged_data_do_not() -> None:
    for scope in ("*", "u", "cnipa"):
        tap = callbacks.parse_scorecard(callbacks.scorecard(scope, 3))
        assert tap is not None and (tap.scope, tap.page) == (scope, 3)
    for forged in ("sc1:*:", "sc1:*:1000", "sc1:CNIPA:1", "sc1:x:1", "sc2:*:1", "sc1:*:1:2"):
        assert callbacks.parse_scorecard(forged) is None, forged


def test_the_digest_shows_the_five_worst_rows(plan: Plan) -> None:
    changed = {
        "gacc": {"overdue": 2, "blocked": 1},
        "nhc": {"last_report": None, "led": 0},
        "mof": {"statements": tally("mof", 4, 1, 1)},
    }
    rows = [
        row(d.code, **({"last_report": NOW - timedelta(days=2)} | changed.get(d.code, {})))
        for d in plan.departments
    ]
    card = Scorecard(PLAN_YEAR, None, tuple(worst_first(rows, plan)))
    lines = worst_rows(card, plan, now=NOW, lang="zh")
    assert lines[:2] == ["", "<b>成绩单：最需关注的 5 个部门</b>（全部：/scorecard）"]
    assert lines[2:] == [
        "1. 🔴 海关总署：逾期 2 · 未报送 — · 受阻 1 · 最近报告 2 天前 · 已销号 0/3",
        "2. 🟡 财政部：逾期 0 · 未报送 2 · 受阻 0 · 最近报告 2 天前 · 已销号 0/3",
        "3. 🟢 国家卫生健康委：逾期 0 · 未报送 — · 受阻 0 · 最近报告 从未报告 · 已销号 0/0",
        "4. 🟢 国家知识产权局：逾期 0 · 未报送 — · 受阻 0 · 最近报告 2 天前 · 已销号 0/3",
        "5. 🟢 中央宣传部：逾期 0 · 未报送 — · 受阻 0 · 最近报告 2 天前 · 已销号 0/3",
    ]
    english = worst_rows(card, plan, now=NOW, lang="en")
    assert english[2] == (
        "1. 🔴 General Administration of Customs: overdue 2 · missing — · blocked 1"
        " · last report 2 d ago · closed 0/3"
    )


# --- python -m bot scorecard -------------------------------------------------------------------


def run_cli(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return export_cli(database, *args, command="scorecard")


def seeded(database: Path, plan: Plan) -> None:
    """A database where 中央宣传部's task 12 is overdue (set long past: the command line runs on
    the machine's clock) and no other task falls due before 2099; 国家知识产权局 reported."""

    async def prepare() -> None:
        store = Storage(database)
        await store.open(plan_year=PLAN_YEAR)
        try:
            await store.users.seen(1, full_name="Ada")
            await store.users.seen(MING, full_name="Ming")
            everything = {task.number: task.departments for task in plan.tasks}
            default = date(2024, 12, 31)
            await store.due.change(
                everything, date(2099, 12, 31), default=default, by=1, chat_id=None
            )
            await store.due.change(
                {12: ("cpd",)}, date(2020, 1, 1), default=default, by=1, chat_id=None
            )
            await store.updates.record(1, author_id=MING, dept="cnipa", chat_id=None, note="草案")
            await store.rounds.open(
                "上半年", date(2099, 7, 15), opened_by=1, owed=owed_statements(plan)
            )
        finally:
            await store.close()

    asyncio.run(prepare())


def test_the_command_line_writes_csv_and_xlsx_that_read_back(tmp_path: Path, plan: Plan) -> None:
    database = tmp_path / "bot.db"
    seeded(database, plan)
    out = tmp_path / "card.csv"
    done = run_cli(database, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"wrote {out}: 43 departments of the 2024 plan, round 1 '上半年', csv, zh, "
        f"{out.stat().st_size:,} bytes"
    ]
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert table[0] == [
        "名次", "代码", "部门", "牵头任务", "已销号", "待销号", "逾期", "受阻", "最近报告",
        "距今天数", "本轮应报", "按时报送", "逾期报送", "未报送",
    ]  # fmt: skip
    assert len(table) == 44
    assert table[1][:8] == ["1", "cpd", "中央宣传部", "23", "0", "0", "1", "0"]
    assert table[1][8:10] == ["", ""] and table[1][10:] == ["29", "0", "0", "29"]
    cnipa = next(r for r in table if r[1] == "cnipa")
    assert cnipa[8] and cnipa[9] == "0" and cnipa[10:] == ["48", "0", "0", "48"]
    assert all(r[6] == "0" for r in table[2:]), "only 中央宣传部 has a task overdue"

    book = tmp_path / "card.xlsx"
    done = run_cli(database, "-o", str(book), "--lang", "en")
    assert done.returncode == 0, done.stderr
    assert "43 departments" in done.stdout and "xlsx, en" in done.stdout
    ws = load_workbook(book).active
    assert ws is not None and ws.title == "Scorecard"
    heading = str(ws["A1"].value)
    assert heading.startswith("Scorecard · ") and "round “上半年” (due 2099-07-15, open)" in heading
    assert [c.value for c in ws[2]][:3] == ["Place", "Code", "Department"]
    first = [c.value for c in ws[3]]
    assert first[:8] == [
        1,
        "cpd",
        "Publicity Department of the CPC Central Committee",
        23,
        0,
        0,
        1,
        0,
    ]
    assert ws.max_row == 2 + 43 and ws.freeze_panes == "A3" and ws.auto_filter.ref == "A2:N45"
    reported = next(r for r in ws.iter_rows(min_row=3, values_only=True) if r[1] == "cnipa")
    assert isinstance(reported[8], datetime) and reported[9] == 0
