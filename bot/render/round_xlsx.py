"""The compiled round as a workbook (openpyxl), for the office to sort and filter.

A summary sheet (the title, the round's dates, each department's owed / on time / late /
missing, worst first) and a statements sheet with one row per task and department named on
it. Bold header that stays in view, filters, wrapped text; text that Excel would run as a
formula stays text, as in the task export (``bot/export.py``). Equal rounds give equal bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.i18n import Language
from bot.plan import Plan
from bot.render.round_document import (
    clean,
    department,
    document_title,
    last_change,
    local_minute,
    overview,
    parts,
    round_dates,
    section_heading,
    slots,
    word,
)
from bot.round_report import CompiledRound

if TYPE_CHECKING:  # openpyxl is imported when a workbook is made, not at the bot's start
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

UTC = ZoneInfo("UTC")
Value = str | int | datetime | None
SUMMARY = ("col.index", "col.dept", "col.owed", "col.on_time", "col.late", "col.missing")
SUMMARY_WIDTHS = (7, 26, 10, 11, 11, 10)
STATEMENTS = (
    "col.number", "col.section", "col.subsection", "col.text", "col.dept", "col.role",
    "col.status", "col.when", "col.author", "col.statement", "col.file",
)  # fmt: skip
STATEMENT_WIDTHS = (8, 18, 20, 40, 16, 7, 10, 18, 12, 60, 20)
"""Column widths in Excel's units (a CJK character takes about two)."""
WRAPPED = frozenset({"col.section", "col.subsection", "col.text", "col.statement", "col.file"})
TIME_FORMAT = "yyyy-mm-dd hh:mm"
TEXT_STYLE, WRAPPED_STYLE, TIME_STYLE = "Round text", "Round wrapped text", "Round time"
HEADER_ROW = 5
"""The summary's table starts below the title, the dates and the totals."""
RED = "C00000"
LINE_PT = 16
MAX_ROW_PT = 409
"""A line of 11-point text, and the tallest row Excel allows."""
FONT = "Calibri"
"""The workbook's own font (openpyxl's default): a font set on a cell names it again."""


def round_xlsx(
    compiled: CompiledRound, plan: Plan, *, lang: Language = "zh", zone: ZoneInfo
) -> bytes:
    """The round as an .xlsx: the summary sheet, then every statement (or 未报送) in a row."""
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet
    from openpyxl.writer.excel import ExcelWriter

    from bot.export import StampedZip, sheet_title

    workbook = Workbook()
    _cell_styles(workbook)
    taken: set[str] = set()
    summary = workbook.active
    assert isinstance(summary, Worksheet)
    summary.title = sheet_title(word(lang, "sheet.summary"), taken)
    title = document_title(compiled, lang)
    _summary(summary, compiled, plan, lang, zone, title)
    statements = workbook.create_sheet(sheet_title(word(lang, "sheet.statements"), taken))
    _statements(statements, compiled, plan, lang, zone)
    properties = workbook.properties
    properties.title = title
    properties.subject = clean(compiled.title)
    properties.creator = properties.lastModifiedBy = clean(compiled.plan_title)
    # Core properties are UTC (openpyxl writes them with a Z); the zip's stamps are local.
    properties.created = local_minute(compiled.opened_at, UTC)
    properties.modified = local_minute(last_change(compiled), UTC)
    properties.language = "zh-CN" if lang == "zh" else "en"
    buffer = io.BytesIO()
    with StampedZip(buffer, local_minute(last_change(compiled), zone)) as archive:
        ExcelWriter(workbook, archive).write_data()
    return buffer.getvalue()


def _summary(
    ws: Worksheet, compiled: CompiledRound, plan: Plan, lang: Language, zone: ZoneInfo,
    title: str,
) -> None:  # fmt: skip
    """Title, dates and totals on top; the departments below, under a header that stays."""
    from openpyxl.styles import Font

    ws.append([title])  # cleaned, as the dates are
    ws.append([round_dates(compiled, lang, zone)])
    ws.append([overview(compiled, lang)])
    ws["A1"].font = Font(name=FONT, bold=True, size=14)
    ws.row_dimensions[4].height = 6
    rows: list[Sequence[Value]] = [
        (i, department(plan, d.dept, lang), d.owed, d.on_time, d.late, d.missing)
        for i, d in enumerate(compiled.tally, start=1)
    ]
    header = [word(lang, key) for key in SUMMARY]
    _table(ws, header, rows, SUMMARY_WIDTHS, top=HEADER_ROW, wrap=[False] * len(SUMMARY))
    for cell in ws["F"][HEADER_ROW:]:
        if isinstance(cell.value, int) and cell.value > 0:
            cell.font = Font(name=FONT, bold=True, color=RED)
    numbers = ("owed", "on_time", "late", "missing")
    totals = [
        "",
        word(lang, "total"),
        *(sum(getattr(d, n) for d in compiled.tally) for n in numbers),
    ]
    for column, value in enumerate(totals, start=1):
        cell = ws.cell(row=HEADER_ROW + len(rows) + 1, column=column, value=value)
        cell.font = Font(name=FONT, bold=True)
    printed(ws, landscape=False, repeat=HEADER_ROW)


def _statements(
    ws: Worksheet, compiled: CompiledRound, plan: Plan, lang: Language, zone: ZoneInfo
) -> None:
    """One row per task and department named on it, in plan order, lead first."""
    from openpyxl.styles import Font

    rows: list[Sequence[Value]] = []
    for part in parts(compiled, plan):
        section = section_heading(part.section)
        subsection = part.heading or ""
        for task in part.tasks:
            for slot in slots(task):
                said = slot.statement
                rows.append(
                    (
                        task.number, section, subsection, task.text,
                        department(plan, slot.dept, lang), slot.role(lang), slot.status(lang),
                        local_minute(said.submitted_at, zone) if said else None,
                        said.author if said else "", said.text if said else "",
                        (said.file_name or "") if said else "",
                    )
                )  # fmt: skip
    header = [word(lang, key) for key in STATEMENTS]
    wrap = [key in WRAPPED for key in STATEMENTS]
    _table(ws, header, rows, STATEMENT_WIDTHS, top=1, wrap=wrap)
    late, missing = word(lang, "status.late"), word(lang, "status.missing")
    for cell in ws["G"][1:]:
        if cell.value in (late, missing):
            cell.font = Font(name=FONT, bold=True, color=RED)
    printed(ws, landscape=True, repeat=1)


def _lines(text: str, width: int) -> int:
    """How many lines the text takes in a column ``width`` wide. A CJK character (three bytes
    of UTF-8) counts two columns, an ASCII one (one byte) one: (bytes + characters) / 2."""
    per_line = max(1, width - 1)
    return sum(
        max(1, math.ceil((len(line.encode()) + len(line)) / 2 / per_line))
        for line in text.splitlines() or [""]
    )


def printed(ws: Worksheet, *, landscape: bool, repeat: int) -> None:
    """Printed on A4, as wide as the paper, the header row again on every page."""
    from openpyxl.worksheet.properties import PageSetupProperties

    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = f"{repeat}:{repeat}"


def _cell_styles(workbook: Workbook) -> None:
    """The workbook's styles for table cells, top-aligned: text, wrapped text, a time."""
    from openpyxl.styles import Alignment, Font, NamedStyle

    top, wrapped = Alignment(vertical="top"), Alignment(vertical="top", wrap_text=True)
    for name, alignment, number_format in (
        (TEXT_STYLE, top, "General"), (WRAPPED_STYLE, wrapped, "General"),
        (TIME_STYLE, top, TIME_FORMAT),
    ):  # fmt: skip
        style = NamedStyle(name=name, font=Font(name=FONT, size=11), alignment=alignment)
        style.number_format = number_format
        workbook.add_named_style(style)


def _table(
    ws: Worksheet, header: Sequence[str], rows: Sequence[Sequence[Value]],
    widths: Sequence[int], *, top: int, wrap: Sequence[bool],
) -> None:  # fmt: skip
    """A header at row ``top`` that is bold, stays in view and filters; rows below it, text
    wrapped where it is long, never run as a formula, dates as dates."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    for column, text in enumerate(header, start=1):
        ws.cell(row=top, column=column, value=text)
    for cell in ws[top]:
        cell.font = Font(name=FONT, bold=True)
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for row, raw in enumerate(rows, start=top + 1):
        values = [clean(value) if isinstance(value, str) else value for value in raw]
        lines = max(
            (_lines(value, width) for value, width, wraps in zip(values, widths, wrap, strict=True)
             if wraps and isinstance(value, str)),
            default=1,
        )  # fmt: skip
        if lines > 1:  # Excel and LibreOffice do not grow a row for wrapped text themselves
            ws.row_dimensions[row].height = min(MAX_ROW_PT, lines * LINE_PT)
        for column, (value, wraps) in enumerate(zip(values, wrap, strict=True), start=1):
            # by number: ws.max_row scans every cell, and asked once a row took a minute at 4,730
            cell = ws.cell(row=row, column=column, value=value)
            # a named style: setting alignment and format cell by cell took seconds at 4,730
            if isinstance(cell.value, datetime):
                cell.style = TIME_STYLE
            else:
                cell.style = WRAPPED_STYLE if wraps else TEXT_STYLE
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = f"A{top + 1}"
    ws.auto_filter.ref = f"A{top}:{get_column_letter(len(header))}{top + len(rows)}"
