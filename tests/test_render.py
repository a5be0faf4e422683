"""Rendering without Telegram: cards, lists and tables stay inside Telegram's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.faketelegram import parse_html, utf16_len
from bot.render.tasks import ListItem, departments_table, list_page, overview, task_card
from bot.render.text import split_lines
from storage.updates import Status, StatusUpdate, TaskState
from tests.conftest import moment_at

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def worst_update(i: int) -> StatusUpdate:
    return StatusUpdate(
        id=i, task=45, kind="status", old_status=Status.NOT_STARTED, status=Status.BLOCKED,
        progress=99, note="😀<&>" * 250, author_id=1, author_name="名" * 64 + "<b>",
        dept="cnipa", chat_id=1, created_at=NOW - timedelta(days=i), year=2024,
    )  # fmt: skip


def visible_length(html: str) -> int:
    text, _ = parse_html(html)
    return utf16_len(text)


def test_the_longest_card_fits(plan) -> None:
    task = max(plan.tasks, key=lambda t: len(t.text) + 20 * len(t.participants))
    state = TaskState(task.number, Status.BLOCKED, 99, 5, NOW, NOW)
    for lang in ("zh", "en"):
        card = task_card(
            plan, task, state, [worst_update(i) for i in range(5)], at=moment_at(NOW), lang=lang
        )
        parse_html(card)
        assert visible_length(card) <= 4096
        assert "&lt;b&gt;" in card, "author names are escaped"


def test_list_pages_fit_and_number_correctly(plan) -> None:
    items = [ListItem(task) for task in plan.tasks]
    page = list_page("<b>All</b>", items, {}, page=8, at=moment_at(NOW), lang="en", empty="none")
    assert (page.number, page.pages) == (8, 8)
    assert "Page 8/8" in page.text
    assert visible_length(page.text) <= 4096
    clamped = list_page("t", items, {}, page=99, at=moment_at(NOW), lang="zh", empty="无")
    assert clamped.number == 8


def test_tables_split_into_messages_that_fit(plan) -> None:
    states = {t.number: TaskState(t.number, Status.DONE, 100, 1, NOW, NOW) for t in plan.tasks}
    for lang in ("zh", "en"):
        for lines in (
            departments_table(plan, states, lang, moment_at(NOW)),
            overview(plan, states, lang, moment_at(NOW)),
        ):
            for message in split_lines(lines):
                parse_html(message)
                assert visible_length(message) <= 4096


def test_split_lines_never_cuts_a_line() -> None:
    lines = [f"line {i} " + "字" * 100 for i in range(100)]
    messages = split_lines(lines, limit=1000)
    assert "\n".join(messages) == "\n".join(lines)
    assert all(len(m) <= 1000 for m in messages)
