"""The storage API as its callers see it, against a real SQLite file and a clock we move by hand."""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone

import pytest

from storage import Storage
from storage.digests import DigestChat, iso_week
from storage.people import WHOLE_PLAN, Redeemed, Role
from storage.subscriptions import EVERYTHING, Follow, Subscription
from storage.updates import Status, StatusUpdate, _made_between
from tests import rows
from tests.conftest import PLAN_YEAR, FakeClock

SHANGHAI = timezone(timedelta(hours=8))
LI, WANG, ZHAO = 1, 2, 3
GROUP, OTHER = -100, -200


async def person(storage: Storage, user_id: int = LI, name: str = "Li Wei") -> None:
    await storage.users.seen(user_id, full_name=name, username=f"user{user_id}", language="zh")


async def group(storage: Storage, chat_id: int = GROUP, title: str = "CNIPA") -> None:
    await storage.chats.seen(chat_id, type="group", title=title)


async def bound(storage: Storage, chat_id: int = GROUP) -> None:
    """A group bound to CNIPA: a chat the weekly digest is for."""
    await group(storage, chat_id)
    await storage.chats.bind(chat_id, "cnipa", by=LI)


async def digest_of(storage: Storage, chat_id: int, week: str = "2026-W48") -> DigestChat | None:
    """A chat's digest as the scheduler reads it: its settings, and whether the week's went."""
    return await storage.digest_queue.chat(chat_id, week)


async def notified(storage: Storage, task: int, departments: list[str]) -> list[int]:
    """The chats owed a notification of a new update on ``task`` (made in no chat)."""
    recorded = await storage.updates.record(
        task, author_id=LI, dept=None, chat_id=None, note="n", departments=departments
    )
    owed = await storage.db.fetchall(
        "SELECT chat_id FROM outbox WHERE update_id = ? ORDER BY chat_id", (recorded.update.id,)
    )
    return [row[0] for row in owed]


async def report(storage: Storage, task: int, **fields: object) -> StatusUpdate:
    """One update by Li Wei (who must have been seen) for CNIPA from the group."""
    recorded = await storage.updates.record(
        task, author_id=LI, dept="cnipa", chat_id=GROUP, **fields
    )
    return recorded.update


# --- users ----------------------------------------------------------------------------------


async def test_user_seen_inserts_then_refreshes(storage: Storage) -> None:
    await storage.users.seen(LI, full_name="Li Wei", username="liwei", language="zh")
    user = await storage.users.get(LI)
    assert user is not None
    assert (user.user_id, user.full_name, user.username, user.language) == (
        LI,
        "Li Wei",
        "liwei",
        "zh",
    )

    await storage.users.seen(LI, full_name="李伟", username="li_wei", language="en")
    user = await storage.users.get(LI)
    assert user is not None
    assert (user.full_name, user.username, user.language) == ("李伟", "li_wei", "en")


async def test_unknown_user_is_none(storage: Storage) -> None:
    await person(storage)
    assert await storage.users.get(WANG) is None


# --- chats ----------------------------------------------------------------------------------


async def test_chat_seen_upserts_and_keeps_settings(storage: Storage) -> None:
    assert await storage.chats.get(GROUP) is None
    await storage.chats.seen(GROUP, type="group", title="Old title")
    chat = await storage.chats.get(GROUP)
    assert chat is not None
    assert (chat.type, chat.title, chat.language, chat.binding, chat.active) == (
        "group",
        "Old title",
        None,
        None,
        True,
    )
    assert chat.is_group

    await storage.chats.set_language(GROUP, "en")
    await storage.chats.bind(GROUP, "cnipa", by=LI)
    await storage.chats.seen(GROUP, type="supergroup", title="New title")
    chat = await storage.chats.get(GROUP)
    assert chat is not None
    assert (chat.type, chat.title, chat.language, chat.binding) == (
        "supergroup",
        "New title",
        "en",
        "cnipa",
    )


async def test_private_chat_is_not_a_group(storage: Storage) -> None:
    await storage.chats.seen(LI, type="private")
    chat = await storage.chats.get(LI)
    assert chat is not None and not chat.is_group


async def test_set_language_and_clear_it(storage: Storage) -> None:
    await group(storage)
    await storage.chats.set_language(GROUP, "zh")
    assert (await storage.chats.get(GROUP)).language == "zh"
    await storage.chats.set_language(GROUP, None)
    assert (await storage.chats.get(GROUP)).language is None


async def test_bind_to_dept_and_whole_plan_then_unbind(storage: Storage) -> None:
    await group(storage, GROUP)
    await group(storage, OTHER, "Everyone")
    await storage.chats.bind(GROUP, "cnipa", by=LI)
    await storage.chats.bind(OTHER, WHOLE_PLAN, by=LI)

    assert await rows.bound_chats(storage, "cnipa") == [GROUP]
    assert await rows.bound_chats(storage, WHOLE_PLAN) == [OTHER]
    assert (await storage.chats.get(OTHER)).binding == "*"
    assert await rows.bound_chats(storage, "mof") == []

    assert await storage.chats.unbind(GROUP) == "cnipa"
    assert (await storage.chats.get(GROUP)).binding is None
    assert await rows.bound_chats(storage, "cnipa") == []
    assert await storage.chats.unbind(GROUP) is None, "nothing left to unbind"
    assert await storage.chats.unbind(12345) is None, "unknown chat"
    assert await rows.bound_chats(storage, WHOLE_PLAN) == [OTHER]


async def test_rebinding_replaces_the_binding(storage: Storage) -> None:
    await group(storage)
    await storage.chats.bind(GROUP, "cnipa", by=LI)
    await storage.chats.bind(GROUP, "mof", by=LI)
    assert await rows.bound_chats(storage, "cnipa") == []
    assert await rows.bound_chats(storage, "mof") == [GROUP]


async def test_set_active_false_with_reason_then_back(storage: Storage) -> None:
    await group(storage)
    await storage.chats.set_active(GROUP, False, reason="bot was kicked")
    assert (await storage.chats.get(GROUP)).active is False
    reason = "SELECT inactive_reason FROM chats WHERE chat_id = ?"
    assert await storage.db.fetchvalue(reason, (GROUP,)) == "bot was kicked"

    await storage.chats.set_active(GROUP, True, reason="ignored")
    assert (await storage.chats.get(GROUP)).active is True
    assert await storage.db.fetchvalue(reason, (GROUP,)) is None


async def _chat_with_everything(storage: Storage, chat_id: int) -> int:
    """A bound group with a subscription, digest settings, a logged digest and a queued message."""
    await person(storage)
    await group(storage, chat_id)
    await storage.chats.bind(chat_id, "cnipa", by=LI)
    await storage.chats.set_language(chat_id, "zh")
    assert await storage.subscriptions.add(chat_id, Follow.DEPT, "cnipa", by=LI)
    assert await storage.subscriptions.add(chat_id, Follow.TASK, "5", by=LI)
    await storage.digests.save(chat_id, weekday=3, at_time="10:30")
    await storage.db.execute(
        "INSERT INTO digest_log (chat_id, iso_week, created_at) VALUES (?, '2026-W48', ?)",
        (chat_id, storage.db.now()),
    )
    item = await rows.owe(storage, chat_id, "notification", {"text": "hi"})
    assert item is not None
    return item


async def test_migrate_to_an_unknown_id_carries_everything(storage: Storage) -> None:
    new = -1001234
    item = await _chat_with_everything(storage, GROUP)

    await storage.chats.migrate(GROUP, new)

    assert await storage.chats.get(GROUP) is None
    chat = await storage.chats.get(new)
    assert chat is not None
    assert (chat.type, chat.binding, chat.language, chat.title) == (
        "supergroup",
        "cnipa",
        "zh",
        "CNIPA",
    )
    assert await rows.bound_chats(storage, "cnipa") == [new]
    assert await storage.subscriptions.of_chat(new) == [
        Subscription(new, Follow.DEPT, "cnipa"),
        Subscription(new, Follow.TASK, "5", PLAN_YEAR),
    ]
    assert await storage.subscriptions.of_chat(GROUP) == []
    digest = await digest_of(storage, new)
    assert digest is not None
    assert (digest.settings.weekday, digest.settings.at_time, digest.sent_this_week) == (
        3,
        "10:30",
        True,
    )
    assert await digest_of(storage, GROUP) is None
    queued = await storage.outbox.get(item)
    assert queued is not None and queued.chat_id == new
    assert [i.chat_id for i in await storage.outbox.next_per_chat()] == [new]


async def test_migrate_into_an_existing_chat_merges(storage: Storage) -> None:
    new = -1001234
    item = await _chat_with_everything(storage, GROUP)
    await storage.chats.seen(new, type="supergroup", title="CNIPA")
    assert await storage.subscriptions.add(new, Follow.TASK, "5", by=WANG)
    assert await storage.subscriptions.add(new, Follow.TASK, "7", by=WANG)

    await storage.chats.migrate(GROUP, new)

    assert await storage.chats.get(GROUP) is None
    chat = await storage.chats.get(new)
    assert chat is not None
    assert (chat.type, chat.binding, chat.language) == ("supergroup", "cnipa", "zh")
    assert await storage.subscriptions.of_chat(new) == [
        Subscription(new, Follow.DEPT, "cnipa"),
        Subscription(new, Follow.TASK, "5", PLAN_YEAR),
        Subscription(new, Follow.TASK, "7", PLAN_YEAR),
    ]
    assert await storage.subscriptions.of_chat(GROUP) == []
    assert await notified(storage, 5, []) == [new]
    digest = await digest_of(storage, new)
    assert digest is not None and digest.settings.weekday == 3 and digest.sent_this_week
    assert (await storage.outbox.get(item)).chat_id == new
    remaining = await storage.db.fetchvalue(
        "SELECT (SELECT count(*) FROM subscriptions WHERE chat_id = :c)"
        " + (SELECT count(*) FROM outbox WHERE chat_id = :c)"
        " + (SELECT count(*) FROM digest_settings WHERE chat_id = :c)"
        " + (SELECT count(*) FROM digest_log WHERE chat_id = :c)",
        {"c": GROUP},
    )
    assert remaining == 0


async def test_migrate_to_the_same_id_changes_nothing(storage: Storage) -> None:
    await _chat_with_everything(storage, GROUP)
    await storage.chats.migrate(GROUP, GROUP)
    chat = await storage.chats.get(GROUP)
    assert chat is not None and chat.binding == "cnipa"
    assert await storage.subscriptions.of_chat(GROUP) != []


async def test_migrate_into_an_existing_chat_moves_who_bound_it(storage: Storage) -> None:
    new = -1001234
    await _chat_with_everything(storage, GROUP)
    await storage.chats.seen(new, type="supergroup", title="CNIPA")
    await storage.chats.migrate(GROUP, new)
    row = await storage.db.fetchone(
        "SELECT bound_by, bound_at FROM chats WHERE chat_id = ?", (new,)
    )
    assert row is not None and row["bound_by"] is not None and row["bound_at"] is not None


async def test_migrate_into_an_existing_chat_keeps_its_own_settings(storage: Storage) -> None:
    new = -1001234
    await _chat_with_everything(storage, GROUP)
    await storage.chats.seen(new, type="supergroup", title="CNIPA")
    await storage.chats.bind(new, "mof", by=WANG)
    await storage.chats.set_language(new, "en")
    await storage.digests.save(new, weekday=5)

    await storage.chats.migrate(GROUP, new)

    chat = await storage.chats.get(new)
    assert (chat.binding, chat.language) == ("mof", "en")
    assert (await digest_of(storage, new)).settings.weekday == 5
    assert await storage.chats.get(GROUP) is None
    assert await rows.bound_chats(storage, "cnipa") == []


# --- memberships ----------------------------------------------------------------------------


async def test_joining_again_as_manager_promotes(storage: Storage) -> None:
    await person(storage)
    await rows.join(storage, LI, "cnipa", Role.MEMBER)
    assert [m.role for m in await storage.memberships.of_user(LI)] == [Role.MEMBER]
    await rows.join(storage, LI, "cnipa", Role.MANAGER)
    assert [m.role for m in await storage.memberships.of_user(LI)] == [Role.MANAGER]


async def test_joining_again_as_member_does_not_demote(storage: Storage) -> None:
    await person(storage)
    await rows.join(storage, LI, "cnipa", Role.MANAGER)
    await rows.join(storage, LI, "cnipa", Role.MEMBER)
    memberships = await storage.memberships.of_user(LI)
    assert [(m.dept, m.role) for m in memberships] == [("cnipa", Role.MANAGER)]


async def test_memberships_of_user_and_the_roster_and_remove(
    storage: Storage, clock: FakeClock
) -> None:
    await person(storage, LI)
    await person(storage, WANG, "Wang Fang")
    joined = clock.now
    await rows.join(storage, LI, "cnipa", Role.MANAGER)
    clock.advance(hours=1)
    await rows.join(storage, WANG, "cnipa", Role.MEMBER)
    await rows.join(storage, LI, "mof", Role.MEMBER)

    mine = await storage.memberships.of_user(LI)
    assert [(m.user_id, m.dept, m.role) for m in mine] == [
        (LI, "cnipa", Role.MANAGER),
        (LI, "mof", Role.MEMBER),
    ]
    assert mine[0].joined_at == joined
    cnipa = await storage.memberships.roster("cnipa")
    assert [(m.user_id, m.role) for m in cnipa] == [(LI, Role.MANAGER), (WANG, Role.MEMBER)]
    assert await storage.memberships.roster("nobody") == []

    assert await storage.memberships.remove(LI, "cnipa") is True
    assert await storage.memberships.remove(LI, "cnipa") is False
    assert [m.dept for m in await storage.memberships.of_user(LI)] == ["mof"]
    assert [m.user_id for m in await storage.memberships.roster("cnipa")] == [WANG]


async def test_a_membership_for_an_unknown_user_is_refused(storage: Storage) -> None:
    assert await storage.db.fetchvalue("PRAGMA foreign_keys") == 1
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await rows.join(storage, 999, "cnipa", Role.MEMBER)
    assert await storage.memberships.roster("cnipa") == []
    # The failed write was rolled back: the next one goes through.
    await person(storage)
    await rows.join(storage, LI, "cnipa", Role.MEMBER)
    assert [m.user_id for m in await storage.memberships.roster("cnipa")] == [LI]


# --- invites --------------------------------------------------------------------------------


async def test_invite_code_and_expiry(storage: Storage, clock: FakeClock) -> None:
    await person(storage)
    invite = await storage.invites.create("cnipa", Role.MEMBER, created_by=LI)
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", invite.code)
    assert invite.created_at == clock.now
    assert invite.expires_at == clock.now + timedelta(days=7)
    assert (invite.dept, invite.role, invite.created_by, invite.used_by) == (
        "cnipa",
        Role.MEMBER,
        LI,
        None,
    )
    assert await storage.invites.get(invite.code) == invite
    other = await storage.invites.create("cnipa", Role.MEMBER, created_by=LI)
    assert other.code != invite.code


@pytest.mark.parametrize("role", list(Role))
async def test_redeem_joins_with_the_invites_role(storage: Storage, role: Role) -> None:
    await person(storage, LI)
    await person(storage, WANG, "Wang Fang")
    invite = await storage.invites.create("cnipa", role, created_by=LI)

    redemption = await storage.invites.redeem(invite.code, WANG)

    assert redemption.outcome is Redeemed.JOINED
    assert redemption.invite is not None and redemption.invite.code == invite.code
    assert redemption.invite.used_by == WANG
    memberships = await storage.memberships.of_user(WANG)
    assert [(m.dept, m.role) for m in memberships] == [("cnipa", role)]
    stored = await storage.invites.get(invite.code)
    assert stored is not None and stored.used_by == WANG


@pytest.mark.parametrize("second", [WANG, ZHAO])
async def test_an_invite_is_used_once(storage: Storage, second: int) -> None:
    for user_id in (LI, WANG, ZHAO):
        await person(storage, user_id, f"User {user_id}")
    invite = await storage.invites.create("cnipa", Role.MANAGER, created_by=LI)
    assert (await storage.invites.redeem(invite.code, WANG)).outcome is Redeemed.JOINED

    again = await storage.invites.redeem(invite.code, second)

    assert again.outcome is Redeemed.USED
    assert again.invite is not None and again.invite.used_by == WANG
    assert await storage.memberships.of_user(ZHAO) == []
    assert [m.user_id for m in await storage.memberships.roster("cnipa")] == [WANG]


@pytest.mark.parametrize(
    ("elapsed", "outcome"),
    [
        (timedelta(days=7) - timedelta(microseconds=1), Redeemed.JOINED),
        (timedelta(days=7), Redeemed.EXPIRED),
        (timedelta(days=30), Redeemed.EXPIRED),
    ],
)
async def test_an_invite_expires_after_seven_days(
    storage: Storage, clock: FakeClock, elapsed: timedelta, outcome: Redeemed
) -> None:
    await person(storage, LI)
    await person(storage, WANG, "Wang Fang")
    invite = await storage.invites.create("cnipa", Role.MEMBER, created_by=LI)
    clock.advance(seconds=elapsed.total_seconds())

    redemption = await storage.invites.redeem(invite.code, WANG)

    assert redemption.outcome is outcome
    joined = outcome is Redeemed.JOINED
    assert bool(await storage.memberships.of_user(WANG)) is joined
    assert ((await storage.invites.get(invite.code)).used_by == WANG) is joined


async def test_an_unknown_code(storage: Storage) -> None:
    await person(storage)
    redemption = await storage.invites.redeem("no-such-code-000", LI)
    assert redemption.outcome is Redeemed.UNKNOWN
    assert redemption.invite is None
    assert await storage.invites.get("no-such-code-000") is None
    assert await storage.memberships.of_user(LI) == []


async def test_a_member_invite_does_not_demote_a_manager(storage: Storage) -> None:
    await person(storage, LI)
    await person(storage, WANG, "Wang Fang")
    await rows.join(storage, WANG, "cnipa", Role.MANAGER)
    invite = await storage.invites.create("cnipa", Role.MEMBER, created_by=LI)
    assert (await storage.invites.redeem(invite.code, WANG)).outcome is Redeemed.JOINED
    assert [m.role for m in await storage.memberships.of_user(WANG)] == [Role.MANAGER]


# --- status updates -------------------------------------------------------------------------


async def test_a_first_status_update(storage: Storage, clock: FakeClock) -> None:
    await person(storage)
    assert await storage.updates.state(7) is None

    update = await report(storage, 7, status=Status.IN_PROGRESS, progress=30, note="started")

    assert (update.task, update.kind, update.old_status, update.status) == (
        7,
        "status",
        Status.NOT_STARTED,
        Status.IN_PROGRESS,
    )
    assert (update.progress, update.note, update.author_id, update.author_name) == (
        30,
        "started",
        LI,
        "Li Wei",
    )
    assert (update.dept, update.chat_id, update.created_at) == ("cnipa", GROUP, clock.now)
    state = await storage.updates.state(7)
    assert state is not None
    assert (state.status, state.progress, state.last_update_id) == (
        Status.IN_PROGRESS,
        30,
        update.id,
    )
    assert state.updated_at == state.status_changed_at == clock.now


async def test_a_note_changes_neither_status_nor_progress(
    storage: Storage, clock: FakeClock
) -> None:
    await person(storage)
    first = await report(storage, 7, status=Status.BLOCKED, progress=40)
    clock.advance(hours=2)

    note = await report(storage, 7, note="waiting for the ministry")

    assert (note.kind, note.old_status, note.status, note.progress) == (
        "note",
        Status.BLOCKED,
        Status.BLOCKED,
        None,
    )
    state = await storage.updates.state(7)
    assert (state.status, state.progress, state.last_update_id) == (Status.BLOCKED, 40, note.id)
    assert state.updated_at == clock.now
    assert state.status_changed_at == first.created_at


async def test_a_note_on_an_unreported_task(storage: Storage) -> None:
    await person(storage)
    note = await report(storage, 9, note="first look")
    assert (note.kind, note.old_status, note.status) == (
        "note",
        Status.NOT_STARTED,
        Status.NOT_STARTED,
    )
    state = await storage.updates.state(9)
    assert (state.status, state.progress, state.status_changed_at) == (
        Status.NOT_STARTED,
        None,
        None,
    )


async def test_a_progress_only_update_keeps_the_status(storage: Storage) -> None:
    await person(storage)
    await report(storage, 7, status=Status.IN_PROGRESS, progress=10)

    update = await report(storage, 7, progress=60)

    assert (update.kind, update.old_status, update.status, update.progress) == (
        "status",
        Status.IN_PROGRESS,
        Status.IN_PROGRESS,
        60,
    )
    state = await storage.updates.state(7)
    assert (state.status, state.progress) == (Status.IN_PROGRESS, 60)


@pytest.mark.parametrize(
    ("before", "change", "after"),
    [
        ((Status.DONE, 100), {"status": Status.NOT_STARTED}, None),
        ((Status.DONE, 100), {"status": Status.IN_PROGRESS}, None),
        ((Status.DONE, 100), {"status": Status.BLOCKED}, None),
        ((Status.IN_PROGRESS, 60), {"status": Status.BLOCKED}, 60),
        ((Status.IN_PROGRESS, 60), {"status": Status.NOT_STARTED}, None),
        ((Status.IN_PROGRESS, 60), {"status": Status.DONE}, 100),
        ((Status.IN_PROGRESS, 60), {"status": Status.IN_PROGRESS}, 60),  # no change: kept
        ((Status.IN_PROGRESS, 60), {"note": "a note"}, 60),
        ((Status.DONE, 100), {"status": Status.NOT_STARTED, "progress": 10}, 10),  # given
        ((Status.BLOCKED, 100), {"status": Status.IN_PROGRESS, "progress": 90}, 90),
    ],
)
async def test_a_status_change_without_a_figure_drops_one_that_no_longer_holds(
    storage: Storage, before: tuple[Status, int], change: dict[str, object], after: int | None
) -> None:
    await person(storage)
    await report(storage, 7, status=before[0], progress=before[1])
    await report(storage, 7, **change)
    assert (await storage.updates.state(7)).progress == after


async def test_status_changed_at_moves_only_when_the_status_changes(
    storage: Storage, clock: FakeClock
) -> None:
    await person(storage)
    started = clock.now
    await report(storage, 7, status=Status.IN_PROGRESS)
    clock.advance(days=1)
    await report(storage, 7, progress=50)
    clock.advance(days=1)
    await report(storage, 7, status=Status.IN_PROGRESS, note="still on it")
    clock.advance(days=1)
    await report(storage, 7, note="a note")

    state = await storage.updates.state(7)
    assert state.status_changed_at == started
    assert state.updated_at == clock.now

    finished = clock.advance(days=1)
    await report(storage, 7, status=Status.DONE, progress=100)
    state = await storage.updates.state(7)
    assert state.status_changed_at == state.updated_at == finished
    assert (state.status, state.progress) == (Status.DONE, 100)


async def test_history_is_newest_first_with_author_names(
    storage: Storage, clock: FakeClock
) -> None:
    await person(storage, LI, "Li Wei")
    await storage.users.seen(WANG, full_name="", username="wangfang")
    ids = []
    for i in range(7):
        clock.advance(minutes=1)
        author = LI if i % 2 == 0 else WANG
        recorded = await storage.updates.record(
            7, author_id=author, dept="cnipa", chat_id=GROUP, progress=i * 10
        )
        ids.append(recorded.update.id)
    await report(storage, 8, note="another task")

    history = await storage.updates.history(7, limit=5)

    assert [u.id for u in history] == ids[::-1][:5]
    assert [u.progress for u in history] == [60, 50, 40, 30, 20]
    assert [u.author_name for u in history] == ["Li Wei", "wangfang"] * 2 + ["Li Wei"]
    assert [u.id for u in await storage.updates.history(7, limit=100)] == ids[::-1]
    assert await storage.updates.history(99) == []

    await storage.users.seen(WANG, full_name="王芳", username="wangfang")
    newest_two = await storage.updates.history(7, limit=2)
    assert [u.author_name for u in newest_two] == ["Li Wei", "王芳"]


async def test_between_includes_start_and_excludes_end(storage: Storage, clock: FakeClock) -> None:
    await person(storage)
    t0 = clock.now
    a = await report(storage, 1, status=Status.IN_PROGRESS)
    t1 = clock.advance(hours=1)
    b = await report(storage, 2, status=Status.IN_PROGRESS)
    c = await report(storage, 3, note="same moment")
    t2 = clock.advance(hours=1)
    d = await report(storage, 1, status=Status.DONE)

    def ids(updates) -> list[int]:
        return [u.id for u in updates]

    assert ids(await storage.updates.between(t1, t2)) == [b.id, c.id]
    assert ids(await storage.updates.between(t0, t2)) == [a.id, b.id, c.id]
    end = t2 + timedelta(microseconds=1)
    assert ids(await storage.updates.between(t0, end)) == [a.id, b.id, c.id, d.id]
    assert ids(await storage.updates.between(t0 + timedelta(microseconds=1), t1)) == []
    assert ids(await storage.updates.between(t0, end, tasks=[1, 3])) == [a.id, c.id, d.id]
    assert ids(await storage.updates.between(t0, end, tasks=iter([2, 2]))) == [b.id]
    assert await storage.updates.between(t0, end, tasks=[]) == []
    # Moments in another time zone are the same moments.
    local = await storage.updates.between(t1.astimezone(SHANGHAI), t2.astimezone(SHANGHAI))
    assert ids(local) == [b.id, c.id]
    assert await storage.updates.count_between(t0, end, tasks=[1, 3]) == 3
    assert ids(await storage.updates.between(t0, end, tasks=[1, 3], limit=2)) == [a.id, c.id]
    assert await storage.updates.count_between(t1, t2) == 2


async def test_a_week_of_some_tasks_is_read_by_time_not_by_task(storage: Storage) -> None:
    # Without statistics SQLite picked the by-task index for a few hundred tasks and read every
    # update they ever had; a digest's week is a thin slice of time however many tasks it spans.
    start = datetime(2026, 11, 23, tzinfo=UTC)
    where, params = _made_between(PLAN_YEAR, start, start + timedelta(days=7), range(1, 400))
    plan = await storage.db.fetchall(
        f"EXPLAIN QUERY PLAN SELECT count(*) FROM status_updates AS u WHERE {where}", params
    )
    assert [row[3] for row in plan] == [
        "SEARCH u USING INDEX status_updates_by_time (created_at>? AND created_at<?)"
    ]


async def test_states(storage: Storage) -> None:
    await person(storage)
    await report(storage, 1, status=Status.DONE, progress=100)
    await report(storage, 2, status=Status.BLOCKED)
    last = await report(storage, 10, progress=5)

    everything = await storage.updates.states()
    assert {t: s.status for t, s in everything.items()} == {
        1: Status.DONE,
        2: Status.BLOCKED,
        10: Status.NOT_STARTED,
    }
    some = await storage.updates.states([10, 2, 404])
    assert sorted(some) == [2, 10]
    assert (some[10].progress, some[10].last_update_id) == (5, last.id)
    assert await storage.updates.states([]) == {}
    assert await storage.updates.state(10) == some[10]
    assert await storage.updates.state(404) is None


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"note": ""},
        {"progress": 101},
        {"progress": -1},
        {"status": Status.DONE, "progress": 150},
    ],
)
async def test_invalid_updates_are_refused(storage: Storage, fields: dict) -> None:
    await person(storage)
    with pytest.raises(ValueError):
        await report(storage, 7, **fields)
    assert await rows.update_count(storage) == 0
    assert await storage.updates.state(7) is None


async def test_progress_bounds_are_accepted(storage: Storage) -> None:
    await person(storage)
    assert (await report(storage, 7, progress=0)).progress == 0
    assert (await report(storage, 7, progress=100)).progress == 100


async def test_an_update_is_committed_when_record_returns(storage: Storage) -> None:
    await person(storage)
    update = await report(storage, 7, status=Status.IN_PROGRESS, note="进展顺利")

    with closing(sqlite3.connect(storage.db.path)) as conn:
        row = conn.execute(
            "SELECT task, status, note, author_id FROM status_updates WHERE id = ?", (update.id,)
        ).fetchone()
        state = conn.execute(
            "SELECT status, last_update_id FROM task_state WHERE task = 7"
        ).fetchone()
    assert row == (7, "in_progress", "进展顺利", LI)
    assert state == ("in_progress", update.id)


async def test_concurrent_updates_to_one_task(storage: Storage) -> None:
    await person(storage)
    cycle = [Status.IN_PROGRESS, Status.BLOCKED, Status.DONE]

    updates = await asyncio.gather(
        *(report(storage, 7, status=cycle[i % 3], progress=i) for i in range(50))
    )

    assert await rows.update_count(storage, 7) == 50
    assert await rows.update_count(storage) == 50
    ids = [u.id for u in updates]
    assert len(set(ids)) == 50
    state = await storage.updates.state(7)
    newest = max(updates, key=lambda u: u.id)
    assert state.last_update_id == max(ids) == newest.id
    assert (state.status, state.progress) == (newest.status, newest.progress)
    # Each update saw the one before it: no two read the same old state.
    chain = sorted(updates, key=lambda u: u.id)
    assert chain[0].old_status is Status.NOT_STARTED
    for before, after in itertools.pairwise(chain):
        assert after.old_status is before.status


# --- subscriptions --------------------------------------------------------------------------


async def test_add_and_remove_subscriptions(storage: Storage) -> None:
    await group(storage)
    assert await storage.subscriptions.add(GROUP, Follow.TASK, "7", by=LI) is True
    assert await storage.subscriptions.add(GROUP, Follow.TASK, "7", by=WANG) is False
    assert await storage.subscriptions.add(GROUP, Follow.DEPT, "7", by=LI) is True
    assert await storage.subscriptions.remove(GROUP, Follow.TASK, "7") is True
    assert await storage.subscriptions.remove(GROUP, Follow.TASK, "7") is False
    assert await storage.subscriptions.of_chat(GROUP) == [Subscription(GROUP, Follow.DEPT, "7")]


async def test_a_subscription_needs_a_known_chat(storage: Storage) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await storage.subscriptions.add(GROUP, Follow.ALL, EVERYTHING, by=None)


async def test_of_chat_order(storage: Storage) -> None:
    await group(storage)
    await group(storage, OTHER)
    for kind, target in [
        (Follow.TASK, "10"),
        (Follow.DEPT, "mof"),
        (Follow.TASK, "2"),
        (Follow.ALL, EVERYTHING),
        (Follow.DEPT, "cnipa"),
        (Follow.TASK, "101"),
    ]:
        assert await storage.subscriptions.add(GROUP, kind, target, by=LI)
    await storage.subscriptions.add(OTHER, Follow.TASK, "3", by=LI)

    assert [(s.kind, s.target) for s in await storage.subscriptions.of_chat(GROUP)] == [
        (Follow.ALL, "*"),
        (Follow.DEPT, "cnipa"),
        (Follow.DEPT, "mof"),
        (Follow.TASK, "2"),
        (Follow.TASK, "10"),
        (Follow.TASK, "101"),
    ]
    assert await storage.subscriptions.of_chat(12345) == []


async def test_an_update_is_owed_once_to_each_chat_following_it(storage: Storage) -> None:
    await person(storage)
    everything, by_task, by_dept, inactive, unrelated = -1, -2, -3, -4, -5
    for chat_id in (everything, by_task, by_dept, inactive, unrelated):
        await group(storage, chat_id)
    follow = storage.subscriptions.add
    # One chat follows task 7 three ways; it must come back once.
    await follow(everything, Follow.ALL, EVERYTHING, by=LI)
    await follow(everything, Follow.TASK, "7", by=LI)
    await follow(everything, Follow.DEPT, "cnipa", by=LI)
    await follow(by_task, Follow.TASK, "7", by=LI)
    await follow(by_dept, Follow.DEPT, "mof", by=LI)
    await follow(inactive, Follow.ALL, EVERYTHING, by=LI)
    await follow(inactive, Follow.TASK, "7", by=LI)
    await storage.chats.set_active(inactive, False, reason="blocked")
    await follow(unrelated, Follow.TASK, "70", by=LI)
    await follow(unrelated, Follow.TASK, "17", by=LI)
    await follow(unrelated, Follow.DEPT, "ndrc", by=LI)

    # Each list is sorted and without repeats: a chat following three ways is owed one message.
    assert await notified(storage, 7, ["cnipa", "mof"]) == sorted([everything, by_task, by_dept])
    assert await notified(storage, 7, []) == sorted([everything, by_task])
    assert await notified(storage, 8, ["cnipa"]) == [everything]
    assert await notified(storage, 8, ["mof"]) == sorted([everything, by_dept])

    await storage.chats.set_active(inactive, True)
    assert inactive in await notified(storage, 8, [])


# --- outbox ---------------------------------------------------------------------------------


async def test_enqueue_with_a_dedup_key(storage: Storage) -> None:
    await group(storage)
    first = await rows.owe(storage, GROUP, "notification", {"n": 1}, dedup_key="u1:-100")
    assert isinstance(first, int)
    again = await rows.owe(storage, GROUP, "notification", {"n": 2}, dedup_key="u1:-100")
    assert again is None
    other = await rows.owe(storage, GROUP, "notification", {"n": 3}, dedup_key="u2:-100")
    assert other is not None and other != first
    no_keys = [await rows.owe(storage, GROUP, "notification", {}) for _ in range(2)]
    assert None not in no_keys and no_keys[0] != no_keys[1]
    assert [i.payload for i in await rows.pending(storage)] == [{"n": 1}, {"n": 3}, {}, {}]


async def test_a_message_waits_for_not_before(storage: Storage, clock: FakeClock) -> None:
    await group(storage, GROUP)
    await group(storage, OTHER)
    now = await rows.owe(storage, GROUP, "notification", {"when": "now"})
    later = await rows.owe(
        storage, OTHER, "text", {"when": "later"}, not_before=clock.now + timedelta(hours=1)
    )
    due = storage.outbox.next_per_chat
    assert [i.id for i in await due()] == [now]

    clock.advance(minutes=59)
    assert [i.id for i in await due()] == [now]
    clock.advance(minutes=1)
    assert [i.id for i in await due()] == [now, later]
    assert [i.id for i in await due(limit=1)] == [now]
    item = await storage.outbox.get(later)
    assert (item.chat_id, item.kind, item.attempts) == (OTHER, "text", 0)
    assert item.not_before == clock.now


async def test_chats_are_offered_by_time_then_id(storage: Storage, clock: FakeClock) -> None:
    third = -300
    for chat in (GROUP, OTHER, third):
        await group(storage, chat)
    soon = clock.now + timedelta(minutes=5)
    b = await rows.owe(storage, GROUP, "text", {}, not_before=soon)
    a = await rows.owe(storage, OTHER, "text", {}, not_before=clock.now.astimezone(SHANGHAI))
    c = await rows.owe(storage, third, "text", {}, not_before=soon)
    clock.advance(minutes=5)
    assert [i.id for i in await storage.outbox.next_per_chat()] == [a, b, c]


async def test_sending_and_sent(storage: Storage) -> None:
    await group(storage)
    item = await rows.owe(storage, GROUP, "notification", {})
    assert await rows.outbox_state(storage, item) == "pending"

    assert await storage.outbox.mark_sending(item) is True
    assert await storage.outbox.mark_sending(item) is False, "claimed once only"
    assert await rows.outbox_state(storage, item) == "sending"
    assert (await storage.outbox.get(item)).attempts == 1
    assert await storage.outbox.next_per_chat() == []

    await storage.outbox.mark_sent(item, message_id=42)
    assert await rows.outbox_state(storage, item) == "sent"
    assert await storage.outbox.next_per_chat() == []
    assert await storage.outbox.mark_sending(item) is False
    message_id = await storage.db.fetchvalue("SELECT message_id FROM outbox WHERE id = ?", (item,))
    assert message_id == 42
    assert await rows.outbox_state(storage, 12345) is None
    assert await storage.outbox.get(12345) is None


async def test_retry_later(storage: Storage, clock: FakeClock) -> None:
    await group(storage)
    item = await rows.owe(storage, GROUP, "notification", {})
    assert await storage.outbox.mark_sending(item)
    retry_at = clock.now + timedelta(seconds=30)

    await storage.outbox.retry_later(item, not_before=retry_at, error="429 " + "x" * 1000)

    assert await rows.outbox_state(storage, item) == "pending"
    assert await storage.outbox.next_per_chat() == []
    clock.advance(seconds=30)
    [due] = await storage.outbox.next_per_chat()
    assert (due.id, due.attempts, due.not_before) == (item, 1, retry_at)
    error = await storage.db.fetchvalue("SELECT last_error FROM outbox WHERE id = ?", (item,))
    assert error.startswith("429 ") and len(error) == 500
    assert await storage.outbox.mark_sending(item)
    assert (await storage.outbox.get(item)).attempts == 2


async def test_mark_failed(storage: Storage) -> None:
    await group(storage)
    item = await rows.owe(storage, GROUP, "notification", {})
    kept = await rows.owe(storage, GROUP, "notification", {})
    await storage.outbox.mark_failed(item, error="400 chat not found")
    assert await rows.outbox_state(storage, item) == "failed"
    assert [i.id for i in await storage.outbox.next_per_chat()] == [kept]
    assert await storage.outbox.mark_sending(item) is False


async def test_an_inactive_chat_gives_up_only_its_own_owed_items(storage: Storage) -> None:
    await group(storage, GROUP)
    await group(storage, OTHER)
    pending = await rows.owe(storage, GROUP, "text", {})
    sending = await rows.owe(storage, GROUP, "text", {})
    sent = await rows.owe(storage, GROUP, "text", {})
    theirs = await rows.owe(storage, OTHER, "text", {})
    await storage.outbox.mark_sending(sending)
    await storage.outbox.mark_sending(sent)
    await storage.outbox.mark_sent(sent, message_id=1)

    assert await storage.chats.set_active(GROUP, False, reason="403 bot was blocked") == 2

    assert [await rows.outbox_state(storage, i) for i in (pending, sending, sent, theirs)] == [
        "failed",
        "failed",
        "sent",
        "pending",
    ]
    assert [i.id for i in await storage.outbox.next_per_chat()] == [theirs]
    assert await storage.chats.set_active(GROUP, True) == 0
    assert [i.id for i in await storage.outbox.next_per_chat()] == [theirs], (
        "nothing stale comes back"
    )


async def test_counts(storage: Storage) -> None:
    await group(storage)
    assert await storage.outbox.counts() == {}
    ids = [await rows.owe(storage, GROUP, "text", {}) for _ in range(5)]
    await storage.outbox.mark_sending(ids[0])
    await storage.outbox.mark_sending(ids[1])
    await storage.outbox.mark_sent(ids[1], message_id=None)
    await storage.outbox.mark_failed(ids[2], error="no")
    assert await storage.outbox.counts() == {"pending": 2, "sending": 1, "sent": 1, "failed": 1}


async def test_payload_round_trips(storage: Storage) -> None:
    await group(storage)
    payload = {
        "text": "任务 7：已完成 ✅🎉",
        "nested": {"progress": 100, "tags": ["国家知识产权局", "🇨🇳"], "none": None},
        "flag": True,
        "ratio": 0.5,
    }
    item = await rows.owe(storage, GROUP, "notification", payload)
    stored = await storage.outbox.get(item)
    assert stored.payload == payload
    [due] = await storage.outbox.next_per_chat()
    assert due.payload == payload
    raw = await storage.db.fetchvalue("SELECT payload FROM outbox WHERE id = ?", (item,))
    assert "任务 7" in raw, "stored as readable UTF-8, not \\u escapes"


async def test_an_outbox_item_needs_a_known_chat(storage: Storage) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await rows.owe(storage, GROUP, "notification", {})
    assert await storage.outbox.counts() == {}


# --- digests --------------------------------------------------------------------------------


async def test_digest_defaults(storage: Storage) -> None:
    await bound(storage)
    settings = (await digest_of(storage, GROUP)).settings
    assert (settings.chat_id, settings.enabled, settings.weekday, settings.at_time) == (
        GROUP,
        True,
        1,
        "09:00",
    )


async def test_saving_some_digest_settings_keeps_the_others(storage: Storage) -> None:
    await bound(storage)
    saved = await storage.digests.save(GROUP, weekday=5, by=LI)
    assert (saved.enabled, saved.weekday, saved.at_time) == (True, 5, "09:00")
    await storage.digests.save(GROUP, at_time="17:45")
    await storage.digests.save(GROUP, enabled=False)
    settings = (await digest_of(storage, GROUP)).settings
    assert (settings.enabled, settings.weekday, settings.at_time) == (False, 5, "17:45")
    await storage.digests.save(GROUP, enabled=True)
    settings = (await digest_of(storage, GROUP)).settings
    assert (settings.enabled, settings.weekday, settings.at_time) == (True, 5, "17:45")


@pytest.mark.parametrize(
    "fields",
    [
        {"weekday": 0},
        {"weekday": 8},
        {"at_time": "24:00"},
        {"at_time": "9:00"},
        {"at_time": "09:60"},
        {"at_time": "09:00 "},
        {"at_time": "nine"},
    ],
)
async def test_invalid_digest_settings(storage: Storage, fields: dict) -> None:
    await bound(storage)
    with pytest.raises(ValueError):
        await storage.digests.save(GROUP, **fields)
    assert (await digest_of(storage, GROUP)).settings.weekday == 1
    count = "SELECT count(*) FROM digest_settings"
    assert await storage.db.fetchvalue(count) == 0


@pytest.mark.parametrize("at_time", ["00:00", "23:59", "19:05"])
async def test_valid_digest_times(storage: Storage, at_time: str) -> None:
    await bound(storage)
    await storage.digests.save(GROUP, at_time=at_time, weekday=7)
    assert (await digest_of(storage, GROUP)).settings.at_time == at_time


@pytest.mark.parametrize(
    ("moment", "week"),
    [
        (datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI), "2026-W48"),
        (datetime(2026, 12, 27, tzinfo=SHANGHAI), "2026-W52"),
        (datetime(2026, 12, 31, tzinfo=SHANGHAI), "2026-W53"),
        (datetime(2027, 1, 1, tzinfo=SHANGHAI), "2026-W53"),
        (datetime(2027, 1, 4, tzinfo=SHANGHAI), "2027-W01"),
        (datetime(2024, 12, 30, tzinfo=SHANGHAI), "2025-W01"),
        (datetime(2021, 1, 3, tzinfo=SHANGHAI), "2020-W53"),
    ],
)
def test_iso_week(moment: datetime, week: str) -> None:
    assert iso_week(moment) == week


async def test_the_digest_log_says_which_weeks_went_out(storage: Storage, clock: FakeClock) -> None:
    await bound(storage, GROUP)
    await bound(storage, OTHER)
    assert not (await digest_of(storage, GROUP, "2026-W48")).sent_this_week

    log = "INSERT INTO digest_log (chat_id, iso_week, created_at) VALUES (?, ?, ?)"
    first = clock.now
    await storage.db.execute(log, (GROUP, iso_week(first), storage.db.now()))
    clock.advance(days=7)
    await storage.db.execute(log, (GROUP, iso_week(clock.now), storage.db.now()))

    weeks = ("2026-W48", "2026-W49", "2026-W50")
    went = [(await digest_of(storage, GROUP, week)).sent_this_week for week in weeks]
    assert went == [True, True, False]
    assert not (await digest_of(storage, OTHER, "2026-W48")).sent_this_week
    with pytest.raises(sqlite3.IntegrityError):
        await storage.db.execute(log, (GROUP, "2026-W48", storage.db.now()))


# --- concurrency and cancellation -------------------------------------------------------------


async def test_concurrent_partial_digest_saves_keep_both_changes(storage: Storage) -> None:
    await bound(storage)
    await asyncio.gather(
        storage.digests.save(GROUP, enabled=False, by=LI),
        storage.digests.save(GROUP, weekday=3, by=WANG),
    )
    settings = (await digest_of(storage, GROUP)).settings
    assert (settings.enabled, settings.weekday) == (False, 3)


async def test_a_write_cancelled_while_beginning_does_not_wedge_the_writer(
    storage: Storage,
) -> None:
    await person(storage, LI)
    write = asyncio.create_task(person(storage, WANG, "Wang Fang"))
    await asyncio.sleep(0)  # one turn of the loop, no waiting: the task is now awaiting BEGIN
    write.cancel()
    with pytest.raises(asyncio.CancelledError):
        await write

    await person(storage, ZHAO, "Zhao Lei")
    assert await storage.users.get(ZHAO) is not None


# --- notifications owed by an update ------------------------------------------------------------


async def test_an_update_owes_one_notification_per_following_chat(storage: Storage) -> None:
    await person(storage, LI)
    chats = {GROUP: "group", -2: "group", -3: "group", -4: "group", -5: "group", 10: "private"}
    for chat_id, kind in {**chats, 11: "private"}.items():
        await storage.chats.seen(chat_id, type=kind, title="x")
    await storage.db.execute(  # task 12 of an earlier plan: nothing
        "INSERT INTO subscriptions (chat_id, kind, target, plan_year, created_by, created_at)"
        " VALUES (-5, 'task', '12', ?, ?, ?)",
        (storage.db.current_year() - 1, LI, storage.db.now()),
    )
    await storage.subscriptions.add(-2, Follow.TASK, "12", by=LI)
    await storage.subscriptions.add(-2, Follow.DEPT, "cpd", by=LI)  # twice over: still once
    await storage.subscriptions.add(-3, Follow.DEPT, "cnipa", by=LI)
    await storage.subscriptions.add(-4, Follow.ALL, "*", by=LI)
    await storage.subscriptions.add(10, Follow.TASK, "13", by=LI)  # another task: nothing
    await storage.subscriptions.add(11, Follow.ALL, "*", by=LI)
    await storage.subscriptions.add(GROUP, Follow.ALL, "*", by=LI)  # where it is made: nothing
    await storage.chats.set_active(11, False, reason="blocked")  # blocked the bot: nothing

    recorded = await storage.updates.record(
        12, author_id=LI, dept="cpd", chat_id=GROUP, status=Status.DONE,
        departments=("cpd", "cnipa"),
    )  # fmt: skip

    assert recorded.notifications == 3
    rows = await storage.db.fetchall(
        "SELECT chat_id, kind, payload, dedup_key FROM outbox ORDER BY chat_id"
    )
    update_id = recorded.update.id
    assert [tuple(r) for r in rows] == [
        (
            chat,
            "notification",
            f'{{"task":12,"update_id":{update_id}}}',
            f"update:{update_id}:{chat}",
        )
        for chat in (-4, -3, -2)
    ]


async def test_notifications_are_committed_with_the_update(storage: Storage) -> None:
    await person(storage, LI)
    await storage.chats.seen(-2, type="group", title="x")
    await storage.subscriptions.add(-2, Follow.ALL, "*", by=LI)
    with pytest.raises(ValueError):
        await storage.updates.record(12, author_id=LI, dept=None, chat_id=None, progress=101)
    assert await storage.outbox.counts() == {}
    with pytest.raises(sqlite3.IntegrityError):  # an unknown author: the whole write rolls back
        await storage.updates.record(12, author_id=999, dept=None, chat_id=None, note="x")
    assert await storage.outbox.counts() == {}
    assert await rows.update_count(storage, 12) == 0
