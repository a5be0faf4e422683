"""Opening a round: ``/round new`` to all 43 departments under Telegram's flood limits.

The bot as deployed (``tests/harness.py: running_bot``), against the fake Telegram enforcing
the flood limits, with every department of the real plan reachable as the README says a round
reaches it: most by a bound group (the four largest by two), the last seven by their members'
private chats only. The admin sends ``/round new <due> <title>``; measured: the admin's answer,
from the command queued at the fake to the answer there (it must come at once, before the
requests, not after them), and the fan-out, from the command to the last request delivered,
against the floor the limits allow. The round is closed and opened again, ``OPENINGS`` times.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench import sized
from bench.fanout import (
    GOAL,
    MONDAY,
    TELEGRAM_RATE,
    Case,
    ShiftedClock,
    delivered,
    storage_of,
    watch,
)
from bench.report import Goal, Section, percentile
from bench.settle import settle
from bench.timing import spent
from bot.faketelegram import BotEvent, FakeChat, RateLimits
from bot.flood import Limits
from bot.plan import Plan
from bot.rounds import owed_statements
from storage.people import Role
from tests.harness import ADMIN_ID, Harness, running_bot

OPENINGS = sized(3, 2)
TWO_GROUPS = 4
"""The first departments of the plan have a second bound group each."""
PRIVATE_ONLY = 7
"""The last departments of the plan have no group: their members' private chats get it."""
MEMBERS = 3
"""Members of each department without a group."""
DUE_IN = timedelta(days=14)
"""Far enough that no reminder is owed at once: the requests alone."""
REFILL = 1.0
"""Seconds between a round closed and the next opened: Telegram's allowance and the bot's are
full again, as before the first: even from empty, Telegram's 30 refill in 1 s (30 a second)
and the bot's 24 in 0.83 s (29 a second)."""
ANSWER_WITHIN = 0.1
"""Seconds: what "at once" means for the admin's answer, the tenth of a second within which
an answer is felt as immediate (a fan-out takes seconds)."""


BOT = Limits()
"""The bot's own allowance, as deployed."""


def bot_least(case: Case) -> float:
    """The least time the bot's allowance lets it send what it sent: its burst at once, the
    rest at its rate."""
    sent = case.messages + len(case.answers)
    return max(sent - BOT.overall_burst, 1.0) / BOT.per_second


@dataclass
class Opening:
    """One ``/round new``: its fan-out, and the admin's answer."""

    case: Case
    answer: float = 0.0
    """Seconds from the command to the answer."""
    before_answer: int = 0
    """Requests delivered before the admin was answered."""


async def departments(harness: Harness, plan: Plan) -> list[FakeChat]:
    """Every department's chats, made in the fake and in storage directly (setting up is not
    what is measured): bound groups, or for the last few, members' private chats."""
    storage = storage_of(harness)
    codes = [d.code for d in plan.departments]
    chats: list[FakeChat] = []
    for index, code in enumerate(codes):
        if index >= len(codes) - PRIVATE_ONLY:
            for member in range(MEMBERS):
                user_id = 40_001 + index * 10 + member
                person = harness.fake.add_user(user_id, f"{code}{member}", started=True)
                chat = harness.fake.private_chat(person)
                await storage.users.seen(user_id, full_name=person.first_name)
                await storage.chats.seen(chat.id, type="private", title=person.first_name)
                invite = await storage.invites.create(code, Role.MEMBER, created_by=ADMIN_ID)
                await storage.invites.redeem(invite.code, user_id)
                chats.append(chat)
            continue
        for copy in range(2 if index < TWO_GROUPS else 1):
            group = harness.fake.add_group(-8001 - index * 2 - copy, f"{code} 工作群 {copy + 1}")
            await storage.chats.seen(group.id, type="group", title=group.title or "")
            await storage.chats.bind(group.id, code, by=ADMIN_ID)
            chats.append(group)
    return chats


async def open_round(
    harness: Harness, chats: Sequence[FakeChat], clock: ShiftedClock, number: int
) -> Opening:
    """The admin opens a round; every department's chats are owed its request."""
    admin, dm = harness.user(ADMIN_ID, "Ada")
    due = (clock() + DUE_IN).astimezone(MONDAY.tzinfo).date()
    case = watch(
        Case(f"opening {number}: /round new → {len(chats)} chats"),
        chats,
        {chat.id: 1 for chat in chats},
    )
    opening = Opening(case)
    answered = asyncio.Event()

    def heard(event: BotEvent) -> None:
        if answered.is_set() or event.kind != "message" or event.chat is None:
            return
        if event.chat.id == dm.id:
            opening.answer = time.perf_counter() - case.started
            opening.before_answer = sum(map(len, case.arrivals.values()))
            case.answers.append(opening.answer)
            answered.set()

    unsubscribe = [harness.fake.subscribe(case.heard), harness.fake.subscribe(heard)]
    try:
        case.started = time.perf_counter()
        await harness.fake.send(admin, dm, f"/round new {due.isoformat()} 第{number}轮落实情况")
        await delivered(harness, case)
        await asyncio.wait_for(answered.wait(), timeout=5)
    finally:
        for stop in unsubscribe:
            stop()
    closed = await harness.ask(admin, dm, "/round close")
    assert "第" in closed, f"the round was not closed: {closed!r}"
    return opening


async def measure() -> tuple[list[Opening], int, int]:
    """A bot with its own fake Telegram and database: the departments, then the openings."""
    clock = ShiftedClock(MONDAY + timedelta(hours=10))
    with tempfile.TemporaryDirectory(prefix="bench-round-") as workdir:
        async with running_bot(Path(workdir), clock=clock) as harness:
            harness.fake.enable_rate_limits(RateLimits())
            plan = harness.app.bot_data.plan
            assert plan is not None
            with spent("departments' chats set up"):
                chats = await departments(harness, plan)
            openings = []
            for number in range(1, OPENINGS + 1):
                with spent(f"opening {number} (after {REFILL:g} s idle)"):
                    await asyncio.sleep(REFILL)
                    openings.append(await open_round(harness, chats, clock, number))
            groups = sum(chat.id < 0 for chat in chats)
            return openings, groups, len(owed_statements(plan))


async def run() -> list[Section]:
    """The openings, measured again if a verdict is in question (bench/settle.py)."""

    async def openings() -> list[Section]:
        return [report(*await measure())]

    return await settle(openings, what=f"{OPENINGS} openings")


def report(openings: Sequence[Opening], groups: int, slots: int) -> Section:
    first = openings[0].case
    chats = len(first.expected)
    section = Section(
        f"Opening a round: /round new to 43 departments ({groups} groups, "
        f"{chats - groups} private chats) under Telegram's flood limits",
        ["opening", "requests", "answer ms", "requests before the answer", "took s", "floor s",
         "÷ floor", "÷ the bot's least", "429s", "lost", "repeated"],
    )  # fmt: skip
    for opening in openings:
        case = opening.case
        section.add(
            case.what.split(":")[0], case.messages, f"{opening.answer * 1000:.0f}",
            opening.before_answer, f"{case.took:.2f}", f"{case.floor:.2f}", f"{case.ratio:.2f}",
            f"{case.took / bot_least(case):.2f}", case.too_many, case.lost, case.repeated,
        )  # fmt: skip
    ratios = [o.case.ratio for o in openings]
    answers = [o.answer for o in openings]
    worst = max(openings, key=lambda o: o.case.ratio).case
    section.figure("round_fanout.took_s", max(o.case.took for o in openings), "s")
    section.figure(
        "round_fanout.bot_least_ratio", max(o.case.took / bot_least(o.case) for o in openings), "×"
    )
    section.figure("round_fanout.answer_max_ms", max(answers) * 1000, "ms")
    section.figure("round_fanout.answer_p50_ms", percentile(answers, 0.5) * 1000, "ms")
    section.goal(
        Goal(
            "round_fanout.floor_ratio",
            f"/round new to {chats} chats: every opening within {GOAL - 1:.0%} of the floor",
            max(ratios),
            GOAL,
            unit="×",
            cause=f"{worst.what}: {worst.took:.2f} s for {worst.messages} requests and the "
            f"answer, {worst.too_many} refused with 429 (each holds every request for its "
            "retry_after).",
        )
    )
    failures = [
        f"{o.case.what}: {o.case.refused} refused ({o.case.too_many} × 429), {o.case.lost} "
        f"chats without their request, {o.case.repeated} with it twice."
        for o in openings
        if o.case.refused or o.case.lost or o.case.repeated
    ]
    section.goal(
        Goal(
            "round_fanout.delivery",
            "every opening: no request refused, every department's chats exactly one request",
            sum(o.case.refused + o.case.lost + o.case.repeated for o in openings),
            0,
            noise=0,
            cause=" ".join(failures),
        )
    )
    section.goal(
        Goal(
            "round_fanout.answer_first",
            "every opening: the admin answered before any request was delivered",
            sum(o.before_answer for o in openings),
            0,
            noise=0,
            cause=" ".join(
                f"{o.case.what}: {o.before_answer} requests delivered before the answer."
                for o in openings
                if o.before_answer
            ),
        )
    )
    slowest = max(openings, key=lambda o: o.answer)
    section.goal(
        Goal(
            "round_fanout.answer_ms",
            f"every opening: the admin answered within {ANSWER_WITHIN * 1000:.0f} ms",
            slowest.answer * 1000,
            ANSWER_WITHIN * 1000,
            unit=" ms",
            cause=f"{slowest.case.what}: answered after {slowest.answer * 1000:.0f} ms.",
        )
    )
    sent = first.messages + len(first.answers)
    least_telegram = max(0.0, sent - TELEGRAM_RATE) / TELEGRAM_RATE
    section.notes += [
        f"Each opening: the round, its {slots} slots and a request owed to every department's "
        "chats in one transaction, then the answer, then the sender woken; the round is closed "
        f"(not timed) and, {REFILL:g} s later, the next one opened. Due "
        f"{DUE_IN.days} days ahead, so no reminder is owed at once.",
        "The floor, as the fan-out's: the messages sent (requests and the answer) at Telegram's "
        "30 a second, or a chat's own limit if that took longer (20 a minute to a group, 1 a "
        "second to a private chat; here every chat gets one request, so the overall rate sets "
        "it).",
        f"Telegram's allowance starts full (30 at once), so the least time the limits allow "
        f"{sent} messages is {least_telegram:.2f} s; the bot's own allowance (bot/flood.py) "
        f"starts with {BOT.overall_burst:g} and runs at {BOT.per_second:g} a second, so its own "
        f"least is {bot_least(first):.2f} s (÷ the bot's least: how close it came to it). A "
        "fan-out this small can beat the floor; a 429 (whose retry_after holds every request "
        "at least 1 s) or a sender not woken at once cannot.",
        "Answer: from the command queued at the fake to the answer there, the bot's whole work "
        "on /round new (read, the transaction with its fsync, render, send).",
    ]
    return section
