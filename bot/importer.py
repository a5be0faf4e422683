"""Turns the published plan text into a :class:`~bot.plan.Plan`.

The text comes from a PDF, so it carries page-break artefacts: a paragraph cut in the middle of
a word or a department name, a character printed on both sides of a break, an owner line in a
paragraph of its own, half-width punctuation among full-width, the odd traditional character.
The importer repairs those it can recognise with certainty, lists every repair, and refuses
(with the line) what it cannot place rather than guess. It works on any year's plan of the
same layout.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from bot.plan import Department, Plan, Section, Subsection, Task

# Traditional characters seen in or plausible for such plans, mapped to their simplified forms.
# Each key is a character that simplified Chinese never uses, so the mapping cannot damage text.
_TRADITIONAL_PAIRS = (
    "見见於于與与為为會会發发關关國国產产權权識识護护機机構构點点數数據据務务員员門门實实體体"
    "財财經经濟济標标準准價价協协議议審审規规劃划專专業业導导創创開开費费農农衛卫藥药醫医執执"
    "廣广電电視视網网絡络設设計计條条貿贸術术資资訊讯運运營营監监總总區区質质環环節节處处證证"
    "書书類类號号傳传統统組组織织際际辦办諮咨詢询覽览獎奖勵励報报聯联檢检徵征種种臺台齊齐華华"
    "東东擊击偽伪衝冲鏈链圖图畫画學学習习陳陈"
)
TRADITIONAL_TO_SIMPLIFIED = str.maketrans(
    dict(zip(_TRADITIONAL_PAIRS[::2], _TRADITIONAL_PAIRS[1::2], strict=True))
)
"""Traditional characters that simplified Chinese never uses, so mapping them cannot damage text."""

# Half-width punctuation that Chinese text writes full-width.
_HALF_TO_FULL = {"(": "（", ")": "）", ",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}

_CHINESE_NUMERALS = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}

TITLE_RE = re.compile(r"^(?P<year>\d{4})\s*年.*计划$")
SECTION_RE = re.compile(r"^(?P<numeral>[一二三四五六七八九十]+)、\s*(?P<title>\S.*)$")
SUBSECTION_RE = re.compile(
    r"^[（(]\s*(?P<numeral>[一二三四五六七八九十]+)\s*[）)]\s*(?P<title>\S.*)$"
)
TASK_RE = re.compile(r"^(?P<number>\d{1,4})\s*[.．、]\s*(?P<text>\S.*)$")
OWNER_RE = re.compile(r"[（(](?P<owners>[^（()）]*?)负责\s*[）)]\s*$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class PlanImportError(Exception):
    """The text cannot be imported; ``problems`` lists every line that could not be placed."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass
class ImportResult:
    plan: Plan
    repairs: list[str]
    """Human-readable notes of every repair made, each with its line number, in line order."""


@dataclass
class _Piece:
    """A paragraph of the source with the number of its first line."""

    line: int
    text: str


@dataclass
class _TaskDraft:
    number: int
    line: int
    section: int
    subsection: int | None
    text: str
    owner_line: int | None = None

    @property
    def closed(self) -> bool:
        return OWNER_RE.search(self.text) is not None


def chinese_numeral(numeral: str) -> int:
    """一 → 1 … 十 → 10, 十一 → 11, 二十 → 20 (enough for section numbers)."""
    if numeral == "十":
        return 10
    if numeral.startswith("十"):
        return 10 + _CHINESE_NUMERALS[numeral[1]]
    if numeral.endswith("十"):
        return 10 * _CHINESE_NUMERALS[numeral[0]]
    if "十" in numeral:
        tens, ones = numeral.split("十")
        return 10 * _CHINESE_NUMERALS[tens] + _CHINESE_NUMERALS[ones]
    return _CHINESE_NUMERALS[numeral]


def _is_cjk(char: str) -> bool:
    return bool(_CJK.match(char))


def normalise_punctuation(text: str) -> str:
    """Write half-width punctuation full-width where Chinese text surrounds it.

    A comma between two digits (``1,000``) and punctuation between Latin letters stay as they are.
    """
    out = []
    for i, char in enumerate(text):
        full = _HALF_TO_FULL.get(char)
        if full is None:
            out.append(char)
            continue
        before = text[i - 1] if i > 0 else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if char == "," and before.isdigit() and after.isdigit():
            out.append(char)
        elif char in "()" or _is_cjk(before) or _is_cjk(after) or not (before + after).strip():
            out.append(full)
        else:
            out.append(char)
    return "".join(out)


def _paragraphs(lines: Iterable[str]) -> list[_Piece]:
    pieces: list[_Piece] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            if current:
                pieces.append(_Piece(start, "".join(current)))
                current = []
            continue
        if not current:
            start = number
        current.append(line)
    if current:
        pieces.append(_Piece(start, "".join(current)))
    return pieces


def _is_latin_or_digit(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _join_across_break(head: str, tail: str, line: int, repairs: list[tuple[int, str]]) -> str:
    """Join two halves of a paragraph cut by a page break, dropping a character printed twice.

    A space goes back only between two Latin words or numbers (the break took the space between
    them); Chinese text and its full-width punctuation (、》《“) join without one.
    """
    if head and tail and head[-1] == tail[0] and _is_cjk(head[-1]):
        repairs.append((line, f"removed {tail[0]!r} printed on both sides of a page break"))
        tail = tail[1:]
    if head and tail and _is_latin_or_digit(head[-1]) and _is_latin_or_digit(tail[0]):
        return f"{head} {tail}"
    return head + tail


class _DepartmentNames:
    """Exact lookup of the names a plan may print for a department (no guessing here)."""

    def __init__(self, departments: Sequence[Department]) -> None:
        self._by_name: dict[str, str] = {}
        for dept in departments:
            for name in (dept.name, dept.full, *dept.aliases):
                self._by_name.setdefault(name, dept.code)

    def code(self, name: str) -> str | None:
        return self._by_name.get(name)


def _parse_owners(
    draft: _TaskDraft, names: _DepartmentNames, problems: list[str]
) -> tuple[str, list[str], bool, bool, str] | None:
    match = OWNER_RE.search(draft.text)
    if match is None:
        problems.append(
            f"line {draft.line}: task {draft.number} has no owner line "
            "(a closing （…负责） naming the departments)"
        )
        return None
    owners = match.group("owners").strip()
    by_duty = owners.endswith("按职责分工")
    owners = owners.removesuffix("按职责分工").strip()
    and_others = owners.endswith("等部门")
    owners = owners.removesuffix("等部门").strip()
    line = draft.owner_line or draft.line
    codes: list[str] = []
    for name in (n.strip() for n in owners.split("、")):
        code = names.code(name)
        if code is None:
            problems.append(
                f"line {line}: task {draft.number} names an unknown department {name!r}; "
                "add it (or an alias) to the department registry"
            )
        elif code in codes:
            problems.append(f"line {line}: task {draft.number} names {name!r} twice")
        else:
            codes.append(code)
    if not codes or len(codes) != len(owners.split("、")):
        return None
    text = draft.text[: match.start()].rstrip()
    return codes[0], codes[1:], by_duty, and_others, text


def import_plan(source: str, departments: Sequence[Department]) -> ImportResult:
    """Parse the plan text; raise :class:`PlanImportError` listing every problem found."""
    repairs: list[tuple[int, str]] = []
    problems: list[str] = []
    lines = unicodedata.normalize("NFC", source).splitlines()
    for number, line in enumerate(lines, start=1):
        simplified = line.translate(TRADITIONAL_TO_SIMPLIFIED)
        if simplified != line:
            changed = sorted({a for a, b in zip(line, simplified, strict=True) if a != b})
            repairs.append((number, f"traditional {''.join(changed)} written simplified"))
            lines[number - 1] = simplified

    title = ""
    year = 0
    preamble: list[str] = []
    stray: list[_Piece] = []
    sections: list[tuple[str, str, list[str]]] = []
    drafts: list[_TaskDraft] = []

    for piece in _paragraphs(lines):
        text = piece.text
        open_task = drafts[-1] if drafts and not drafts[-1].closed else None
        if not title and (m := TITLE_RE.match(text)):
            title, year = text, int(m.group("year"))
        elif open_task is not None and not any(
            r.match(text) for r in (TASK_RE, SECTION_RE, SUBSECTION_RE)
        ):
            # A paragraph cut by a page break, or an owner line standing on its own.
            if OWNER_RE.fullmatch(text.strip()):
                open_task.owner_line = piece.line
                repairs.append(
                    (piece.line, f"owner line of task {open_task.number} joined to its text")
                )
            else:
                repairs.append(
                    (piece.line, f"task {open_task.number} continued across a page break")
                )
                if OWNER_RE.search(text):
                    open_task.owner_line = piece.line
            open_task.text = _join_across_break(open_task.text, text, piece.line, repairs)
        elif m := SECTION_RE.match(text):
            _refuse_stray(stray, problems)
            sections.append((m.group("numeral"), m.group("title").strip(), []))
        elif m := SUBSECTION_RE.match(text):
            if not sections:
                problems.append(f"line {piece.line}: subsection {text!r} before any section")
            else:
                sections[-1][2].append(m.group("title").strip())
        elif m := TASK_RE.match(text):
            if not sections:
                problems.append(f"line {piece.line}: task before any section")
                continue
            _refuse_stray(stray, problems)
            number = int(m.group("number"))
            expected = drafts[-1].number + 1 if drafts else 1
            if number != expected:
                if number > expected:
                    missing = (
                        f"task {expected}"
                        if number == expected + 1
                        else f"tasks {expected}–{number - 1}"
                    )
                    problems.append(f"line {piece.line}: {missing} missing before task {number}")
                else:
                    problems.append(
                        f"line {piece.line}: task {number} out of order (expected {expected})"
                    )
            subsections = sections[-1][2]
            draft = _TaskDraft(
                number=number,
                line=piece.line,
                section=len(sections),
                subsection=len(subsections) or None,
                text=m.group("text"),
            )
            if OWNER_RE.search(draft.text):
                draft.owner_line = piece.line
            drafts.append(draft)
        elif not sections:
            preamble.append(text)
        elif drafts and drafts[-1].closed:
            stray.append(piece)  # closing remarks if no task follows, else an error
        else:
            problems.append(f"line {piece.line}: cannot place this paragraph: {text[:40]!r}")

    note = [piece.text for piece in stray]
    if not title:
        problems.append("line 1: no title line like '2024 年…推进计划'")
    if not drafts:
        problems.append("no tasks found (a task starts with its number, like '1. …')")

    names = _DepartmentNames(departments)
    tasks: list[Task] = []
    for draft in drafts:
        owners = _parse_owners(draft, names, problems)
        if owners is None:
            continue
        lead, participants, by_duty, and_others, text = owners
        try:
            task = Task(
                number=draft.number,
                section=draft.section,
                subsection=draft.subsection,
                text=normalise_punctuation(text),
                lead=lead,
                participants=tuple(participants),
                by_duty=by_duty,
                and_others=and_others,
            )
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            problems.append(f"line {draft.line}: task {draft.number}: {reason}")
            continue
        tasks.append(task)

    if problems:
        raise PlanImportError(problems)

    try:
        plan = _assemble(title, year, preamble, note, sections, departments, tasks)
    except ValidationError as exc:
        raise PlanImportError([f"the imported plan is inconsistent: {exc}"]) from exc
    _check_section_numerals(plan, problems)
    if problems:
        raise PlanImportError(problems)
    return ImportResult(plan=plan, repairs=[f"line {n}: {text}" for n, text in sorted(repairs)])


def _refuse_stray(stray: list[_Piece], problems: list[str]) -> None:
    """Paragraphs between a finished task and the next heading or task fit nowhere."""
    problems.extend(f"line {p.line}: cannot place this paragraph: {p.text[:40]!r}" for p in stray)
    stray.clear()


def _assemble(
    title: str,
    year: int,
    preamble: list[str],
    note: list[str],
    sections: list[tuple[str, str, list[str]]],
    departments: Sequence[Department],
    tasks: list[Task],
) -> Plan:
    return Plan(
        title=title,
        year=year,
        preamble=normalise_punctuation("\n".join(preamble)),
        note=normalise_punctuation("\n".join(note)),
        sections=tuple(
            Section(
                number=i,
                numeral=numeral,
                title=normalise_punctuation(section_title),
                subsections=tuple(
                    Subsection(number=j, title=normalise_punctuation(sub))
                    for j, sub in enumerate(subs, start=1)
                ),
            )
            for i, (numeral, section_title, subs) in enumerate(sections, start=1)
        ),
        departments=tuple(departments),
        tasks=tuple(tasks),
    )


def _check_section_numerals(plan: Plan, problems: list[str]) -> None:
    for section in plan.sections:
        if chinese_numeral(section.numeral) != section.number:
            problems.append(
                f"section {section.numeral}、{section.title}: numbered out of order "
                f"(expected {section.number})"
            )
