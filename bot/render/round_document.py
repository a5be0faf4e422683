"""What the compiled round says, before it is laid out as DOCX or XLSX: its words and its rows.

``round_docx`` and ``round_xlsx`` draw the same document in two formats; everything they agree
on (the title, the dates, who owed what, how a statement is marked) is worked out here once, as
plain text, so the two cannot drift apart. No office library is imported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.i18n import Language, plain, t
from bot.plan import Plan, Section
from bot.round_report import CompiledRound, Statement, TaskStatements

WORDS: dict[Language, dict[str, str]] = {
    "zh": {
        "title_suffix": "汇总",
        "title_fallback": "报送情况",
        "opened": "发起",
        "due": "截止",
        "closed": "结束",
        "still_open": "尚未结束",
        "overview": "{depts} 个部门应报送 {owed} 项：按时 {on_time} 项，逾期 {late} 项，未报送 {missing} 项。",
        "summary": "各部门报送情况",
        "col.index": "序号",
        "col.dept": "部门",
        "col.owed": "应报送",
        "col.on_time": "按时报送",
        "col.late": "逾期报送",
        "col.missing": "未报送",
        "total": "合计",
        "task": "任务 {number}",
        "lead": "牵头部门：",
        "participants": "参与部门：",
        "col.when": "报送时间",
        "col.statement": "报送内容",
        "col.number": "任务序号",
        "col.section": "部分",
        "col.subsection": "分项",
        "col.text": "任务",
        "col.role": "角色",
        "col.status": "状态",
        "col.author": "报送人",
        "col.file": "附件",
        "role.lead": "牵头",
        "role.participant": "参与",
        "status.on_time": "按时报送",
        "status.late": "逾期报送",
        "status.missing": "未报送",
        "attachment": "附件：{name}",
        "page": "第 {page} 页 / 共 {pages} 页",
        "sheet.summary": "汇总",
        "sheet.statements": "报送明细",
    },
    "en": {
        "title_suffix": ": compiled statements",
        "title_fallback": "statements",
        "opened": "Opened",
        "due": "due",
        "closed": "closed",
        "still_open": "still open",
        "overview": "{depts} departments owe {owed} statements: {on_time} on time, {late} late, {missing} missing.",
        "summary": "Statements by department",
        "col.index": "No.",
        "col.dept": "Department",
        "col.owed": "Owed",
        "col.on_time": "On time",
        "col.late": "Late",
        "col.missing": "Missing",
        "total": "Total",
        "task": "Task {number}",
        "lead": "Lead: ",
        "participants": "Participating: ",
        "col.when": "Submitted",
        "col.statement": "Statement",
        "col.number": "Task",
        "col.section": "Section",
        "col.subsection": "Subsection",
        "col.text": "Task text",
        "col.role": "Role",
        "col.status": "Status",
        "col.author": "Submitted by",
        "col.file": "File",
        "role.lead": "lead",
        "role.participant": "participant",
        "status.on_time": "on time",
        "status.late": "late",
        "status.missing": "not submitted",
        "attachment": "File: {name}",
        "page": "Page {page} of {pages}",
        "sheet.summary": "Summary",
        "sheet.statements": "Statements",
    },
}
"""The document's own words; kept here because they exist only in the files."""

TIME_FORMAT = "%Y-%m-%d %H:%M"
CHINESE_DIGITS = "零一二三四五六七八九"
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot hold (a phone can send them): dropped from every text."""


def word(lang: Language, key: str, **fields: object) -> str:
    """One of the document's words, in its language."""
    return WORDS[lang][key].format(**fields)


def clean(text: str) -> str:
    """User text as an office file can hold it: without the characters XML forbids."""
    return XML_ILLEGAL.sub("", text)


def document_title(compiled: CompiledRound, lang: Language) -> str:
    """《2024 年知识产权强国建设推进计划》上半年落实情况汇总: the plan, then the round
    without the year the plan's title already gives."""
    rest = re.sub(rf"^\s*{compiled.plan_year}\s*年\s*", "", clean(compiled.title)).strip()
    rest = rest or word(lang, "title_fallback")
    suffix = word(lang, "title_suffix")
    if lang == "zh" and rest.endswith(suffix):
        suffix = ""
    return f"《{clean(compiled.plan_title)}》{rest}{suffix}"


def long_date(day: date, lang: Language) -> str:
    """2024年7月15日 in Chinese, 2024-07-15 in English."""
    return f"{day.year}年{day.month}月{day.day}日" if lang == "zh" else day.isoformat()


def round_dates(compiled: CompiledRound, lang: Language, zone: ZoneInfo) -> str:
    """发起：2024年6月20日　截止：2024年7月15日　结束：2024年7月20日 (local days)."""
    opened = long_date(compiled.opened_at.astimezone(zone).date(), lang)
    due = long_date(compiled.due, lang)
    if compiled.closed_at is None:
        closed = word(lang, "still_open")
    else:
        closed = f"{word(lang, 'closed')}{'：' if lang == 'zh' else ' '}"
        closed += long_date(compiled.closed_at.astimezone(zone).date(), lang)
    if lang == "zh":
        return f"{word(lang, 'opened')}：{opened}　{word(lang, 'due')}：{due}　{closed}"
    return f"{word(lang, 'opened')} {opened} · {word(lang, 'due')} {due} · {closed}"


def overview(compiled: CompiledRound, lang: Language) -> str:
    """One sentence of totals over every department."""
    tally = compiled.tally
    return word(
        lang,
        "overview",
        depts=len(tally),
        owed=sum(d.owed for d in tally),
        on_time=sum(d.on_time for d in tally),
        late=sum(d.late for d in tally),
        missing=sum(d.missing for d in tally),
    )


def department(plan: Plan, code: str, lang: Language) -> str:
    """A department as the plan names it (its code, should the plan not know it)."""
    known = plan.department_by_code.get(code)
    return known.display(lang) if known else code


def participants(plan: Plan, task: TaskStatements, lang: Language) -> str:
    """The participating departments in the plan's order, 等部门 and 按职责分工负责 kept."""
    separator = "、" if lang == "zh" else ", "
    names = separator.join(department(plan, code, lang) for code in task.participants)
    planned = plan.task(task.number)
    if planned is not None and planned.and_others:
        names += plain(t(lang, "export.and_others"))
    if planned is not None and planned.by_duty:
        names += plain(t(lang, "export.by_duty"))
    return names.strip()


def chinese_number(number: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 21 → 二十一 (up to 99): how the plan numbers subsections."""
    tens, ones = divmod(number, 10)
    if not 0 < number < 100:
        return str(number)
    head = "" if tens == 0 else ("十" if tens == 1 else f"{CHINESE_DIGITS[tens]}十")
    return head + (CHINESE_DIGITS[ones] if ones else "")


def section_heading(section: Section) -> str:
    """一、完善知识产权制度"""
    return f"{section.numeral}、{section.title}"


def subsection_heading(section: Section, number: int) -> str:
    """（一）完善知识产权法律法规规章"""
    return f"（{chinese_number(number)}）{section.subsections[number - 1].title}"


@dataclass(frozen=True, slots=True)
class Part:
    """A run of the round's tasks under one heading of the plan."""

    section: Section
    subsection: int | None
    tasks: tuple[TaskStatements, ...]

    @property
    def heading(self) -> str | None:
        """The subsection's heading, if the tasks are in one."""
        if self.subsection is None or self.subsection > len(self.section.subsections):
            return None
        return subsection_heading(self.section, self.subsection)


def parts(compiled: CompiledRound, plan: Plan) -> Iterator[Part]:
    """The round's tasks (in plan order) cut where the section or subsection changes."""
    run: list[TaskStatements] = []
    for task in compiled.tasks:
        if run and (task.section, task.subsection) != (run[0].section, run[0].subsection):
            yield Part(plan.section(run[0].section), run[0].subsection, tuple(run))
            run = []
        run.append(task)
    if run:
        yield Part(plan.section(run[0].section), run[0].subsection, tuple(run))


@dataclass(frozen=True, slots=True)
class Slot:
    """One department named on one task, and what it stated (``None``: missing)."""

    dept: str
    lead: bool
    statement: Statement | None

    def role(self, lang: Language) -> str:
        return word(lang, "role.lead" if self.lead else "role.participant")

    def status(self, lang: Language) -> str:
        """按时报送, 逾期报送 or 未报送."""
        if self.statement is None:
            return word(lang, "status.missing")
        return word(lang, "status.late" if self.statement.late else "status.on_time")


def slots(task: TaskStatements) -> list[Slot]:
    """The task's departments, lead first, each with its statement or none."""
    return [
        Slot(code, code == task.lead, task.statements.get(code))
        for code in (task.lead, *task.participants)
    ]


def local_minute(moment: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock minute in the bot's zone, zone dropped: what the office reads."""
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """2024-07-10 16:32, in the bot's zone."""
    return local_minute(moment, zone).strftime(TIME_FORMAT)


def last_change(compiled: CompiledRound) -> datetime:
    """When the document's content last changed: its fixed 'modified' time, so that equal
    rounds give equal bytes (the close, else the latest statement, else the opening)."""
    if compiled.closed_at is not None:
        return compiled.closed_at
    times = [s.submitted_at for task in compiled.tasks for s in task.statements.values()]
    return max([compiled.opened_at, *times])
