"""The scorecard's texts: its pages in the chat, and the worst few rows in the whole-plan digest.

Pure: a :class:`~bot.scorecard.Scorecard` in, text and keyboard out. Ten departments a page,
three short lines each, far below Telegram's 4,096 characters even with English names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from telegram import InlineKeyboardMarkup

from bot import callbacks
from bot.i18n import Language, Markup, join, t
from bot.lights import QUIET
from bot.plan import Plan
from bot.render.paging import nav_buttons, pages_of
from bot.render.rounds import Rendered
from bot.render.text import age
from bot.scorecard import Scorecard, ScoreRow
from storage.people import WHOLE_PLAN

PER_PAGE = 10
DIGEST_ROWS = 5
"""How many of the worst rows the whole-plan digest shows."""


def marker(row: ScoreRow, now: datetime) -> str:
    """🔴 an overdue or blocked task; 🟡 statements missing, or a lead department without a
    report for 14 days; 🟢 otherwise (the health light's words, for a department)."""
    if row.overdue or row.blocked:
        return "🔴"
    quiet = row.last_report is None or now - row.last_report >= QUIET
    if row.missing or (row.led and quiet):
        return "🟡"
    return "🟢"


def last_report(row: ScoreRow, now: datetime, lang: Language) -> Markup:
    return (
        t(lang, "scorecard.never") if row.last_report is None else age(row.last_report, now, lang)
    )


def statements(row: ScoreRow, lang: Language) -> Markup:
    """'按时 3 · 逾期报送 1 · 未报 7 / 应报 11', or '—' without a round or a statement owed."""
    tally = row.statements
    if tally is None:
        return t(lang, "scorecard.no_statements")
    return t(
        lang, "scorecard.statements", on_time=tally.on_time, late=tally.late,
        missing=tally.missing, owed=tally.owed,
    )  # fmt: skip


def round_line(card: Scorecard, lang: Language) -> Markup:
    """Which round the statements are of: its title, due date and whether it is open."""
    round_ = card.round
    if round_ is None:
        return t(lang, "scorecard.no_round", year=card.plan_year)
    state = t(lang, "scorecard.round_open" if round_.is_open else "scorecard.round_closed")
    return t(lang, "scorecard.round", title=round_.title, due=round_.due.isoformat(), state=state)


def row_lines(row: ScoreRow, plan: Plan, now: datetime, lang: Language) -> list[Markup]:
    name = plan.department(row.dept).display(lang)
    tasks = t(
        lang, "scorecard.tasks", led=row.led, closed=row.closed, awaiting=row.awaiting,
        overdue=row.overdue, blocked=row.blocked,
    )  # fmt: skip
    reports = t(
        lang,
        "scorecard.reports",
        last=last_report(row, now, lang),
        statements=statements(row, lang),
    )
    heading = t(lang, "scorecard.name", rank=row.rank, icon=marker(row, now), dept=name)
    return [Markup("\n") + heading, tasks, reports]


def scorecard_page(
    card: Scorecard,
    plan: Plan,
    rows: Sequence[ScoreRow],
    *,
    scope: str,
    page: int,
    now: datetime,
    lang: Language,
) -> Rendered:
    """A page of the scorecard: every department's rows (``scope`` is the whole plan) or some
    departments' rows in their places among all; ‹ › buttons carry ``scope`` and the page."""
    page, pages = pages_of(len(rows), PER_PAGE, page)
    if scope == WHOLE_PLAN:
        title = t(lang, "scorecard.title_all", year=card.plan_year, count=len(card.rows))
    else:
        title = t(lang, "scorecard.title_some", year=card.plan_year, count=len(card.rows))
    lines = [title, round_line(card, lang)]
    for row in rows[(page - 1) * PER_PAGE : page * PER_PAGE]:
        lines += row_lines(row, plan, now, lang)
    if not rows:
        lines.append(t(lang, "scorecard.nothing"))
    if pages > 1:
        lines.append(Markup("\n") + t(lang, "list.page", page=page, pages=pages))
    lines.append(Markup("\n") + t(lang, "scorecard.order"))
    return Rendered(join(lines), _keyboard(scope, page, pages, lang), page, pages)


def _keyboard(scope: str, page: int, pages: int, lang: Language) -> InlineKeyboardMarkup | None:
    buttons = nav_buttons(page, pages, lang, lambda n: callbacks.scorecard(scope, n))
    return InlineKeyboardMarkup([buttons]) if buttons else None


def worst_rows(
    card: Scorecard, plan: Plan, *, now: datetime, lang: Language, count: int = DIGEST_ROWS
) -> list[Markup]:
    """The whole-plan digest's part: the scorecard's worst ``count`` rows, a line each."""
    lines = [Markup(""), t(lang, "scorecard.digest_title", count=min(count, len(card.rows)))]
    for row in card.rows[:count]:
        missing = str(row.missing) if row.statements is not None else "—"
        lines.append(
            t(
                lang, "scorecard.digest_line", rank=row.rank, icon=marker(row, now),
                dept=plan.department(row.dept).display(lang), overdue=row.overdue,
                missing=missing, blocked=row.blocked, last=last_report(row, now, lang),
                closed=row.closed, led=row.led,
            )
        )  # fmt: skip
    return lines
