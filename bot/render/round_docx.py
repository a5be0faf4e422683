"""The compiled round as a Word document (python-docx): what the office reports upward.

A4, Title / Heading 1-3 styles (so Word's navigation pane lists sections, subsections and
tasks), bordered tables whose header row repeats on every page, page numbers in the footer.
Chinese is set in an East Asian font (``w:eastAsia``) that Word, WPS and LibreOffice all find:
Noto Serif/Sans CJK SC where installed, 宋体/黑体 through the font table's alternative names
on an office PC that has only those. Equal rounds give equal bytes.

python-docx makes the package (parts, styles, section, footer, properties). The body, a few
thousand paragraphs and cells, is written as WordprocessingML of the same elements python-docx
would make, one task at a time, and parsed by python-docx's own parser: made through its
object API, cell by cell, the document of a full round took seconds.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from xml.sax.saxutils import escape
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo
from zoneinfo import ZoneInfo

from bot.i18n import Language
from bot.plan import Plan
from bot.render.round_document import (
    WORDS,
    Slot,
    clean,
    department,
    document_title,
    last_change,
    local_minute,
    local_time,
    overview,
    participants,
    parts,
    round_dates,
    section_heading,
    slots,
    word,
)
from bot.round_report import CompiledRound, TaskStatements

if TYPE_CHECKING:  # python-docx is imported when a document is made, not at the bot's start
    from docx.document import Document
    from docx.oxml.xmlchemy import BaseOxmlElement
    from docx.text.paragraph import Paragraph

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
BODY_FONT = ("Times New Roman", "Noto Serif CJK SC")
HEADING_FONT = ("Arial", "Noto Sans CJK SC")
"""(Latin, East Asian) fonts: a serif body like 宋体 and sans headings like 黑体."""
FONT_TABLE = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:fonts xmlns:w="{W_NS}">
<w:font w:name="Times New Roman"><w:panose1 w:val="02020603050405020304"/><w:charset w:val="00"/><w:family w:val="roman"/><w:pitch w:val="variable"/></w:font>
<w:font w:name="Arial"><w:panose1 w:val="020B0604020202020204"/><w:charset w:val="00"/><w:family w:val="swiss"/><w:pitch w:val="variable"/></w:font>
<w:font w:name="Noto Serif CJK SC"><w:altName w:val="宋体"/><w:panose1 w:val="02020400000000000000"/><w:charset w:val="86"/><w:family w:val="roman"/><w:pitch w:val="variable"/></w:font>
<w:font w:name="Noto Sans CJK SC"><w:altName w:val="黑体"/><w:panose1 w:val="020B0500000000000000"/><w:charset w:val="86"/><w:family w:val="swiss"/><w:pitch w:val="variable"/></w:font>
<w:font w:name="宋体"><w:altName w:val="SimSun"/><w:panose1 w:val="02010600030101010101"/><w:charset w:val="86"/><w:family w:val="auto"/><w:pitch w:val="variable"/></w:font>
<w:font w:name="黑体"><w:altName w:val="SimHei"/><w:panose1 w:val="02010609060101010101"/><w:charset w:val="86"/><w:family w:val="modern"/><w:pitch w:val="fixed"/></w:font>
</w:fonts>
""".encode()
"""The fonts the document names. charset 86 (GB2312) and altName tell Word and WPS what to
put in place of a font the PC lacks: 宋体 for the serif, 黑体 for the sans."""
FONT_TABLE_PART = "word/fontTable.xml"

PAGE_CM = (21.0, 29.7)
MARGIN_CM = (2.5, 2.4)
"""A4; top and bottom, left and right margins."""
TEXT_CM = PAGE_CM[0] - 2 * MARGIN_CM[1]
SUMMARY_CM = (1.3, 6.2, 2.0, 2.1, 2.1, 2.5)
STATEMENTS_CM: dict[Language, tuple[float, ...]] = {
    "zh": (3.3, 2.9, TEXT_CM - 3.3 - 2.9),
    "en": (4.4, 2.9, TEXT_CM - 4.4 - 2.9),
}
"""Column widths: the summary table, and each task's table (department, when, statement);
English department names are longer."""
SIZES_PT = {"Title": 18, "Heading 1": 15, "Heading 2": 13, "Heading 3": 11.5, "Normal": 10.5}
SMALL_PT = 9
RED = "C00000"
GREY = "595959"
HEADER_FILL = "E7E6E6"
KEEP_WHOLE = 500
"""A row whose statement is no longer than this (in characters) is never split across pages;
a longer one may be, as it may not fit on one."""
Align = Literal["left", "center", "both"]
"""Word's paragraph alignments: "both" is justified (两端对齐)."""
LINE_BREAK = re.compile(r"\r\n|\r|\n")
TWIPS_PER_CM = 1440 / 2.54


def round_docx(
    compiled: CompiledRound, plan: Plan, *, lang: Language = "zh", zone: ZoneInfo
) -> bytes:
    """The round as a .docx: title and dates, the departments' table, then every task of the
    plan, section by section, with each department's statement (or 未报送)."""
    import docx

    document = docx.Document()
    _page(document, lang)
    _styles(document)
    body = Body(document)
    title = document_title(compiled, lang)
    body.add(_title(title))
    body.add(paragraph([Run(round_dates(compiled, lang, zone))], align="center"))
    body.add(paragraph([Run(overview(compiled, lang))]))
    body.add(paragraph([Run(word(lang, "summary"))], style="Heading1"))
    body.add(_summary(compiled, plan, lang))
    started: set[int] = set()
    for part in parts(compiled, plan):
        blocks = []
        if part.section.number not in started:  # a section's heading, where it starts
            started.add(part.section.number)
            blocks.append(paragraph([Run(section_heading(part.section))], style="Heading1"))
        if part.heading is not None:
            blocks.append(paragraph([Run(part.heading)], style="Heading2"))
        body.add(*blocks, *(_task(task, plan, lang, zone) for task in part.tasks))
    _properties(document, compiled, title, lang)
    out = io.BytesIO()
    document.save(out)
    # python-docx's parts refer to each other, so the tree would wait for the cycle collector:
    # the body of a full round is tens of megabytes of libxml2 memory, freed here at once.
    document.element.body.clear()
    return _finished(out.getvalue(), compiled, zone)


# --- WordprocessingML of the body ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of text in one format; line breaks in it become Word's."""

    text: str
    bold: bool = False
    colour: str | None = None
    size: float | None = None

    def xml(self) -> str:
        props = "<w:b/><w:bCs/>" if self.bold else ""
        if self.colour:
            props += f'<w:color w:val="{self.colour}"/>'
        if self.size:
            half_points = round(self.size * 2)
            props += f'<w:sz w:val="{half_points}"/><w:szCs w:val="{half_points}"/>'
        lines = LINE_BREAK.split(clean(self.text))
        text = "<w:br/>".join(f'<w:t xml:space="preserve">{escape(line)}</w:t>' for line in lines)
        return f"<w:r>{f'<w:rPr>{props}</w:rPr>' if props else ''}{text}</w:r>"


def paragraph(
    runs: Iterable[Run], *, style: str | None = None, align: Align | None = None, keep: bool = False
) -> str:
    """A ``w:p``: its style's id, kept on the page of what follows if ``keep``."""
    props = f'<w:pStyle w:val="{style}"/>' if style else ""
    props += "<w:keepNext/>" if keep else ""
    props += f'<w:jc w:val="{align}"/>' if align else ""
    return (
        f"<w:p>{f'<w:pPr>{props}</w:pPr>' if props else ''}{''.join(r.xml() for r in runs)}</w:p>"
    )


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: its paragraphs, each a list of runs."""

    lines: Sequence[Sequence[Run]]
    align: Align = "left"
    """Across; and centred down when ``middle``."""
    middle: bool = False
    fill: str | None = None

    def xml(self, width: int) -> str:
        props = f'<w:tcW w:w="{width}" w:type="dxa"/>'
        if self.fill:
            props += f'<w:shd w:val="clear" w:color="auto" w:fill="{self.fill}"/>'
        if self.middle:
            props += '<w:vAlign w:val="center"/>'
        content = "".join(paragraph(runs, align=self.align) for runs in self.lines or [[]])
        return f"<w:tc><w:tcPr>{props}</w:tcPr>{content}</w:tc>"


def table(
    header: Sequence[str], rows: Sequence[tuple[Sequence[Cell], bool]], widths_cm: Sequence[float]
) -> str:
    """A bordered table ("Table Grid") of fixed column widths; its shaded header row repeats
    at the top of each page. Each row comes with whether it must stay on one page."""
    widths = [round(cm * TWIPS_PER_CM) for cm in widths_cm]
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
    head = "".join(
        Cell([[Run(text, bold=True)]], align="center", middle=True, fill=HEADER_FILL).xml(w)
        for text, w in zip(header, widths, strict=True)
    )
    body = [
        f"<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>{head}</w:tr>",
        *(
            f"<w:tr>{'<w:trPr><w:cantSplit/></w:trPr>' if whole else ''}"
            + "".join(cell.xml(w) for cell, w in zip(cells, widths, strict=True))
            + "</w:tr>"
            for cells, whole in rows
        ),
    ]
    props = (
        '<w:tblStyle w:val="TableGrid"/>'
        f'<w:tblW w:w="{sum(widths)}" w:type="dxa"/><w:tblLayout w:type="fixed"/>'
        '<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" '
        'w:lastColumn="0" w:noHBand="0" w:noVBand="1"/>'
    )
    return f"<w:tbl><w:tblPr>{props}</w:tblPr><w:tblGrid>{grid}</w:tblGrid>{''.join(body)}</w:tbl>"


class Body:
    """Where the blocks go: before the body's section properties, parsed by python-docx."""

    def __init__(self, document: Document) -> None:
        from docx.oxml.ns import qn

        end = document.element.body.find(qn("w:sectPr"))
        assert end is not None
        self._end = end

    def add(self, *blocks: str) -> None:
        from docx.oxml import parse_xml

        parsed = parse_xml(f'<w:body xmlns:w="{W_NS}">{"".join(blocks)}</w:body>')
        for block in list(parsed):
            self._end.addprevious(block)


# --- the content --------------------------------------------------------------------------------


def _title(title: str) -> str:
    """The title on two lines when it names the plan: 《the plan》 / what this round is."""
    head, mark, rest = title.partition("》")
    if not mark or not rest:
        return paragraph([Run(title)], style="Title")
    return paragraph([Run(f"{head}{mark}\n{rest}")], style="Title")


def _summary(compiled: CompiledRound, plan: Plan, lang: Language) -> str:
    """Each department's owed / on time / late / missing, worst first, and the totals."""
    keys = ("col.index", "col.dept", "col.owed", "col.on_time", "col.late", "col.missing")
    numbers = ("owed", "on_time", "late", "missing")
    rows: list[tuple[Sequence[Cell], bool]] = []
    for i, tally in enumerate(compiled.tally, start=1):
        *counts, missing = [getattr(tally, name) for name in numbers]
        cells = [
            _number(i),
            Cell([[Run(department(plan, tally.dept, lang))]], middle=True),
            *(_number(n) for n in counts),
            _number(missing, bold=missing > 0, colour=RED if missing else None),
        ]
        rows.append((cells, True))
    totals = [sum(getattr(t, name) for t in compiled.tally) for name in numbers]
    total = [Cell([[]]), Cell([[Run(word(lang, "total"), bold=True)]], middle=True)]
    rows.append(([*total, *(_number(n, bold=True) for n in totals)], True))
    return table([word(lang, key) for key in keys], rows, SUMMARY_CM)


def _number(value: int, *, bold: bool = False, colour: str | None = None) -> Cell:
    """A count in the summary table, in the middle of its cell."""
    return Cell([[Run(str(value), bold=bold, colour=colour)]], align="center", middle=True)


def _task(task: TaskStatements, plan: Plan, lang: Language, zone: ZoneInfo) -> str:
    """The task's number and text, its departments, and a row per department named on it."""
    who = [Run(word(lang, "lead"), bold=True, size=SMALL_PT)]
    who.append(Run(department(plan, task.lead, lang), size=SMALL_PT))
    named = participants(plan, task, lang)
    if named:
        who.append(Run("；" if lang == "zh" else "; ", size=SMALL_PT))
        who.append(Run(word(lang, "participants"), bold=True, size=SMALL_PT))
        who.append(Run(named, size=SMALL_PT))
    header = [word(lang, "col.dept"), word(lang, "col.when"), word(lang, "col.statement")]
    rows = [_slot(slot, plan, lang, zone) for slot in slots(task)]
    return "".join(
        (
            paragraph([Run(word(lang, "task", number=task.number))], style="Heading3"),
            paragraph([Run(task.text)], keep=True),
            paragraph(who, keep=True),
            table(header, rows, STATEMENTS_CM[lang]),
        )
    )


def _slot(slot: Slot, plan: Plan, lang: Language, zone: ZoneInfo) -> tuple[list[Cell], bool]:
    """One department's row: its name and role; when, by whom, late or not; what it said."""
    dept = Cell(
        [
            [Run(department(plan, slot.dept, lang), bold=slot.lead)],
            [Run(slot.role(lang), colour=GREY, size=SMALL_PT)],
        ]
    )
    statement = slot.statement
    if statement is None:
        missing = Cell([[Run(slot.status(lang), bold=True, colour=RED)]])
        return [dept, Cell([[Run("—")]]), missing], True
    when = [[Run(local_time(statement.submitted_at, zone), size=SMALL_PT)]]
    if statement.author:
        when.append([Run(statement.author, colour=GREY, size=SMALL_PT)])
    if statement.late:
        when.append([Run(slot.status(lang), bold=True, colour=RED, size=SMALL_PT)])
    said: list[list[Run]] = []
    if statement.text:  # a paragraph per line: a justified line before a break is stretched
        said += [[Run(line)] for line in LINE_BREAK.split(statement.text)]
    if statement.file_name:
        said.append([Run(word(lang, "attachment", name=statement.file_name), colour=GREY)])
    return [dept, Cell(when), Cell(said, align="both")], len(statement.text) <= KEEP_WHOLE


# --- the page and the styles --------------------------------------------------------------------


def _page(document: Document, lang: Language) -> None:
    """A4 with the margins of an office report, and "第 1 页 / 共 9 页" centred in the footer."""
    from docx.enum.text import WD_PARAGRAPH_ALIGNMENT
    from docx.shared import Cm

    section = document.sections[0]
    section.page_width, section.page_height = Cm(PAGE_CM[0]), Cm(PAGE_CM[1])
    section.top_margin = section.bottom_margin = Cm(MARGIN_CM[0])
    section.left_margin = section.right_margin = Cm(MARGIN_CM[1])
    section.header_distance = section.footer_distance = Cm(1.3)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_PARAGRAPH_ALIGNMENT.CENTER
    before, between, after = re.split(r"\{page\}|\{pages\}", WORDS[lang]["page"])
    footer.add_run(before)
    _field(footer, "PAGE")
    footer.add_run(between)
    _field(footer, "NUMPAGES")
    footer.add_run(after)


def _field(paragraph: Paragraph, instruction: str) -> None:
    """A field Word and LibreOffice fill in as they lay the pages out (PAGE, NUMPAGES)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    for kind in ("begin", "instr", "separate", "end"):
        run = paragraph.add_run()
        if kind == "instr":
            element = OxmlElement("w:instrText", {qn("xml:space"): "preserve"})
            element.text = f" {instruction} "
        else:
            element = OxmlElement("w:fldChar", {qn("w:fldCharType"): kind})
        run._r.append(element)
        if kind == "separate":
            paragraph.add_run("1")  # shown until the reader's program counts the pages


def _fonts(rpr: BaseOxmlElement, fonts: tuple[str, str]) -> None:
    """Latin and East Asian fonts named outright, the theme's dropped (they would win)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for name in [name for name in rfonts.attrib if name.lower().endswith("theme")]:
        del rfonts.attrib[name]
    latin, east_asian = fonts
    for attribute in ("w:ascii", "w:hAnsi", "w:cs"):
        rfonts.set(qn(attribute), latin)
    rfonts.set(qn("w:eastAsia"), east_asian)


def _styles(document: Document) -> None:
    """Black text in the CJK fonts, Chinese as the East Asian language (the template's would
    pick Japanese glyph shapes), sizes of an office report, headings kept with what follows."""
    from docx.enum.text import WD_PARAGRAPH_ALIGNMENT
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor
    from docx.styles.style import ParagraphStyle

    styles = document.styles
    rpr = styles.element.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}")
    assert rpr is not None
    _fonts(rpr, BODY_FONT)
    language = rpr.find(qn("w:lang"))
    if language is not None:
        language.set(qn("w:eastAsia"), "zh-CN")
    for name, size in SIZES_PT.items():
        style = styles[name]
        assert isinstance(style, ParagraphStyle)
        style.font.size = Pt(size)
        layout = style.paragraph_format
        if name == "Normal":
            _fonts(style.element.get_or_add_rPr(), BODY_FONT)
            layout.space_after = Pt(3)
            layout.line_spacing = 1.15
            layout.alignment = WD_PARAGRAPH_ALIGNMENT.JUSTIFY  # 两端对齐, as Chinese reports are
            continue
        _fonts(style.element.get_or_add_rPr(), HEADING_FONT)
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.font.bold = True
        layout.keep_with_next = True
        layout.alignment = WD_PARAGRAPH_ALIGNMENT.LEFT
        if name == "Title":
            pbdr = style.element.get_or_add_pPr().find(qn("w:pBdr"))
            if pbdr is not None:  # the template's blue rule under the title
                pbdr.getparent().remove(pbdr)
            layout.alignment = WD_PARAGRAPH_ALIGNMENT.CENTER
            layout.space_before, layout.space_after = Pt(6), Pt(12)
            layout.line_spacing = 1.3
        else:
            level = int(name[-1])
            layout.space_before = Pt((18, 12, 10)[level - 1])
            layout.space_after = Pt((6, 4, 3)[level - 1])


# --- the file -----------------------------------------------------------------------------------


def _properties(document: Document, compiled: CompiledRound, title: str, lang: Language) -> None:
    """What File > Properties shows, dated by the round itself rather than by the clock."""
    properties = document.core_properties
    properties.title = title
    properties.subject = clean(compiled.title)
    properties.author = properties.last_modified_by = clean(compiled.plan_title)
    properties.comments = ""
    properties.language = "zh-CN" if lang == "zh" else "en"
    properties.revision = 1
    properties.created = local_minute(compiled.opened_at, ZoneInfo("UTC"))
    properties.modified = local_minute(last_change(compiled), ZoneInfo("UTC"))
    rels = document.part.package.rels
    for rid in [rid for rid, rel in rels.items() if rel.reltype.endswith("/thumbnail")]:
        del rels[rid]  # the template's own picture of an empty page


def _finished(data: bytes, compiled: CompiledRound, zone: ZoneInfo) -> bytes:
    """The saved package again, every entry stamped with the round's last change rather than
    the clock's time (equal rounds, equal bytes), and with the document's own font table."""
    moment = local_minute(last_change(compiled), zone)
    stamp = (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, 0)
    out = io.BytesIO()
    with ZipFile(io.BytesIO(data)) as saved, ZipFile(out, "w", ZIP_DEFLATED) as finished:
        for entry in saved.infolist():
            content = FONT_TABLE if entry.filename == FONT_TABLE_PART else saved.read(entry)
            info = ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            finished.writestr(info, content)
    return out.getvalue()
