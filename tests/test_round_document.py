"""The compiled round as the office reads it: the DOCX and the XLSX, read back with python-docx
and openpyxl, from a round built by hand on the committed plan."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from zipfile import ZipFile
from zoneinfo import ZoneInfo

import docx
import pytest
from docx.document import Document
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bench.rounds import tally
from bot.i18n import Language
from bot.plan import Plan
from bot.render.round_document import chinese_number, document_title
from bot.render.round_docx import round_docx
from bot.render.round_xlsx import round_xlsx
from bot.round_report import CompiledRound, Statement, TaskStatements
from tests.conftest import ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENED = datetime(2024, 6, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DUE = date(2024, 7, 15)
CLOSED = datetime(2024, 7, 20, 1, 30, tzinfo=UTC)
HOSTILE = "已完成 <b>&amp; 修改稿</b> & 报送"
FORMULA = "=1+1"
LONG = ("推进专利法实施细则配套规章修订，完成征求意见稿。" * 150)[:3000]
SECOND_LINE = "第一段\n第二段"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in July 2024, Shanghai time."""
    return datetime(2024, 7, day, hour, minute, tzinfo=SHANGHAI)


STATEMENTS = {
    # task 1: cnipa alone, on time, with text an HTML parser would choke on
    (1, "cnipa"): Statement("cnipa", "李伟", at(10, 16, 32), HOSTILE, None, False),
    # task 4: mara leads and is late with a file; nfga owes one and sent nothing
    (4, "mara"): Statement("mara", "Ming", at(16, 9, 5), SECOND_LINE, "进展材料.pdf", True),
    # task 7: natcm a formula, nhc 3,000 characters, cnipa only a document
    (7, "natcm"): Statement("natcm", "Wang", at(12, 8, 0), FORMULA, None, False),
    (7, "nhc"): Statement("nhc", "Zhao", at(14, 23, 59), LONG, None, False),
    (7, "cnipa"): Statement("cnipa", "李伟", at(13, 11, 0), "", "=cmd.xlsx", False),
}


def build(plan: Plan, statements: dict[tuple[int, str], Statement]) -> CompiledRound:
    tasks = tuple(
        TaskStatements(
            t.number, t.section, t.subsection, t.text, t.lead, t.participants,
            {code: s for (n, code), s in statements.items() if n == t.number},
        )
        for t in plan.tasks
    )  # fmt: skip
    return CompiledRound(
        round_id=1, title="2024 年上半年落实情况", plan_year=plan.year, plan_title=plan.title,
        opened_at=OPENED, due=DUE, closed_at=CLOSED, tasks=tasks, tally=tally(tasks, plan),
    )  # fmt: skip


@pytest.fixture(scope="module")
def compiled(plan: Plan) -> CompiledRound:
    return build(plan, STATEMENTS)


def read_docx(data: bytes) -> Document:
    return docx.Document(io.BytesIO(data))


def blocks(document: Document) -> Iterator[Paragraph | Table]:
    yield from document.iter_inner_content()


def task_tables(document: Document) -> dict[int, tuple[list[str], Table]]:
    """Each task's heading number → the paragraphs under it and its statements table."""
    found: dict[int, tuple[list[str], Table]] = {}
    number: int | None = None
    lines: list[str] = []
    for block in blocks(document):
        if isinstance(block, Paragraph):
            name = block.style.name if block.style else ""
            if name == "Heading 3":
                number = int(block.text.split()[-1])
                lines = []
            elif number is not None:
                lines.append(block.text)
        elif number is not None:
            found[number] = (lines, block)
            number = None
    return found


def rows(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


# --- DOCX ---------------------------------------------------------------------------------------


def test_the_docx_opens_with_the_title_the_dates_and_the_totals(
    compiled: CompiledRound, plan: Plan
) -> None:
    document = read_docx(round_docx(compiled, plan, zone=SHANGHAI))
    title, dates, totals = document.paragraphs[:3]
    assert title.style is not None and title.style.name == "Title"
    assert title.text == "《2024 年知识产权强国建设推进计划》\n上半年落实情况汇总"
    assert dates.text == "发起：2024年6月20日　截止：2024年7月15日　结束：2024年7月20日"
    assert totals.text == "43 个部门应报送 230 项：按时 4 项，逾期 1 项，未报送 225 项。"
    assert document.core_properties.title == "《2024 年知识产权强国建设推进计划》上半年落实情况汇总"


def test_the_summary_table_lists_every_department_worst_first(
    compiled: CompiledRound, plan: Plan
) -> None:
    document = read_docx(round_docx(compiled, plan, zone=SHANGHAI))
    heading = document.paragraphs[3]
    assert heading.text == "各部门报送情况" and heading.style is not None
    assert heading.style.name == "Heading 1"
    table = rows(document.tables[0])
    assert table[0] == ["序号", "部门", "应报送", "按时报送", "逾期报送", "未报送"]
    assert len(table) == 1 + 43 + 1
    assert table[1] == ["1", "国家知识产权局", "48", "2", "0", "46"]
    assert table[-1] == ["", "合计", "230", "4", "1", "225"]
    assert [r[1] for r in table[1:-1]] == [plan.department(d.dept).name for d in compiled.tally]
    mara = next(r for r in table if r[1] == "农业农村部")
    assert mara[2:] == [
        str(len(plan.tasks_of("mara"))),
        "0",
        "1",
        str(len(plan.tasks_of("mara")) - 1),
    ]


def test_every_task_is_under_its_section_and_subsection_with_a_row_per_department(
    compiled: CompiledRound, plan: Plan
) -> None:
    document = read_docx(round_docx(compiled, plan, zone=SHANGHAI))
    headings = [
        (p.style.name, p.text)
        for p in document.paragraphs
        if p.style is not None and p.style.name in ("Heading 1", "Heading 2")
    ]
    expected = [("Heading 1", "各部门报送情况")]
    for section in plan.sections:
        expected.append(("Heading 1", f"{section.numeral}、{section.title}"))
        expected += [
            ("Heading 2", f"（{chinese_number(s.number)}）{s.title}") for s in section.subsections
        ]
    assert headings == expected
    assert expected[2] == ("Heading 2", "（一）完善知识产权法律法规规章")
    tables = task_tables(document)
    assert list(tables) == [t.number for t in plan.tasks]
    for task in plan.tasks:
        lines, table = tables[task.number]
        assert lines[0] == task.text
        assert lines[1].startswith(f"牵头部门：{plan.department(task.lead).name}")
        got = rows(table)
        assert got[0] == ["部门", "报送时间", "报送内容"]
        assert [r[0].split("\n")[0] for r in got[1:]] == [
            plan.department(code).name for code in task.departments
        ]
        assert [r[0].split("\n")[1] for r in got[1:]] == ["牵头"] + ["参与"] * len(
            task.participants
        )
    assert tables[4][0][1] == "牵头部门：农业农村部；参与部门：国家林草局"
    assert tables[9][0][1].endswith("参与部门：国家知识产权局、中央宣传部等部门")


def test_each_statement_shows_its_department_date_text_late_mark_and_file(
    compiled: CompiledRound, plan: Plan
) -> None:
    tables = task_tables(read_docx(round_docx(compiled, plan, zone=SHANGHAI)))
    [_, cnipa] = rows(tables[1][1])
    assert cnipa == ["国家知识产权局\n牵头", "2024-07-10 16:32\n李伟", HOSTILE]
    [_, mara, nfga] = rows(tables[4][1])
    assert mara == [
        "农业农村部\n牵头",
        "2024-07-16 09:05\nMing\n逾期报送",
        f"{SECOND_LINE}\n附件：进展材料.pdf",
    ]
    assert nfga == ["国家林草局\n参与", "—", "未报送"]
    said = tables[4][1].rows[1].cells[2].paragraphs
    # a paragraph per line: a justified line ending in a break would be stretched across
    assert [p.text for p in said] == ["第一段", "第二段", "附件：进展材料.pdf"]
    [_, natcm, nhc, cnipa7] = rows(tables[7][1])
    assert natcm[2] == FORMULA
    assert nhc[1] == "2024-07-14 23:59\nZhao"
    assert nhc[2] == LONG and len(nhc[2]) == 3000
    assert cnipa7[2] == "附件：=cmd.xlsx"
    assert rows(tables[110][1])[1][2] == "未报送"


def test_the_docx_in_english(compiled: CompiledRound, plan: Plan) -> None:
    document = read_docx(round_docx(compiled, plan, lang="en", zone=SHANGHAI))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "《2024 年知识产权强国建设推进计划》\n上半年落实情况: compiled statements"
    assert texts[1] == "Opened 2024-06-20 · due 2024-07-15 · closed 2024-07-20"
    assert texts[2] == "43 departments owe 230 statements: 4 on time, 1 late, 225 missing."
    assert texts[3] == "Statements by department"
    assert rows(document.tables[0])[0] == [
        "No.",
        "Department",
        "Owed",
        "On time",
        "Late",
        "Missing",
    ]
    assert rows(document.tables[0])[1][1] == "China National Intellectual Property Administration"
    assert "Task 4" in texts
    tables = task_tables(document)
    assert tables[4][0][1] == (
        "Lead: Ministry of Agriculture and Rural Affairs; "
        "Participating: National Forestry and Grassland Administration"
    )
    [header, mara, nfga] = rows(tables[4][1])
    assert header == ["Department", "Submitted", "Statement"]
    assert mara[0] == "Ministry of Agriculture and Rural Affairs\nlead"
    assert mara[1].endswith("\nlate") and mara[2].endswith("\nFile: 进展材料.pdf")
    assert nfga[1:] == ["—", "not submitted"]


def test_a_round_still_open_says_so(compiled: CompiledRound, plan: Plan) -> None:
    still = replace(compiled, closed_at=None)
    assert read_docx(round_docx(still, plan, zone=SHANGHAI)).paragraphs[1].text == (
        "发起：2024年6月20日　截止：2024年7月15日　尚未结束"
    )


def test_chinese_is_set_in_a_cjk_font_on_a4_with_page_numbers(
    compiled: CompiledRound, plan: Plan
) -> None:
    data = round_docx(compiled, plan, zone=SHANGHAI)
    document = read_docx(data)
    for name, east_asian in (("Normal", "Noto Serif CJK SC"), ("Title", "Noto Sans CJK SC"),
                             ("Heading 1", "Noto Sans CJK SC"), ("Heading 3", "Noto Sans CJK SC")):  # fmt: skip
        rfonts = document.styles[name].element.rPr.rFonts
        assert rfonts.get(qn("w:eastAsia")) == east_asian, name
        assert rfonts.get(qn("w:eastAsiaTheme")) is None, f"{name}: the theme's font would win"
    defaults = document.styles.element.find(qn("w:docDefaults"))
    assert defaults is not None
    language = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}/{qn('w:lang')}")
    assert language is not None and language.get(qn("w:eastAsia")) == "zh-CN"
    with ZipFile(io.BytesIO(data)) as package:
        fonts = package.read("word/fontTable.xml").decode()
        names = package.namelist()
    assert 'w:name="Noto Serif CJK SC"><w:altName w:val="宋体"/>' in fonts
    assert 'w:charset w:val="86"' in fonts
    assert "docProps/thumbnail.jpeg" not in names
    section = document.sections[0]
    assert section.page_width is not None and section.page_height is not None
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    footer = section.footer.paragraphs[0]
    instructions = [e.text.strip() for e in footer._p.iter(qn("w:instrText"))]
    assert instructions == ["PAGE", "NUMPAGES"]
    assert footer.text == "第 1 页 / 共 1 页"
    summary = document.tables[0]
    assert summary.style is not None and summary.style.name == "Table Grid"
    header = summary.rows[0]._tr.trPr
    assert header is not None and header.find(qn("w:tblHeader")) is not None


def test_text_xml_cannot_hold_is_dropped_not_fatal(compiled: CompiledRound, plan: Plan) -> None:
    broken = Statement("cnipa", "x\x00", at(10, 8), "a\x00b\x1bc\ud800d\ufffe", "f\x07.pdf", False)
    round_ = build(plan, {(1, "cnipa"): broken})
    [_, cnipa] = rows(task_tables(read_docx(round_docx(round_, plan, zone=SHANGHAI)))[1][1])
    assert cnipa[2] == "abcd\n附件：f.pdf"
    statements = load_workbook(io.BytesIO(round_xlsx(round_, plan, zone=SHANGHAI)))["报送明细"]
    assert statements["J2"].value == "abcd" and statements["K2"].value == "f.pdf"


def test_equal_rounds_give_equal_bytes_whatever_the_clock(
    compiled: CompiledRound, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = round_docx(compiled, plan, zone=SHANGHAI), round_xlsx(compiled, plan, zone=SHANGHAI)
    monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0)  # zip stamps come from here
    later = round_docx(compiled, plan, zone=SHANGHAI), round_xlsx(compiled, plan, zone=SHANGHAI)
    assert first == later
    for data in first:
        with ZipFile(io.BytesIO(data)) as package:
            assert {info.date_time for info in package.infolist()} == {(2024, 7, 20, 9, 30, 0)}
    assert read_docx(first[0]).core_properties.created == OPENED
    workbook = load_workbook(io.BytesIO(first[1]))
    assert workbook.properties.created == OPENED.replace(tzinfo=None)  # openpyxl: naive UTC
    assert workbook.properties.modified == CLOSED.replace(tzinfo=None)
    other = replace(compiled, title="2024 年全年落实情况")
    assert round_docx(other, plan, zone=SHANGHAI) != first[0]


# --- XLSX ---------------------------------------------------------------------------------------


def sheets(data: bytes) -> tuple[Worksheet, Worksheet]:
    workbook = load_workbook(io.BytesIO(data))
    summary, statements = workbook.worksheets
    assert isinstance(summary, Worksheet) and isinstance(statements, Worksheet)
    return summary, statements


def values(ws: Worksheet, row: int) -> list[object]:
    return [cell.value for cell in ws[row]]


def test_the_workbook_has_a_summary_and_a_statements_sheet(
    compiled: CompiledRound, plan: Plan
) -> None:
    data = round_xlsx(compiled, plan, zone=SHANGHAI)
    summary, statements = sheets(data)
    assert (summary.title, statements.title) == ("汇总", "报送明细")
    assert summary["A1"].value == "《2024 年知识产权强国建设推进计划》上半年落实情况汇总"
    assert summary["A2"].value == "发起：2024年6月20日　截止：2024年7月15日　结束：2024年7月20日"
    assert values(summary, 5) == ["序号", "部门", "应报送", "按时报送", "逾期报送", "未报送"]
    assert values(summary, 6) == [1, "国家知识产权局", 48, 2, 0, 46]
    assert values(summary, 6 + 43) == [None, "合计", 230, 4, 1, 225]
    assert summary.freeze_panes == "A6" and summary.auto_filter.ref == "A5:F48"
    assert all(cell.font.bold for cell in summary[5])
    assert values(statements, 1) == [
        "任务序号", "部分", "分项", "任务", "部门", "角色", "状态", "报送时间", "报送人", "报送内容", "附件",
    ]  # fmt: skip
    assert statements.max_row == 1 + 230
    assert statements.freeze_panes == "A2" and statements.auto_filter.ref == "A1:K231"
    assert all(cell.font.bold for cell in statements[1])


def test_each_slot_is_a_row_with_its_status(compiled: CompiledRound, plan: Plan) -> None:
    _, statements = sheets(round_xlsx(compiled, plan, zone=SHANGHAI))
    by_slot = {(row[0], row[4]): row for row in statements.iter_rows(min_row=2, values_only=True)}
    assert len(by_slot) == 230
    assert by_slot[(1, "国家知识产权局")] == (
        1, "一、完善知识产权制度", "（一）完善知识产权法律法规规章", plan.task(1).text,  # type: ignore[union-attr]
        "国家知识产权局", "牵头", "按时报送", datetime(2024, 7, 10, 16, 32), "李伟", HOSTILE, None,
    )  # fmt: skip
    mara = by_slot[(4, "农业农村部")]
    assert mara[5:] == (
        "牵头",
        "逾期报送",
        datetime(2024, 7, 16, 9, 5),
        "Ming",
        SECOND_LINE,
        "进展材料.pdf",
    )
    assert by_slot[(4, "国家林草局")][5:] == ("参与", "未报送", None, None, None, None)
    assert by_slot[(7, "国家卫生健康委")][9] == LONG
    assert by_slot[(110, "联席会议办公室")][1:3] == ("七、加强组织保障", None)


def test_text_that_looks_like_a_formula_stays_text(compiled: CompiledRound, plan: Plan) -> None:
    data = round_xlsx(compiled, plan, zone=SHANGHAI)
    _, statements = sheets(data)
    formula = next(row for row in statements.iter_rows(min_row=2) if row[9].value == FORMULA)
    assert formula[9].data_type == "s"
    file_only = next(row for row in statements.iter_rows(min_row=2) if row[10].value == "=cmd.xlsx")
    assert file_only[10].data_type == "s"
    with ZipFile(io.BytesIO(data)) as package:
        assert "<f>" not in package.read("xl/worksheets/sheet2.xml").decode()


def test_the_workbook_in_english(compiled: CompiledRound, plan: Plan) -> None:
    summary, statements = sheets(round_xlsx(compiled, plan, lang="en", zone=SHANGHAI))
    assert (summary.title, statements.title) == ("Summary", "Statements")
    assert values(summary, 5) == ["No.", "Department", "Owed", "On time", "Late", "Missing"]
    rows_ = list(statements.iter_rows(min_row=2, values_only=True))
    assert rows_[0][4:7] == (
        "China National Intellectual Property Administration",
        "lead",
        "on time",
    )
    nfga = next(r for r in rows_ if r[0] == 4 and r[5] == "participant")
    assert nfga[6] == "not submitted"


# --- the words, and where the libraries are imported ---------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("2024 年上半年落实情况", "《P》上半年落实情况汇总"),
        ("2024年全年落实情况汇总", "《P》全年落实情况汇总"),
        ("第三季度", "《P》第三季度汇总"),
        ("2024 年", "《P》报送情况汇总"),
    ],
)
def test_the_title_names_the_plan_then_the_round(title: str, expected: str, plan: Plan) -> None:
    round_ = replace(build(plan, {}), title=title, plan_title="P")
    assert document_title(round_, "zh") == expected


@pytest.mark.parametrize(
    ("number", "numeral"),
    [(1, "一"), (3, "三"), (10, "十"), (12, "十二"), (20, "二十"), (31, "三十一")],
)
def test_subsections_are_numbered_as_the_plan_numbers_them(number: int, numeral: str) -> None:
    assert chinese_number(number) == numeral


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_renderers_work_on_an_empty_round(plan: Plan, lang: Language) -> None:
    round_ = build(plan, {})
    tables = task_tables(read_docx(round_docx(round_, plan, lang=lang, zone=SHANGHAI)))
    assert len(tables) == len(plan.tasks)
    _, statements = sheets(round_xlsx(round_, plan, lang=lang, zone=SHANGHAI))
    assert statements.max_row == 231


def test_office_libraries_are_imported_when_a_document_is_made_not_before() -> None:
    code = (
        "import sys, bot.render.round_docx, bot.render.round_xlsx, bot.app; "
        "print(sorted(m for m in ('docx', 'openpyxl', 'lxml') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
