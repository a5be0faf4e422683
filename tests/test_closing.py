"""Closing a task in storage: a department's done awaits the office, whose answer is recorded
once (by the Telegram update it came in), edits every copy of the card already sent, and is
kept in an append-only history."""

from __future__ import annotations

import sqlite3

import pytest

from bot.plan import Plan
from storage import Storage
from storage.closing import Answer, Asked
from storage.closures import Closure, DoneRule, Event
from storage.updates import Status
from tests.rows import pending

ADA, BEA, MING = 1, 5, 2
ASK_OFFICE = DoneRule(closes=False, office=(ADA, BEA))


async def people(storage: Storage) -> None:
    for user_id, name in ((ADA, "Ada"), (BEA, "Bea"), (MING, "Ming")):
        await storage.users.seen(user_id, full_name=name)
        await storage.chats.seen(user_id, type="private", title=name)
    await storage.chats.seen(-1001, type="group", title="知识产权局")
    await storage.chats.bind(-1001, "cnipa", by=ADA)


async def report_done(storage: Storage, task: int = 1, source: int | None = 10) -> int:
    """Ming (cnipa) reports the task done; the request's id."""
    recorded = await storage.updates.record(
        task, author_id=MING, dept="cnipa", chat_id=MING, status=Status.DONE,
        departments=("cnipa",), source_update=source, done=ASK_OFFICE,
    )  # fmt: skip
    assert recorded.closure is Closure.AWAITING
    state = await storage.updates.state(task)
    assert state is not None and state.awaiting and state.closure_event is not None
    return state.closure_event


def asked(plan: Plan, by: int, source: int | None, request: int | None = None) -> Asked:
    task = plan.task(1)
    assert task is not None
    return Asked(1, task.lead, task.departments, by, by, source, request)


async def kinds_owed(storage: Storage) -> list[tuple[int, str]]:
    return [(item.chat_id, item.kind) for item in await pending(storage)]


async def test_the_office_is_asked_once_and_confirms_once(storage: Storage, plan: Plan) -> None:
    await people(storage)
    request = await report_done(storage)
    await report_done(storage)  # the same update handled again after a crash
    assert await kinds_owed(storage) == [(ADA, "close_card"), (BEA, "close_card")]

    first = await storage.closing.confirm(asked(plan, ADA, 20))
    again = await storage.closing.confirm(asked(plan, ADA, 20))
    assert first.outcome is again.outcome is Answer.DONE
    assert first.event is not None and again.event == first.event
    assert first.event.kind is Event.CONFIRM and first.event.request_id == request
    assert first.state is not None and first.state.closed
    # The group of the lead department is told; no card had been sent, so none is edited.
    assert (await kinds_owed(storage))[2:] == [(-1001, "closure")]

    late = await storage.closing.confirm(asked(plan, BEA, 21, request))
    assert late.outcome is Answer.ANSWERED and late.event == first.event
    assert (await storage.closing.send_back(asked(plan, BEA, 22), "x")).outcome is (
        Answer.NOT_AWAITING
    )
    count = await storage.db.fetchvalue("SELECT count(*) FROM closures WHERE kind = 'confirm'")
    assert count == 1


async def test_sent_copies_are_edited_and_a_return_restores_the_last_figure(
    storage: Storage, plan: Plan
) -> None:
    await people(storage)
    await storage.updates.record(1, author_id=MING, dept="cnipa", chat_id=MING,
                                 status=Status.IN_PROGRESS, progress=70)  # fmt: skip
    await report_done(storage)
    cards = await pending(storage)
    for number, card in enumerate(cards, start=40):
        await storage.outbox.mark_sending(card.id)
        await storage.outbox.mark_sent(card.id, message_id=number)
    back = await storage.closing.send_back(asked(plan, ADA, 30), "缺少附件")
    assert back.outcome is Answer.DONE and back.state is not None
    assert (back.state.status, back.state.progress, back.state.closure) == (
        Status.IN_PROGRESS, 70, None
    )  # fmt: skip
    history = await storage.updates.history(1, limit=1)
    assert (history[0].old_status, history[0].note, history[0].author_id) == (
        Status.DONE, "缺少附件", ADA
    )  # fmt: skip
    owed = await pending(storage)
    assert [(i.chat_id, i.kind, i.payload) for i in owed] == [
        (ADA, "edit", {"of": cards[0].id}),
        (BEA, "edit", {"of": cards[1].id}),
        (-1001, "closure", {"event": back.event.id if back.event else 0}),
    ]


async def test_a_department_taking_done_back_withdraws_the_request(
    storage: Storage, plan: Plan
) -> None:
    await people(storage)
    request = await report_done(storage)
    (card, _) = await pending(storage)
    await storage.outbox.mark_sending(card.id)
    await storage.outbox.mark_sent(card.id, message_id=40)
    await storage.updates.record(1, author_id=MING, dept="cnipa", chat_id=MING,
                                 status=Status.IN_PROGRESS, done=ASK_OFFICE)  # fmt: skip
    answer = await storage.closures.answer(request)
    assert answer is not None and answer.kind is Event.WITHDRAW and answer.by_name == "Ming"
    assert [i.payload for i in await pending(storage) if i.kind == "edit"] == [{"of": card.id}]
    assert (await storage.closing.confirm(asked(plan, ADA, 31, request))).outcome is (
        Answer.ANSWERED
    )


async def test_done_closes_at_once_when_no_confirmation_is_needed(
    storage: Storage, plan: Plan
) -> None:
    await people(storage)
    recorded = await storage.updates.record(
        1, author_id=ADA, dept=None, chat_id=ADA, status=Status.DONE
    )
    assert recorded.closure is Closure.CLOSED and await pending(storage) == []
    reopened = await storage.updates.record(
        1, author_id=ADA, dept=None, chat_id=ADA, status=Status.IN_PROGRESS
    )
    assert reopened.closure is None
    events = await storage.db.fetchall("SELECT kind FROM closures ORDER BY id")
    assert [row[0] for row in events] == ["close", "reopen"]


async def test_the_closing_history_is_append_only(storage: Storage) -> None:
    await people(storage)
    await report_done(storage)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await storage.db.execute("UPDATE closures SET reason = 'rewritten'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await storage.db.execute("DELETE FROM closures")


async def test_the_whole_plan_group_is_the_office_when_there_is_one(storage: Storage) -> None:
    await people(storage)
    await storage.chats.seen(-1002, type="supergroup", title="联席办")
    await storage.chats.bind(-1002, "*", by=ADA)
    await report_done(storage)
    assert await kinds_owed(storage) == [(-1002, "close_card")]
