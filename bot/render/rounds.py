"""A supervision round's texts: a department's list (the request and its reminders are that
list with a line on top), the office's summary and its list of what is missing.

Pure: plain data in, text and keyboard out. Long lists are paged with ‹ › buttons, whose data
say which list and page to show; every page stays far below Telegram's 4,096 characters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.i18n import Language, Markup, esc, join, plain, t
from bot.plan import Plan
from bot.render.paging import nav_buttons, pages_of
from bot.render.text import shorten
from storage.rounds import Round, Slot, SlotState, Tally

TASKS_PER_PAGE = 10
DEPTS_PER_PAGE = 15
MISSING_PER_PAGE = 10
SHORT_TEXT = 28
NUMBERS_SHOWN = 300
"""At most this many characters of a department's missing task numbers in the office's list."""
BUTTONS_PER_ROW = 5
ICONS = {SlotState.MISSING: "⏳", SlotState.ON_TIME: "✅", SlotState.LATE: "⏰"}
OFFICE = callbacks.ROUND_OFFICE
MISSING = callbacks.ROUND_MISSING


@dataclass(frozen=True)
class RoundView:
    """The round a text is about, the plan it belongs to, and the local date it is read on."""

    round: Round
    plan: Plan
    today: date


@dataclass(frozen=True)
class Rendered:
    text: Markup
    keyboard: InlineKeyboardMarkup | None
    page: int
    pages: int


def due_text(view: RoundView, lang: Language) -> Markup:
    """'2026-11-25（周三）· 还有 2 天': the due date and where the round stands."""
    due, today = view.round.due, view.today
    weekday = t(lang, f"weekday.{due.isoweekday()}")
    if view.round.closed_at is not None:
        when = t(lang, "round.closed_on")
    elif today < due:
        when = t(lang, "round.days_left", n=(due - today).days)
    elif today == due:
        when = t(lang, "round.due_today")
    else:
        when = t(lang, "round.overdue", n=(today - due).days)
    return t(lang, "round.due", due=due.isoformat(), weekday=weekday, when=when)


def heading(view: RoundView, lang: Language) -> list[Markup]:
    return [t(lang, "round.title", title=view.round.title), due_text(view, lang)]


def _nav(
    round_id: int, scope: str, page: int, pages: int, lang: Language
) -> list[InlineKeyboardButton]:
    return nav_buttons(page, pages, lang, lambda n: callbacks.round_page(round_id, scope, n))


def _keyboard(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def ordered(slots: Sequence[Slot]) -> list[Slot]:
    """What is owed first, then what was answered; lead tasks first in each, in plan order."""
    return sorted(slots, key=lambda s: (s.state is not SlotState.MISSING, not s.is_lead, s.task))


def department_page(
    view: RoundView,
    dept: str,
    slots: Sequence[Slot],
    *,
    page: int,
    lang: Language,
    intro: Markup | None = None,
) -> Rendered:
    """A department's list in the round: counts, then its tasks (owed first), each owed one
    with a "📝 报送 n" button while the round is open."""
    plan, round_ = view.plan, view.round
    name = plan.department(dept).display(lang)
    items = ordered(slots)
    page, pages = pages_of(len(items), TASKS_PER_PAGE, page)
    owed = sum(1 for s in items if s.state is SlotState.MISSING)
    late = sum(1 for s in items if s.state is SlotState.LATE)
    lines = [intro] if intro is not None else []
    lines += heading(view, lang)
    lines.append(
        t(lang, "round.dept_counts", dept=name, count=len(items), done=len(items) - owed,
          late=late, owed=owed)
    )  # fmt: skip
    shown = items[(page - 1) * TASKS_PER_PAGE : page * TASKS_PER_PAGE]
    group: bool | None = None
    for slot in shown:
        answered = slot.state is not SlotState.MISSING
        if answered != group:
            lines.append(Markup("\n") + t(lang, "round.answered" if answered else "round.owed"))
            group = answered
        task = plan.task(slot.task)
        text = shorten(task.text, SHORT_TEXT) if task is not None else ""
        role = t(lang, "round.role_lead" if slot.is_lead else "round.role_joined")
        lines.append(
            Markup(f"{ICONS[slot.state]} <b>{slot.task}</b> {esc(text)} · ")
            + Markup(role)
            + (Markup(" · ") + t(lang, "round.late_mark") if slot.state is SlotState.LATE else "")
        )
    if not items:
        lines.append(t(lang, "round.dept_nothing"))
    if pages > 1:
        lines.append(Markup("\n") + t(lang, "list.page", page=page, pages=pages))
    submit = [s for s in shown if s.state is SlotState.MISSING] if round_.is_open else []
    if submit:
        lines.append(Markup("\n") + t(lang, "round.how"))
    buttons = [
        InlineKeyboardButton(
            plain(t(lang, "button.submit", n=s.task), 40),
            callback_data=callbacks.submit(round_.id, s.task, dept),
        )
        for s in submit
    ]
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    rows.append(_nav(round_.id, dept, page, pages, lang))
    return Rendered(join(lines), _keyboard(rows), page, pages)


def worst_first(tallies: Sequence[Tally], plan: Plan) -> list[Tally]:
    """Most missing first, then most late; then in the order the plan lists departments."""
    order = {d.code: i for i, d in enumerate(plan.departments)}
    return sorted(tallies, key=lambda x: (-x.missing, -x.late, order.get(x.dept, 1 << 30), x.dept))


def office_page(
    view: RoundView, tallies: Sequence[Tally], *, page: int, lang: Language
) -> Rendered:
    """The office's summary: per department owed / submitted / late / missing, worst first."""
    plan, round_ = view.plan, view.round
    rows = worst_first(tallies, plan)
    page, pages = pages_of(len(rows), DEPTS_PER_PAGE, page)
    owed = sum(x.owed for x in rows)
    missing = sum(x.missing for x in rows)
    late = sum(x.late for x in rows)
    lines = heading(view, lang)
    lines.append(
        t(lang, "round.office_counts", depts=len(rows), count=owed, done=owed - missing,
          late=late, missing=missing)
    )  # fmt: skip
    lines.append(Markup(""))
    for tally in rows[(page - 1) * DEPTS_PER_PAGE : page * DEPTS_PER_PAGE]:
        icon = "⏳" if tally.missing else ("⏰" if tally.late else "✅")
        lines.append(
            t(lang, "round.office_line", icon=icon, dept=plan.department(tally.dept).display(lang),
              owed=tally.owed, done=tally.owed - tally.missing, late=tally.late,
              missing=tally.missing)
        )  # fmt: skip
    if pages > 1:
        lines.append(Markup("\n") + t(lang, "list.page", page=page, pages=pages))
    nav = _nav(round_.id, OFFICE, page, pages, lang)
    extra = []
    if missing:
        data = callbacks.round_page(round_.id, MISSING, 1)
        extra.append(InlineKeyboardButton(t(lang, "button.round_missing"), callback_data=data))
    return Rendered(join(lines), _keyboard([nav, extra]), page, pages)


def missing_page(
    view: RoundView,
    missing: Mapping[str, Sequence[int]],
    *,
    page: int,
    lang: Language,
    intro: Markup | None = None,
) -> Rendered:
    """What is missing, per department (worst first), with the numbers of the tasks."""
    plan, round_ = view.plan, view.round
    order = {d.code: i for i, d in enumerate(plan.departments)}
    depts = sorted(
        (d for d, tasks in missing.items() if tasks),
        key=lambda d: (-len(missing[d]), order.get(d, 1 << 30), d),
    )
    page, pages = pages_of(len(depts), MISSING_PER_PAGE, page)
    lines = [intro] if intro is not None else []
    lines += heading(view, lang)
    total = sum(len(missing[d]) for d in depts)
    if not depts:
        lines.append(t(lang, "round.nothing_missing"))
    else:
        lines.append(t(lang, "round.missing_counts", depts=len(depts), count=total))
    lines.append(Markup(""))
    separator = "、" if lang == "zh" else ", "
    for dept in depts[(page - 1) * MISSING_PER_PAGE : page * MISSING_PER_PAGE]:
        numbers = shorten(separator.join(str(n) for n in missing[dept]), NUMBERS_SHOWN)
        lines.append(
            t(lang, "round.missing_line", dept=plan.department(dept).display(lang),
              count=len(missing[dept]), tasks=numbers)
        )  # fmt: skip
    if pages > 1:
        lines.append(Markup("\n") + t(lang, "list.page", page=page, pages=pages))
    nav = _nav(round_.id, MISSING, page, pages, lang)
    back = [
        InlineKeyboardButton(
            t(lang, "button.round_summary"),
            callback_data=callbacks.round_page(round_.id, OFFICE, 1),
        )
    ]
    return Rendered(join(lines), _keyboard([nav, back]), page, pages)


def owed_numbers(slots: Sequence[Slot], lang: Language) -> Markup:
    """'1、10、13' of what is still owed (lead tasks first), or that nothing is."""
    owed = [s.task for s in ordered(slots) if s.state is SlotState.MISSING]
    if not owed:
        return t(lang, "submit.all_done")
    separator = "、" if lang == "zh" else ", "
    numbers = shorten(separator.join(str(n) for n in owed), NUMBERS_SHOWN)
    return t(lang, "submit.still_owed", count=len(owed), tasks=numbers)
