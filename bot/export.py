"""Every task with its state, as a file the office opens in Excel: ``/export`` and the CLI.

One row per task: where it sits in the plan, who leads and joins, its status (done split into
closed and awaiting the office's confirmation) and progress, when it falls due and how many
days are left or over, when it was closed, when it last moved, and its latest note. CSV is UTF-8 with a BOM and CRLF (what Excel expects);
XLSX has a sheet with everything and one per section. Equal data gives equal bytes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from bot.config import Settings
from bot.due import moment
from bot.i18n import Language, plain, t
from bot.lights import SOON, days_left, is_overdue
from bot.plan import Plan, Task
from bot.plan_years import stored_years
from bot.render.tasks import Moment
from bot.statuses import stage_of
from storage import Storage
from storage.closures import ClosureEvent
from storage.files import unreadable
from storage.updates import StatusUpdate, TaskState

Format = Literal["csv", "xlsx"]
COLUMNS = (
    "number", "section", "subsection", "text", "lead", "participants",
    "status", "progress", "due", "time_left", "closed", "updated", "note", "author",
)  # fmt: skip
WIDTHS = (6, 24, 28, 60, 16, 32, 9, 9, 11, 10, 17, 17, 50, 20)
"""Column widths in Excel's units (a CJK character takes about two)."""
WRAPPED = frozenset({"text", "participants", "note"})
TIME_FORMAT = "%Y-%m-%d %H:%M"
XLSX_TIME_FORMAT = "yyyy-mm-dd hh:mm"
XLSX_DATE_FORMAT = "yyyy-mm-dd"
Cell = str | int | datetime | date | None
EPOCH = datetime(2000, 1, 1)
"""The file's timestamp when no task has been reported yet (zip cannot go before 1980)."""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting so is a formula to Excel: user text must never run as one."""
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31


class ExportError(Exception):
    """The database cannot be exported; the message says which and why, in one line."""


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One task as the file shows it, in column order."""

    number: int
    section: str
    subsection: str
    text: str
    lead: str
    participants: str
    status: str
    progress: int | None
    due: date
    time_left: str
    """Days left (within 14 days) or over, as words; empty otherwise and once closed."""
    closed: datetime | None
    """When the office confirmed it (or it was closed at once), local time."""
    updated: datetime | None
    """Local time, without a zone: Excel has no time zones."""
    note: str
    author: str

    def cells(self) -> tuple[Cell, ...]:
        """The values in column order, typed, for the spreadsheet."""
        return (
            self.number, self.section, self.subsection, self.text, self.lead,
            self.participants, self.status, self.progress, self.due, self.time_left,
            self.closed, self.updated, self.note, self.author,
        )  # fmt: skip

    def texts(self) -> list[str]:
        """The values in column order as text, for CSV."""
        return [as_text(value) for value in self.cells()]


def as_text(value: Cell) -> str:
    """A cell as CSV shows it: nothing for no value, minutes for a time, a date as ISO."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(TIME_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True, slots=True)
class Export:
    """A finished file, ready to send or write."""

    data: bytes
    filename: str
    count: int
    made_at: datetime
    """Local time in the bot's zone, when the database was read."""


def headers(lang: Language) -> list[str]:
    """The header row in the reader's language."""
    return [plain(t(lang, f"export.col.{name}")) for name in COLUMNS]


def section_name(plan: Plan, number: int) -> str:
    """'一、完善知识产权制度': the section as the plan heads it."""
    section = plan.section(number)
    return f"{section.numeral}、{section.title}"


def participants(plan: Plan, task: Task, lang: Language) -> str:
    """The participating departments as the plan lists them, 等部门 and 按职责分工负责 kept."""
    separator = "、" if lang == "zh" else ", "
    names = separator.join(plan.department(code).display(lang) for code in task.participants)
    if task.and_others:
        names += plain(t(lang, "export.and_others"))
    if task.by_duty:
        names += plain(t(lang, "export.by_duty"))
    return names.strip()


def author(plan: Plan, update: StatusUpdate, lang: Language) -> str:
    """'Ming（国家知识产权局）': who wrote, and for which department, as the task card says."""
    name = update.author_name or "?"
    if not update.dept:
        return name
    dept = plan.department(update.dept).display(lang)
    return f"{name} ({dept})" if lang == "en" else f"{name}（{dept}）"


def local_minute(moment: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock minute in the bot's zone, zone dropped: what the office reads."""
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def time_left(state: TaskState | None, due: date, today: date, lang: Language) -> str:
    """'还剩 5 天', '今天到期', '逾期 3 天': as the card says it, without the date."""
    left = days_left(due, today)
    if state is not None and state.closed:
        return ""
    if is_overdue(state, due, today):
        return plain(t(lang, "export.over", n=-left))
    if left == 0:
        return plain(t(lang, "export.today"))
    return plain(t(lang, "export.left", n=left)) if left <= SOON else ""


def row(
    plan: Plan,
    task: Task,
    state: TaskState | None,
    note: StatusUpdate | None,
    lang: Language,
    at: Moment,
    closing: ClosureEvent | None = None,
) -> ExportRow:
    """One task's line of the export; ``closing``: the event that closed it, if it is closed."""
    section = plan.section(task.section)
    subsection = "" if task.subsection is None else section.subsections[task.subsection - 1].title
    zone = at.zone
    due = at.due.of(task.number)
    closed_at = closing.created_at if closing is not None and state and state.closed else None
    return ExportRow(
        number=task.number,
        section=section_name(plan, task.section),
        subsection=subsection,
        text=task.text,
        lead=plan.department(task.lead).display(lang),
        participants=participants(plan, task, lang),
        status=plain(t(lang, f"stage.{stage_of(state).value}")),
        progress=state.progress if state else None,
        due=due,
        time_left=time_left(state, due, at.today, lang),
        closed=None if closed_at is None else local_minute(closed_at, zone),
        updated=local_minute(state.updated_at, zone) if state else None,
        note=(note.note or "") if note else "",
        author=author(plan, note, lang) if note else "",
    )


async def rows(
    plan: Plan, storage: Storage, *, lang: Language = "zh", zone: ZoneInfo | None = None
) -> list[ExportRow]:
    """Every task of the plan, in plan order, with what the database knows of it."""
    zone = zone or ZoneInfo("Asia/Shanghai")
    states = await storage.updates.states(year=plan.year)
    notes = await storage.updates.latest_notes(year=plan.year)
    since = await storage.db.tracking_since()
    at = await moment(storage, plan, tracking_since=since, zone=zone)
    closings = await storage.closures.of_states(
        s.closure_event for s in states.values() if s.closed and s.closure_event is not None
    )
    return [
        row(plan, x, states.get(x.number), notes.get(x.number), lang, at, closings.get(x.number))
        for x in plan.tasks
    ]


# --- CSV ---------------------------------------------------------------------------------------


def defuse(value: str) -> str:
    """Text Excel would run as a formula gets a leading apostrophe (OWASP's CSV advice)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def to_csv(table: Sequence[ExportRow], header: Sequence[str]) -> bytes:
    """UTF-8 with a BOM and CRLF: Excel then opens the Chinese text as Chinese."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows([defuse(cell) for cell in r.texts()] for r in table)
    return out.getvalue().encode("utf-8-sig")


# --- XLSX --------------------------------------------------------------------------------------


def sheet_title(name: str, taken: set[str]) -> str:
    """A sheet name Excel accepts: no []:*?/\\, at most 31 characters, not used yet."""
    base = SHEET_NAME_FORBIDDEN.sub("", name).strip().strip("'")[:SHEET_NAME_MAX] or "-"
    title, n = base, 1
    while title.casefold() in taken:
        n += 1
        suffix = f" ({n})"
        title = base[: SHEET_NAME_MAX - len(suffix)] + suffix
    taken.add(title.casefold())
    return title


def fill_sheet(ws: Worksheet, table: Sequence[ExportRow], header: Sequence[str]) -> None:
    """Bold header that stays in view, sized and wrapped columns, a filter on every column."""
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    top, wrap = Alignment(vertical="top"), Alignment(vertical="top", wrap_text=True)
    for r in table:
        ws.append([clean_cell(v) for v in r.cells()])
        for name, cell in zip(COLUMNS, ws[ws.max_row], strict=True):
            cell.alignment = wrap if name in WRAPPED else top
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            elif name in ("updated", "closed"):
                cell.number_format = XLSX_TIME_FORMAT
            elif name == "due":
                cell.number_format = XLSX_DATE_FORMAT
    for i, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(table) + 1}"


def clean_cell(value: Cell) -> Cell:
    """Control characters a phone may send are illegal in XLSX: drop them."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


class StampedZip(ZipFile):
    """A zip whose entries all carry one timestamp, so that equal data gives equal bytes."""

    def __init__(self, file: io.BytesIO, stamp: datetime) -> None:
        super().__init__(file, "w", ZIP_DEFLATED)
        self.stamp = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, 0)

    def writestr(  # type: ignore[override]
        self, zinfo_or_arcname: str | ZipInfo, data: bytes | str, *args: object, **kw: object
    ) -> None:
        """Every entry named by openpyxl gets the fixed stamp instead of the clock's time."""
        if isinstance(zinfo_or_arcname, str):
            info = ZipInfo(zinfo_or_arcname, date_time=self.stamp)
            info.compress_type = ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data)

    def write(  # type: ignore[override]
        self, filename: str | os.PathLike[str], arcname: str | None = None, *args: object,
        **kw: object,
    ) -> None:  # fmt: skip
        """openpyxl writes each sheet from a temporary file: keep the stamp, not its mtime."""
        self.writestr(arcname or os.fspath(filename), Path(filename).read_bytes())


def to_xlsx(
    table: Sequence[ExportRow], header: Sequence[str], plan: Plan, *, everything: str = "全部"
) -> bytes:
    """A sheet ``everything`` with every task, then one sheet per section of the plan."""
    wb = Workbook()
    taken: set[str] = set()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = sheet_title(everything, taken)
    fill_sheet(ws, table, header)
    section_of = {task.number: task.section for task in plan.tasks}
    for section in plan.sections:
        part = [r for r in table if section_of.get(r.number) == section.number]
        fill_sheet(
            wb.create_sheet(sheet_title(section_name(plan, section.number), taken)), part, header
        )
    stamp = max((r.updated for r in table if r.updated is not None), default=EPOCH)
    wb.properties.created = wb.properties.modified = stamp
    wb.properties.creator = wb.properties.lastModifiedBy = plan.title
    buffer = io.BytesIO()
    with StampedZip(buffer, stamp) as archive:
        ExcelWriter(wb, archive).write_data()
    return buffer.getvalue()


# --- making the file ---------------------------------------------------------------------------


def encode(table: Sequence[ExportRow], fmt: Format, plan: Plan, lang: Language) -> bytes:
    """The file's bytes: CPU-bound, so callers on the event loop run it in a thread."""
    header = headers(lang)
    if fmt == "csv":
        return to_csv(table, header)
    return to_xlsx(table, header, plan, everything=plain(t(lang, "export.sheet_all")))


def filename(plan: Plan, fmt: Format, made_at: datetime) -> str:
    """'plan-2024-tasks-20261124.xlsx': the plan's year and the local day of the export."""
    return f"plan-{plan.year}-tasks-{made_at:%Y%m%d}.{fmt}"


async def build(
    plan: Plan, storage: Storage, *, fmt: Format, lang: Language, zone: ZoneInfo
) -> Export:
    """Read the database, then encode off the event loop (a workbook takes a moment)."""
    made_at = storage.db.clock().astimezone(zone)
    table = await rows(plan, storage, lang=lang, zone=zone)
    data = await asyncio.to_thread(encode, table, fmt, plan, lang)
    return Export(data, filename(plan, fmt, made_at), len(table), made_at)


async def export_database(
    settings: Settings, plan: Plan, *, fmt: Format, lang: Language, year: int | None = None
) -> Export:
    """The export of the database at DATABASE_URL, for the command line; never creates one.
    ``year``: that year's plan (default: the database's current plan)."""
    path = settings.database_path
    if (problem := unreadable(path)) is not None:
        raise ExportError(problem)
    storage = Storage(path)
    try:
        await storage.open(plan_year=plan.year)
        years = await stored_years(storage, plan)
        chosen = years.current if year is None else years.get(year)
        if chosen is None:
            known = ", ".join(str(y) for y in years.years())
            raise ExportError(f"the database keeps no {year} plan (it has: {known})")
        return await build(chosen, storage, fmt=fmt, lang=lang, zone=settings.timezone)
    except sqlite3.Error as exc:
        raise ExportError(f"cannot read the database at {path} (DATABASE_URL): {exc}") from None
    finally:
        await storage.close()
