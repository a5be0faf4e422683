"""Taking access back, as storage's callers see it: people by @username, a department's roster
with each person's last report, removal that cannot undo a promotion, and revoked invites."""

from __future__ import annotations

from datetime import timedelta

from storage import Storage
from storage.people import Redeemed, Revoked, Role
from tests import rows
from tests.conftest import FakeClock

LI, WANG, ZHAO = 1, 2, 3


async def people(storage: Storage) -> None:
    await storage.users.seen(LI, full_name="Li Wei", username="LiWei")
    await storage.users.seen(WANG, full_name="Wang Fang", username="wangfang")
    await storage.users.seen(ZHAO, full_name="Zhao Min")


async def test_a_user_is_found_by_username_in_any_case(storage: Storage, clock: FakeClock) -> None:
    await people(storage)
    for typed in ("LiWei", "liwei", "@LIWEI"):
        found = await storage.users.by_username(typed)
        assert found is not None and found.user_id == LI, typed
    assert await storage.users.by_username("nobody") is None
    assert await storage.users.by_username("") is None
    # A username that changed hands: the one who showed it last has it.
    clock.advance(minutes=1)
    await storage.users.seen(LI, full_name="Li Wei", username="li_new")
    await storage.users.seen(ZHAO, full_name="Zhao Min", username="liwei")
    found = await storage.users.by_username("liwei")
    assert found is not None and found.user_id == ZHAO


async def test_the_roster_shows_roles_joining_and_the_last_report_for_that_department(
    storage: Storage, clock: FakeClock
) -> None:
    await people(storage)
    await rows.join(storage, LI, "cnipa", Role.MEMBER)
    joined_li = clock.now
    clock.advance(hours=1)
    await rows.join(storage, WANG, "cnipa", Role.MANAGER)
    await rows.join(storage, ZHAO, "cpd", Role.MEMBER)
    await rows.join(storage, LI, "cpd", Role.MEMBER)
    clock.advance(days=1)
    await storage.updates.record(1, author_id=LI, dept="cnipa", chat_id=None, note="first")
    clock.advance(days=1)
    last = clock.now
    await storage.updates.record(1, author_id=LI, dept="cnipa", chat_id=None, note="second")
    clock.advance(days=1)
    # Reports for another department, or for none (an admin's), are not this one's.
    await storage.updates.record(9, author_id=LI, dept="cpd", chat_id=None, note="elsewhere")
    await storage.updates.record(1, author_id=WANG, dept=None, chat_id=None, note="as admin")

    roster = await storage.memberships.roster("cnipa")
    assert [(p.user_id, p.role, p.full_name, p.username) for p in roster] == [
        (WANG, Role.MANAGER, "Wang Fang", "wangfang"),
        (LI, Role.MEMBER, "Li Wei", "LiWei"),
    ]
    assert roster[1].joined_at == joined_li and roster[1].last_report == last
    assert roster[0].last_report is None
    assert await storage.memberships.roster("mof") == []


async def test_removal_with_a_role_does_not_undo_a_promotion(storage: Storage) -> None:
    await people(storage)
    await rows.join(storage, LI, "cnipa", Role.MEMBER)
    await rows.join(storage, LI, "cnipa", Role.MANAGER)  # promoted meanwhile
    assert await storage.memberships.remove(LI, "cnipa", role=Role.MEMBER) is False
    membership = await storage.memberships.get(LI, "cnipa")
    assert membership is not None and membership.role is Role.MANAGER
    assert await storage.memberships.remove(LI, "cnipa", role=Role.MANAGER) is True
    assert await storage.memberships.get(LI, "cnipa") is None


async def test_outstanding_invites_leave_out_used_revoked_and_expired_ones(
    storage: Storage, clock: FakeClock
) -> None:
    await people(storage)
    old = await storage.invites.create("cnipa", Role.MEMBER, created_by=LI)
    clock.advance(days=2)
    used = await storage.invites.create("cnipa", Role.MEMBER, created_by=LI)
    revoked = await storage.invites.create("cnipa", Role.MANAGER, created_by=LI)
    kept = await storage.invites.create("cnipa", Role.MANAGER, created_by=LI)
    other = await storage.invites.create("cpd", Role.MEMBER, created_by=WANG)
    await storage.invites.redeem(used.code, ZHAO)
    assert await storage.invites.revoke(revoked.code, by=WANG) is Revoked.REVOKED

    codes = [i.code for i in await storage.invites.outstanding()]
    assert codes == [old.code, kept.code, other.code]
    assert [i.code for i in await storage.invites.outstanding(["cpd"])] == [other.code]
    assert await storage.invites.outstanding([]) == []
    clock.advance(days=5)  # the first one is 7 days old now
    assert [i.code for i in await storage.invites.outstanding(["cnipa"])] == [kept.code]


async def test_a_revoked_invite_no_longer_joins(storage: Storage, clock: FakeClock) -> None:
    await people(storage)
    invite = await storage.invites.create("cnipa", Role.MANAGER, created_by=LI)
    assert await storage.invites.revoke(invite.code, by=LI) is Revoked.REVOKED
    stored = await storage.invites.get(invite.code)
    assert stored is not None and stored.revoked_at == clock.now
    assert await storage.invites.revoke(invite.code, by=LI) is Revoked.ALREADY

    redemption = await storage.invites.redeem(invite.code, WANG)
    assert redemption.outcome is Redeemed.REVOKED
    assert await storage.memberships.of_user(WANG) == []


async def test_only_an_unused_unexpired_invite_can_be_revoked(
    storage: Storage, clock: FakeClock
) -> None:
    await people(storage)
    used = await storage.invites.create("cnipa", Role.MEMBER, created_by=LI)
    await storage.invites.redeem(used.code, WANG)
    assert await storage.invites.revoke(used.code, by=LI) is Revoked.USED
    assert [m.dept for m in await storage.memberships.of_user(WANG)] == ["cnipa"]
    stale = await storage.invites.create("cnipa", Role.MEMBER, created_by=LI)
    clock.advance(seconds=timedelta(days=7).total_seconds())
    assert await storage.invites.revoke(stale.code, by=LI) is Revoked.EXPIRED
    assert await storage.invites.revoke("no-such-code-000", by=LI) is Revoked.UNKNOWN
