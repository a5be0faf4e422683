"""The scorecard as a file the office opens in Excel: ``python -m bot scorecard``.

One row per department, worst first, in the columns /scorecard shows; the last report as the
local minute and as days since; the round's columns empty where there is no round or nothing
owed. CSV is UTF-8 with a BOM and CRLF; XLSX has a title line (the plan, the round, when it was
made) above a bold header that stays in view and filters, as the task export does
(``bot/export.py``), whose conventions (formulas defused, equal data equal bytes) it shares.
Only the command line imports it (openpyxl is large): the bot's /scorecard is text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from bot.export import (
    XLSX_TIME_FORMAT,
    Cell,
    StampedZip,
    as_text,
    clean_cell,
    defuse,
    local_minute,
    sheet_title,
)
from bot.i18n import Language, plain, t
from bot.plan import Plan
from bot.render.round_xlsx import printed
from bot.scorecard import Format, Scorecard, ScoreRow

COLUMNS = (
    "rank", "code", "dept", "led", "closed", "awaiting", "overdue", "blocked", "last_report",
    "days", "owed", "on_time", "late", "missing",
)  # fmt: skip
WIDTHS = (7, 10, 30, 9, 9, 9, 9, 9, 17, 9, 10, 10, 10, 10)
"""Column widths in Excel's units (a CJK character takes about two)."""


def headers(lang: Language) -> list[str]:
    return [plain(t(lang, f"scorecard.col.{name}")) for name in COLUMNS]


def cells(row: ScoreRow, plan: Plan, lang: Language, now: datetime, zone: ZoneInfo) -> list[Cell]:
    """A department's values in column order; no report, or no round, leaves cells empty."""
    reported = row.last_report
    tally = row.statements
    return [
        row.rank, row.dept, plan.department(row.dept).display(lang), row.led, row.closed,
        row.awaiting, row.overdue, row.blocked,
        None if reported is None else local_minute(reported, zone),
        None if reported is None else (now - reported).days,
        None if tally is None else tally.owed,
        None if tally is None else tally.on_time,
        None if tally is None else tally.late,
        None if tally is None else tally.missing,
    ]  # fmt: skip


def table(
    card: Scorecard, plan: Plan, lang: Language, now: datetime, zone: ZoneInfo
) -> list[list[Cell]]:
    return [cells(row, plan, lang, now, zone) for row in card.rows]


def title(card: Scorecard, plan: Plan, lang: Language, now: datetime, zone: ZoneInfo) -> str:
    """'各部门成绩单 · 2024 年… · 报送《…》（截止 …，进行中）· 生成于 2026-11-23 10:00'."""
    round_ = card.round
    if round_ is None:
        which = t(lang, "scorecard.file_no_round")
    else:
        state = t(lang, "scorecard.round_open" if round_.is_open else "scorecard.round_closed")
        which = t(
            lang, "scorecard.file_round", title=round_.title, due=round_.due.isoformat(),
            state=state,
        )  # fmt: skip
    made = f"{now.astimezone(zone):%Y-%m-%d %H:%M}"
    return plain(t(lang, "scorecard.file_title", plan=plan.title, round=which, made=made), 1000)


def to_csv(rows: Sequence[Sequence[Cell]], header: Sequence[str]) -> bytes:
    """UTF-8 with a BOM and CRLF: Excel then opens the Chinese text as Chinese."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows([defuse(as_text(cell)) for cell in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(
    rows: Sequence[Sequence[Cell]], header: Sequence[str], heading: str, sheet: str, made: datetime
) -> bytes:
    """One sheet: the heading, then the table with its header frozen and filtered."""
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = sheet_title(sheet, set())
    ws.append([clean_cell(heading)])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(list(header))
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for values in rows:
        ws.append([clean_cell(value) for value in values])
        for name, cell in zip(COLUMNS, ws[ws.max_row], strict=True):
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            elif name == "last_report":
                cell.number_format = XLSX_TIME_FORMAT
    for i, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A3"
    printed(ws, landscape=True, repeat=2)
    ws.auto_filter.ref = f"A2:{get_column_letter(len(COLUMNS))}{len(rows) + 2}"
    stamp = made.replace(tzinfo=None, second=0, microsecond=0)
    wb.properties.created = wb.properties.modified = stamp
    wb.properties.creator = wb.properties.lastModifiedBy = sheet
    buffer = io.BytesIO()
    with StampedZip(buffer, stamp) as archive:
        ExcelWriter(wb, archive).write_data()
    return buffer.getvalue()


def scorecard_file(
    card: Scorecard, plan: Plan, *, fmt: Format, lang: Language, now: datetime, zone: ZoneInfo
) -> bytes:
    """The file's bytes (CPU-bound: a caller on an event loop runs it in a thread)."""
    rows, header = table(card, plan, lang, now, zone), headers(lang)
    if fmt == "csv":
        return to_csv(rows, header)
    sheet = plain(t(lang, "scorecard.sheet"))
    made = now.astimezone(zone)
    return to_xlsx(rows, header, title(card, plan, lang, now, zone), sheet, made)
