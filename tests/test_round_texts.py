"""A round's texts and typed arguments: dates as typed on a phone, button data that round-trips
within 64 bytes, and pages that stay within Telegram's limits for any department."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from bot import callbacks
from bot.faketelegram import parse_html
from bot.i18n import LANGUAGES, Language
from bot.parsing import ArgumentError, parse_date, parse_submit
from bot.plan import Plan
from bot.render.rounds import RoundView, department_page, missing_page, office_page, owed_numbers
from bot.render.text import MESSAGE_LIMIT, units
from storage.rounds import Round, Slot, SlotState, Tally

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-07-15", date(2026, 7, 15)),
        ("2026/7/5", date(2026, 7, 5)),
        ("２０２６－１２－０１", date(2026, 12, 1)),
        ("12-01", date(2026, 12, 1)),
        ("11-23", TODAY),
        ("07-15", date(2027, 7, 15)),
        ("02-29", date(2028, 2, 29)),
        ("2025-01-01", date(2025, 1, 1)),  # in the past, but a date: the caller decides
    ],
)
def test_dates_as_typed(typed: str, expected: date) -> None:
    assert parse_date(typed, TODAY) == expected


@pytest.mark.parametrize("typed", ["2026-02-30", "13-01", "tomorrow", "2026-7", "1-2-3-4", "١٢-٠١"])
def test_what_is_not_a_date(typed: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_date(typed, TODAY)
    assert caught.value.key == "error.date"


def test_a_statement_is_at_most_3000_characters() -> None:
    assert parse_submit("12 " + "字" * 3000, 110) == (12, "字" * 3000)
    assert parse_submit(" 12  ", 110, document=True) == (12, "")
    with pytest.raises(ArgumentError) as caught:
        parse_submit("12 " + "字" * 3001, 110)
    assert caught.value.key == "error.statement_too_long"
    assert caught.value.fields == {"limit": 3000, "length": 3001}
    with pytest.raises(ArgumentError, match=r"usage\.submit"):
        parse_submit("12", 110)


def test_button_data_round_trips_within_64_bytes() -> None:
    big = 999_999_999
    for data, parse, expected in (
        (callbacks.submit(big, 99999, "a" * 16), callbacks.parse_submit,
         callbacks.SubmitTap(big, 99999, "a" * 16)),
        (callbacks.submit(3, 45), callbacks.parse_submit, callbacks.SubmitTap(3, 45, None)),
        (callbacks.round_page(big, "!", 999), callbacks.parse_round_page,
         callbacks.RoundPage(big, "!", 999)),
        (callbacks.round_page(1, "samr", 2), callbacks.parse_round_page,
         callbacks.RoundPage(1, "samr", 2)),
        (callbacks.draft_choice(10**12 - 1, "cnipa"), callbacks.parse_draft_choice,
         (10**12 - 1, "cnipa")),
    ):  # fmt: skip
        assert callbacks.fits(data), data
        assert parse(data) == expected  # type: ignore[operator]
    for forged in ("rs1:1:１:samr", "rs1:1:2:SAMR", "rl1:1:x y:1", "rd1:1:", "rs1:1:2:samr:x"):
        assert callbacks.parse_submit(forged) is None
        assert callbacks.parse_round_page(forged) is None
        assert callbacks.parse_draft_choice(forged) is None


def view(plan: Plan, *, closed: bool = False) -> RoundView:
    title = "2024 年上半年落实情况" * 10  # a long title, in every text
    moment = datetime(2026, 11, 23, 2, tzinfo=UTC)
    round_ = Round(7, 2024, title[:200], date(2026, 11, 25), 1, moment, moment if closed else None)
    return RoundView(round_, plan, TODAY)


def assert_sendable(text: str, keyboard: object) -> None:
    assert units(text) <= MESSAGE_LIMIT
    parse_html(text)
    rows = getattr(keyboard, "inline_keyboard", ())
    for row in rows:
        assert len(row) <= 8
        for button in row:
            assert callbacks.fits(button.callback_data)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_department_page_fits(plan: Plan, lang: Language) -> None:
    for dept in plan.departments:
        slots = [
            Slot(task.number, dept.code, task.lead == dept.code,
                 [SlotState.MISSING, SlotState.ON_TIME, SlotState.LATE][task.number % 3], 1)
            for task in plan.tasks_of(dept.code)
        ]  # fmt: skip
        first = department_page(view(plan), dept.code, slots, page=1, lang=lang)
        for page in range(1, first.pages + 1):
            shown = department_page(view(plan), dept.code, slots, page=page, lang=lang)
            assert_sendable(shown.text, shown.keyboard)
    tallies = [Tally(d.code, 48, 1, 2) for d in plan.departments]
    missing = {d.code: list(range(1, 111)) for d in plan.departments}
    for page in (1, 2, 3, 4, 5):
        shown = office_page(view(plan), tallies, page=page, lang=lang)
        assert_sendable(shown.text, shown.keyboard)
        shown = missing_page(view(plan), missing, page=page, lang=lang)
        assert_sendable(shown.text, shown.keyboard)


def test_a_department_page_lists_what_is_owed_first_with_buttons(plan: Plan) -> None:
    slots = [
        Slot(3, "samr", True, SlotState.ON_TIME, 1),
        Slot(18, "samr", False, SlotState.MISSING, 0),
        Slot(33, "samr", True, SlotState.MISSING, 0),
        Slot(37, "samr", True, SlotState.LATE, 2),
    ]
    shown = department_page(view(plan), "samr", slots, page=1, lang="zh")
    numbers = re.findall(r"^[⏳✅⏰] <b>(\d+)</b>", shown.text, re.M)
    assert numbers == ["33", "18", "3", "37"]
    assert "<b>市场监管总局</b>：应报 4 项 · 已报 2 项（逾期 1 项）· 待报 2 项" in shown.text
    labels = [b.text for row in shown.keyboard.inline_keyboard for b in row]  # type: ignore[union-attr]
    assert labels == ["📝 报送 33", "📝 报送 18"]
    closed = department_page(view(plan, closed=True), "samr", slots, page=1, lang="zh")
    assert closed.keyboard is None and "· 已结束" in closed.text
    assert owed_numbers(slots, "zh") == "本部门还需报送 2 项：33、18"
    assert owed_numbers(slots[:1], "en") == (
        "The department has submitted everything this round asks of it."
    )
