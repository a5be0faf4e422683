"""A supervision round in storage: opening it in one transaction, one open at a time, statements
kept with their history, late after the due date, nothing deleted, and a round compiled."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.plan import Plan
from bot.rounds import compiled, deadline, owed_statements, round_summary
from storage import Storage
from storage.people import Role
from storage.rounds import Document, Opened, SlotState, Submitted
from tests.conftest import FakeClock
from tests.rows import join, pending
from tests.test_digest_schedule import SHANGHAI

WANG, LI = 7, 8
GROUP, OFFICE = -1001, -1002
DUE = date(2026, 11, 25)
DEADLINE = deadline(DUE, SHANGHAI)
PDF = Document("BQAC-file", "AgAD-1", "方案.pdf", 12_000)


async def people(storage: Storage) -> None:
    """Wang in 市场监管总局 (its group bound), Li in 海关总署 (no group: his private chat)."""
    for user, name in ((WANG, "Wang"), (LI, "Li")):
        await storage.users.seen(user, full_name=name)
        await storage.chats.seen(user, type="private")
    await join(storage, WANG, "samr", Role.MEMBER)
    await join(storage, LI, "gacc", Role.MEMBER)
    await storage.chats.seen(GROUP, type="supergroup", title="市场监管总局工作群")
    await storage.chats.bind(GROUP, "samr", by=1)


async def test_opening_writes_the_round_its_slots_and_requests_at_once(
    storage: Storage, plan: Plan
) -> None:
    await people(storage)
    owed = owed_statements(plan)
    assert len(owed) == 230 and len({(o.task, o.dept) for o in owed}) == 230
    opening = await storage.rounds.open("上半年", DUE, opened_by=1, owed=owed, source_update=5)
    assert opening.outcome is Opened.OPENED and opening.round.plan_year == 2024
    assert opening.requests == 2  # 市场监管总局's group; 海关总署 through Li's private chat
    assert len(opening.unreached) == 41 and "samr" not in opening.unreached
    requests = {(item.chat_id, item.payload["dept"]) for item in await pending(storage)}
    assert requests == {(GROUP, "samr"), (LI, "gacc")}
    assert len(await storage.rounds.slots(opening.round.id)) == 230
    led = [s for s in await storage.rounds.slots(opening.round.id, "samr") if s.is_lead]
    assert [s.task for s in led] == [3, 33, 37, 38, 62]

    again = await storage.rounds.open("上半年", DUE, opened_by=1, owed=owed, source_update=5)
    assert again.outcome is Opened.OPENED and again.round.id == opening.round.id
    assert again.requests == 2 and len(again.unreached) == 41, "handled twice, owed once"
    other = await storage.rounds.open("另一轮", DUE, opened_by=1, owed=owed, source_update=6)
    assert other.outcome is Opened.ALREADY_OPEN and other.round.id == opening.round.id
    assert len(await pending(storage)) == 2


async def test_a_failed_opening_leaves_nothing(storage: Storage, plan: Plan) -> None:
    await people(storage)
    owed = owed_statements(plan)
    with pytest.raises(sqlite3.IntegrityError):
        await storage.rounds.open("x" * 201, DUE, opened_by=1, owed=owed)  # the title's CHECK
    with pytest.raises(sqlite3.IntegrityError):
        await storage.rounds.open("重复", DUE, opened_by=1, owed=[*owed, owed[0]])
    assert await storage.rounds.latest() is None
    assert await storage.db.fetchvalue("SELECT count(*) FROM round_slots") == 0
    assert await pending(storage) == []


async def test_statements_keep_their_history_and_late_ones_are_marked(
    storage: Storage, plan: Plan, clock: FakeClock
) -> None:
    await people(storage)
    round_ = (
        await storage.rounds.open("上半年", DUE, opened_by=1, owed=owed_statements(plan))
    ).round
    submit = storage.rounds.submit
    first = await submit(
        round_.id, 3, "samr", author_id=WANG, text="初稿", document=None, chat_id=GROUP,
        deadline=DEADLINE, source_update=100,
    )  # fmt: skip
    assert first.outcome is Submitted.RECORDED and first.statement is not None
    assert not first.statement.late
    again = await submit(
        round_.id, 3, "samr", author_id=WANG, text="初稿", document=None, chat_id=GROUP,
        deadline=DEADLINE, source_update=100,
    )  # fmt: skip
    assert again.statement == first.statement, "the same update records once"
    second = await submit(
        round_.id, 3, "samr", author_id=WANG, text="", document=PDF, chat_id=GROUP,
        deadline=DEADLINE, source_update=101,
    )  # fmt: skip
    assert second.outcome is Submitted.REPLACED
    clock.now = DEADLINE.astimezone(UTC)  # the due date is over: late from now on
    late = await submit(
        round_.id, 6, "gacc", author_id=LI, text="补报", document=None, chat_id=LI,
        deadline=DEADLINE, source_update=102,
    )  # fmt: skip
    assert late.statement is not None and late.statement.late
    revised = await submit(
        round_.id, 3, "samr", author_id=WANG, text="终稿", document=None, chat_id=GROUP,
        deadline=DEADLINE, source_update=103,
    )  # fmt: skip
    assert revised.statement is not None and revised.statement.late
    history = await storage.rounds.history(round_.id, 3, "samr")
    assert [(s.text, s.document, s.late) for s in history] == [
        ("初稿", None, False), ("", PDF, False), ("终稿", None, True),
    ]  # fmt: skip
    states = {(s.task, s.dept): s.state for s in await storage.rounds.slots(round_.id)}
    assert states[(3, "samr")] is SlotState.ON_TIME, (
        "answered in time; a later revision is not late"
    )
    assert states[(6, "gacc")] is SlotState.LATE
    assert states[(33, "samr")] is SlotState.MISSING
    not_named = await submit(
        round_.id, 6, "samr", author_id=WANG, text="x", document=None, chat_id=GROUP,
        deadline=DEADLINE,
    )  # fmt: skip
    assert not_named.outcome is Submitted.NOT_OWED

    closed = await storage.rounds.close(round_.id, by=1, source_update=200)
    assert closed is not None and not closed.is_open
    assert await storage.rounds.close(round_.id, by=1, source_update=200) == closed, "again"
    assert await storage.rounds.close(round_.id, by=1, source_update=201) is None
    refused = await submit(
        round_.id, 33, "samr", author_id=WANG, text="晚了", document=None, chat_id=GROUP,
        deadline=DEADLINE,
    )  # fmt: skip
    assert refused.outcome is Submitted.CLOSED
    assert await storage.rounds.current() is None
    assert (await storage.rounds.latest()) == closed, "the last one shows when none is open"

    for sql in (
        "UPDATE round_statements SET text = 'rewritten'",
        "DELETE FROM round_statements",
        "DELETE FROM round_slots",
        "DELETE FROM rounds",
    ):
        with pytest.raises(sqlite3.IntegrityError, match=r"append-only|kept"):
            await storage.db.execute(sql)


async def test_drafts_and_prompts(storage: Storage, plan: Plan) -> None:
    await people(storage)
    round_ = (
        await storage.rounds.open("上半年", DUE, opened_by=1, owed=owed_statements(plan))
    ).round
    draft = await storage.rounds.save_draft(
        round_.id, 45, author_id=WANG, text="联合执法", document=PDF, chat_id=WANG,
        source_update=300,
    )  # fmt: skip
    same = await storage.rounds.save_draft(
        round_.id, 45, author_id=WANG, text="联合执法", document=PDF, chat_id=WANG,
        source_update=300,
    )  # fmt: skip
    assert same == draft and await storage.rounds.draft(draft.id) == draft
    recorded = await storage.rounds.submit(
        round_.id, 45, "samr", author_id=WANG, text=draft.text, document=draft.document,
        chat_id=WANG, deadline=DEADLINE, source_update=301, draft_id=draft.id,
    )  # fmt: skip
    twice = await storage.rounds.submit(
        round_.id, 45, "gacc", author_id=WANG, text=draft.text, document=draft.document,
        chat_id=WANG, deadline=DEADLINE, source_update=302, draft_id=draft.id,
    )  # fmt: skip
    assert twice.statement == recorded.statement, "a draft is recorded once"
    await storage.rounds.remember_prompt(GROUP, 42, round_.id, 33, "samr")
    prompt = await storage.rounds.prompt_of(GROUP, 42)
    assert prompt is not None and (prompt.round_id, prompt.task, prompt.dept) == (
        round_.id,
        33,
        "samr",
    )
    assert await storage.rounds.prompt_of(GROUP, 43) is None


async def test_compiled_holds_every_statement_under_its_task(
    storage: Storage, plan: Plan, clock: FakeClock
) -> None:
    await people(storage)
    round_ = (
        await storage.rounds.open("上半年", DUE, opened_by=1, owed=owed_statements(plan))
    ).round
    for task, dept, author, text, document in (
        (3, "samr", WANG, "初稿", None),
        (3, "samr", WANG, "终稿", PDF),
        (45, "samr", WANG, "联合执法", None),
        (6, "gacc", LI, "口岸", None),
    ):
        await storage.rounds.submit(
            round_.id, task, dept, author_id=author, text=text, document=document,
            chat_id=GROUP, deadline=DEADLINE,
        )  # fmt: skip
    clock.now = DEADLINE.astimezone(UTC) + timedelta(hours=1)
    await storage.rounds.submit(
        round_.id, 45, "gacc", author_id=LI, text="补报", document=None, chat_id=LI,
        deadline=DEADLINE,
    )  # fmt: skip
    made = await compiled(storage, plan, round_.id, zone=SHANGHAI)
    assert [task.number for task in made.tasks] == [task.number for task in plan.tasks]
    found = {
        (task.number, code): (s.text, s.file_name, s.late, s.author)
        for task in made.tasks
        for code, s in task.statements.items()
    }
    assert found == {
        (3, "samr"): ("终稿", "方案.pdf", False, "Wang"),
        (45, "samr"): ("联合执法", None, False, "Wang"),
        (45, "gacc"): ("补报", None, True, "Li"),
        (6, "gacc"): ("口岸", None, False, "Li"),
    }
    task45 = next(task for task in made.tasks if task.number == 45)
    assert (task45.lead, task45.participants) == (plan.task(45).lead, plan.task(45).participants)  # type: ignore[union-attr]
    assert task45.statements["gacc"].submitted_at.tzinfo == SHANGHAI
    assert (made.title, made.due, made.closed_at, made.plan_year) == ("上半年", DUE, None, 2024)
    # Worst first: the most missing, then the most late.
    assert made.tally[0].dept == "cnipa" and made.tally[0].missing == 48
    tally = {x.dept: x for x in made.tally}
    assert (
        tally["gacc"].owed,
        tally["gacc"].on_time,
        tally["gacc"].late,
        tally["gacc"].missing,
    ) == (5, 1, 1, 3)
    assert (tally["samr"].on_time, tally["samr"].missing) == (2, 9)
    assert sum(x.owed for x in made.tally) == 230
    assert await round_summary(storage, round_.id, plan) == made.tally
    summary = await round_summary(storage, round_.id)
    assert {x.dept: x for x in summary} == tally
    with pytest.raises(LookupError):
        await compiled(storage, plan, 99)


async def test_a_round_of_an_earlier_year_is_not_compiled_with_this_plan(
    tmp_path: Path, plan: Plan
) -> None:
    store = Storage(tmp_path / "bot.db", clock=FakeClock(datetime(2026, 11, 23, 2, tzinfo=UTC)))
    await store.open(plan_year=2024)
    try:
        round_ = (await store.rounds.open("上半年", DUE, opened_by=1, owed=[])).round
        later = plan.model_copy(update={"year": 2025})
        with pytest.raises(ValueError, match="2024 plan"):
            await compiled(store, later, round_.id)
    finally:
        await store.close()
