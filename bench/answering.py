"""Answering: how fast the bot answers people, next to a bare PTB echo bot under the same load.

200 people in 20 department groups send one fixed, seeded script of actions (``/mytasks``,
``/task N``, taps on status buttons, ``/update N …``, replies to cards) through the fake Telegram
on loopback, ``CONCURRENCY`` of them waiting for an answer at any moment. The same script goes to
the application as deployed and to an echo bot built from the same PTB, so their ratio is the
cost of the bot's own work (database, permissions, rendering, its rate limiter) on top of what
any PTB bot pays for HTTP, JSON and polling. Absolute figures move with the machine's load; the
ratio much less, because the bots run side by side in one event loop and take the script in
alternating slices (echo, bot, echo, bot …), so a noisy neighbour slows both alike.

A latency runs from the moment the person's update is queued at the fake (``send``/``tap``, so
it includes the wait for ``getUpdates``) to the bot's first answer of the kind the action calls
for, seen in the fake's event stream: a message for a message, the toast for a tap. A third,
diagnostic run takes PTB's rate limiter off the bot, to tell the limiter from the bot's own work.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bench.fanout import MONDAY, ShiftedClock
from bench.report import Section
from bot.faketelegram import BotEvent, FakeChat, FakeMessage, FakeTelegram, FakeUser, RateLimits
from bot.plan import Plan, load_plan
from storage.people import Role
from tests.conftest import DATA
from tests.harness import ADMIN_ID, Harness, running_bot

PEOPLE = 200
GROUPS = 20
MEMBERS_PER_GROUP = 6
"""Of each group's ten people, six joined its department through an invite; four only read."""
ACTIONS = 2000
GROUP_ACTIONS = 15
"""Actions in each group over the whole script. Telegram lets a bot post 20 messages a minute
in a group, and the bot's rate limiter holds to that; more group traffic would measure that
limit rather than the bot (binding the group at setup posts one more)."""
CONCURRENCY = 32
"""People waiting for an answer at any moment."""
SLICES = 4
"""The script is cut into this many slices; each runs on every bot before the next slice."""
DIAGNOSTIC_SLICES = 1
"""How many slices, from the first, the diagnostic run (no rate limiter) takes: enough to see
where the time goes, without doubling the benchmark's time. (Starting at the first: a tap needs
the card an earlier slice asked for.)"""
SEED = 2024
ANSWER_TIMEOUT = 5.0
"""Past this an action counts as unanswered (the slowest answers take about a second)."""
STATUS_WORDS = ("进行中", "in_progress", "完成", "done", "受阻", "blocked", "未启动")
NOTES = ("已召开协调会", "草案已报送 & 待会签", "下周印发实施方案", "等待财政部意见", "已完成调研")
STATUS_PREFIX = "st1:"
"""Status buttons' callback data (``bot.callbacks.STATUS``); the echo bot's buttons use it too."""

GOAL_THROUGHPUT = 0.8
GOAL_P99 = 2.0


class Kind(StrEnum):
    MYTASKS = "mytasks"
    TASK = "task"
    TAP = "tap"
    UPDATE = "update"
    REPLY = "reply"


MEMBER_MIX = {Kind.MYTASKS: 15, Kind.TASK: 25, Kind.TAP: 25, Kind.UPDATE: 20, Kind.REPLY: 15}
READER_MIX = {Kind.MYTASKS: 20, Kind.TASK: 45, Kind.TAP: 15, Kind.UPDATE: 10, Kind.REPLY: 10}
GROUP_MIX = {Kind.MYTASKS: 35, Kind.TASK: 25, Kind.TAP: 20, Kind.UPDATE: 10, Kind.REPLY: 10}
"""Members mostly record progress; readers mostly look; in groups people mostly list and look.
Readers' updates, taps and notes are refused, as they would be."""


# --- the people and the script -----------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """One simulated user: their group's department (joined or not) and the tasks they name."""

    index: int
    user_id: int
    name: str
    group: int
    dept: str
    member: bool
    led: tuple[int, ...]
    named: tuple[int, ...]


@dataclass(frozen=True)
class Step:
    """One action of the script; ``pick`` chooses the status word, button, note and progress."""

    person: int
    kind: Kind
    in_group: bool
    task: int
    pick: int


def departments(plan: Plan) -> list[str]:
    """The departments with the most tasks, one per group: those that use the bot most."""
    ranked = sorted(
        plan.departments,
        key=lambda d: (-len(plan.tasks_of(d.code, lead_only=True)), -len(plan.tasks_of(d.code))),
    )
    return [d.code for d in ranked[:GROUPS]]


def people(plan: Plan) -> list[Person]:
    """Ten people per group; the first ``MEMBERS_PER_GROUP`` of each joined its department."""
    per_group = PEOPLE // GROUPS
    crowd = []
    for index, dept in enumerate(d for d in departments(plan) for _ in range(per_group)):
        group, seat = divmod(index, per_group)
        crowd.append(
            Person(
                index=index,
                user_id=10_001 + index,
                name=f"P{index:03d}",
                group=group,
                dept=dept,
                member=seat < MEMBERS_PER_GROUP,
                led=tuple(t.number for t in plan.tasks_of(dept, lead_only=True)),
                named=tuple(t.number for t in plan.tasks_of(dept)),
            )
        )
    return crowd


def script(crowd: Sequence[Person], rng: random.Random) -> list[Step]:
    """The actions in order: everyone in turn (a shuffled round at a time, so nobody writes more
    than about once a second), each group's share spread evenly. A tap or a reply comes only
    after a card was asked for in that chat, so that both bots have a card to act on."""
    order = _rounds(len(crowd), ACTIONS, rng)
    in_group = _group_positions()
    carded: set[tuple[int, bool]] = set()
    steps = []
    for position, index in enumerate(order):
        group = in_group.get(position)
        person = crowd[index] if group is None else _member_of(crowd, group, rng)
        mix = GROUP_MIX if group is not None else MEMBER_MIX if person.member else READER_MIX
        kind = rng.choices(list(mix), weights=list(mix.values()))[0]
        chat = (person.group, True) if group is not None else (person.index, False)
        if kind in (Kind.TAP, Kind.REPLY) and chat not in carded:
            kind = Kind.TASK
        if kind is Kind.TASK:
            carded.add(chat)
        task = _task(person, kind, rng)
        steps.append(Step(person.index, kind, group is not None, task, rng.randrange(12)))
    return steps


def _rounds(size: int, total: int, rng: random.Random) -> list[int]:
    order: list[int] = []
    while len(order) < total:
        round_ = list(range(size))
        rng.shuffle(round_)
        order += round_
    return order[:total]


def _group_positions() -> dict[int, int]:
    """Script position -> group, for ``GROUP_ACTIONS`` evenly spaced actions per group."""
    count = GROUPS * GROUP_ACTIONS
    return {i * ACTIONS // count: i % GROUPS for i in range(count)}


def _member_of(crowd: Sequence[Person], group: int, rng: random.Random) -> Person:
    return rng.choice([p for p in crowd if p.group == group])


def _task(person: Person, kind: Kind, rng: random.Random) -> int:
    """Members update tasks their department leads; otherwise any task naming it."""
    if person.member and kind is Kind.UPDATE and person.led:
        return rng.choice(person.led)
    return rng.choice(person.named)


def text_of(step: Step) -> str:
    """What a step types (a tap types nothing)."""
    if step.kind is Kind.MYTASKS:
        return "/mytasks"
    if step.kind is Kind.TASK:
        return f"/task {step.task}"
    note = NOTES[step.pick % len(NOTES)]
    if step.kind is Kind.UPDATE:
        word = STATUS_WORDS[step.pick % len(STATUS_WORDS)]
        return f"/update {step.task} {word} {step.pick * 8}% {note}"
    return note


# --- watching the answers ----------------------------------------------------------------------

READS = (Kind.MYTASKS, Kind.TASK)
WRITES = (Kind.TAP, Kind.UPDATE, Kind.REPLY)
"""Writes record an update when permitted (readers' are refused, which only reads)."""
MESSAGE = frozenset({"message"})
TOAST = frozenset({"answer"})
Answer = tuple[float, BotEvent]


class Answers:
    """Timestamps the bot's first answer in a chat from the fake's event stream. It runs inside
    the fake's request handling, so it does no more than a dict lookup per event."""

    def __init__(self) -> None:
        self._waiting: dict[int, tuple[frozenset[str], asyncio.Future[Answer]]] = {}

    def expect(self, chat: FakeChat, kinds: frozenset[str]) -> asyncio.Future[Answer]:
        """The next event of these kinds in the chat; one waiter per chat. A refused request
        is counted, not taken for the answer: PTB's limiter retries a 429, and the person sees
        the answer only when the retry gets through."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[chat.id] = (kinds, future)
        return future

    def forget(self, chat: FakeChat) -> None:
        self._waiting.pop(chat.id, None)

    def __call__(self, event: BotEvent) -> None:
        at = time.perf_counter()
        if event.chat is None or event.chat.id not in self._waiting:
            return
        kinds, future = self._waiting[event.chat.id]
        if event.kind not in kinds:
            return
        del self._waiting[event.chat.id]
        if not future.done():
            future.set_result((at, event))


# --- one bot under load ------------------------------------------------------------------------


@dataclass
class Tally:
    """What one bot did with its share of the script."""

    latencies: list[float] = field(default_factory=list)
    by_kind: dict[Kind, list[float]] = field(default_factory=dict)
    wall: float = 0.0
    cpu: float = 0.0
    unanswered: int = 0
    rejected: int = 0
    refusals: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.done / self.wall if self.wall else 0.0

    def p(self, share: float, kinds: Sequence[Kind] | None = None) -> float:
        """A percentile of the latencies (of some kinds of action), in seconds, nearest rank."""
        if kinds is None:
            values = self.latencies
        else:
            values = [x for kind in kinds for x in self.by_kind.get(kind, [])]
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


@dataclass
class Target:
    """A running bot, the fake it talks to, and the same simulated world in it."""

    name: str
    fake: FakeTelegram
    users: list[FakeUser]
    groups: list[FakeChat]
    answers: Answers = field(default_factory=Answers)
    cards: dict[int, FakeMessage] = field(default_factory=dict)
    busy: dict[int, asyncio.Lock] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)

    def chat_of(self, step: Step, crowd: Sequence[Person]) -> FakeChat:
        if step.in_group:
            return self.groups[crowd[step.person].group]
        return self.fake.private_chat(self.users[step.person])

    async def ask(self, user: FakeUser, chat: FakeChat, text: str) -> str:
        """Send and return the answer's text (setup: not measured)."""
        future = self.answers.expect(chat, MESSAGE)
        await self.fake.send(user, chat, text)
        _, event = await asyncio.wait_for(future, ANSWER_TIMEOUT)
        return (event.message.text or "") if event.message is not None else ""


async def perform(target: Target, step: Step, crowd: Sequence[Person]) -> float | None:
    """One action as the person does it; its latency, or None if it was never answered. One
    action at a time per chat, so that the chat's next answer is this action's."""
    chat = target.chat_of(step, crowd)
    user = target.users[step.person]
    async with target.busy.setdefault(chat.id, asyncio.Lock()):
        card = target.cards.get(chat.id)
        future = target.answers.expect(chat, TOAST if step.kind is Kind.TAP else MESSAGE)
        started = time.perf_counter()
        if step.kind is Kind.TAP and card is not None:
            await target.fake.tap(user, card, _status_button(card, step.pick))
        elif step.kind is Kind.REPLY and card is not None:
            await target.fake.send(user, chat, text_of(step), reply_to=card)
        elif step.kind in (Kind.TAP, Kind.REPLY):
            raise RuntimeError(f"{target.name}: no card in chat {chat.id} for {step}")
        else:
            await target.fake.send(user, chat, text_of(step))
        try:
            at, event = await asyncio.wait_for(future, ANSWER_TIMEOUT)
        except TimeoutError:
            target.answers.forget(chat)
            return None
        if event.message is not None and _status_buttons(event.message):
            target.cards[chat.id] = event.message
        return at - started


def _status_buttons(message: FakeMessage) -> list[str]:
    return [
        data
        for row in message.buttons
        for _, data in row
        if data is not None and data.startswith(STATUS_PREFIX)
    ]


def _status_button(card: FakeMessage, pick: int) -> str:
    buttons = _status_buttons(card)
    return buttons[pick % len(buttons)]


async def drive(target: Target, steps: Sequence[Step], crowd: Sequence[Person]) -> None:
    """Run ``steps`` with ``CONCURRENCY`` people waiting at once; add to the target's tally."""
    queue: Iterator[Step] = iter(steps)
    tally = target.tally

    async def person_after_person() -> None:
        for step in queue:
            latency = await perform(target, step, crowd)
            if latency is None:
                tally.unanswered += 1
            else:
                tally.latencies.append(latency)
                tally.by_kind.setdefault(step.kind, []).append(latency)

    seen = len(target.fake.rejections)
    cpu, started = time.process_time(), time.perf_counter()
    async with asyncio.TaskGroup() as workers:
        for _ in range(CONCURRENCY):
            workers.create_task(person_after_person())
    tally.wall += time.perf_counter() - started
    tally.cpu += time.process_time() - cpu
    refused = target.fake.rejections[seen:]
    tally.rejected += len(refused)
    tally.refusals.update(f"{r.method}: {r.description}" for r in refused)


async def at_most(limit: int, jobs: Sequence[Coroutine[Any, Any, object]]) -> None:
    """Await coroutines, ``limit`` at a time (setup)."""
    gate = asyncio.Semaphore(limit)

    async def gated(job: Coroutine[Any, Any, object]) -> None:
        async with gate:
            await job

    await asyncio.gather(*(gated(job) for job in jobs))


# --- the bots ----------------------------------------------------------------------------------


def populate(
    fake: FakeTelegram, crowd: Sequence[Person], admin: FakeUser | None
) -> tuple[list[FakeUser], list[FakeChat]]:
    """The same users and groups in each fake; the admin, if any, is in every group."""
    users = [fake.add_user(p.user_id, p.name, language_code="zh-hans", started=True) for p in crowd]
    groups = []
    for group in range(GROUPS):
        members = [u for u, p in zip(users, crowd, strict=True) if p.group == group]
        members += [admin] if admin is not None else []
        groups.append(fake.add_group(-5001 - group, f"工作群 {group + 1}", members=members))
    return users, groups


@asynccontextmanager
async def plan_bot(
    name: str, crowd: Sequence[Person], plan: Plan, *, rate_limiter: bool
) -> AsyncIterator[Target]:
    """The application as deployed (``build_application``, through the tests' harness), members
    joined through invite links and each group bound to its department with ``/bind``.

    With its rate limiter the fake enforces Telegram's flood limits too, so "rejected" also says
    the bot kept to them. Without (the diagnostic), PTB offers no public way to take the limiter
    off a built bot, hence the private attribute; the fake's limits are then off as well. The
    clock stands before this week's digest time, so no digest goes out meanwhile: only answers.
    """
    clock = ShiftedClock(MONDAY + timedelta(hours=8))
    with tempfile.TemporaryDirectory(prefix="bench-answering-") as workdir:
        async with running_bot(Path(workdir), clock=clock) as harness:
            if rate_limiter:
                harness.fake.enable_rate_limits(RateLimits())
            else:
                harness.app.bot._rate_limiter = None
            admin, _ = harness.user(ADMIN_ID, "Ada")
            users, groups = populate(harness.fake, crowd, admin)
            target = Target(name, harness.fake, users, groups)
            unsubscribe = harness.fake.subscribe(target.answers)
            try:
                await join_and_bind(harness, target, crowd, plan, admin)
                yield target
            finally:
                unsubscribe()


async def join_and_bind(
    harness: Harness, target: Target, crowd: Sequence[Person], plan: Plan, admin: FakeUser
) -> None:
    """Members open an invite link (made in storage: the admin's /invite is not measured here);
    readers send /start; the admin binds each group to its department."""
    storage = harness.app.bot_data.storage
    assert storage is not None

    async def start(person: Person, user: FakeUser) -> None:
        chat = harness.fake.private_chat(user)
        if not person.member:
            await target.ask(user, chat, "/start")
            return
        invite = await storage.invites.create(person.dept, Role.MEMBER, created_by=ADMIN_ID)
        answer = await target.ask(user, chat, f"/start join-{invite.code}")
        if "欢迎加入" not in answer:
            raise RuntimeError(f"{person.name} could not join {person.dept}: {answer}")

    async def bind(group: FakeChat, dept: str) -> None:
        answer = await target.ask(admin, group, f"/bind {dept}")
        if "已绑定" not in answer:
            raise RuntimeError(f"{group.title} was not bound to {dept}: {answer}")

    await at_most(CONCURRENCY, [start(p, u) for p, u in zip(crowd, target.users, strict=True)])
    await at_most(
        CONCURRENCY, [bind(g, d) for g, d in zip(target.groups, departments(plan), strict=True)]
    )


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the same text; commands that show a task get four status buttons to tap, as
    the bot's cards have. Quoted in groups, as the bot does there."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    buttons = [
        InlineKeyboardButton(f"{i}", callback_data=f"{STATUS_PREFIX}0:{i}") for i in range(4)
    ]
    shows_task = message.text.startswith(("/task", "/update"))
    await message.reply_text(
        message.text,
        reply_markup=InlineKeyboardMarkup([buttons]) if shows_task else None,
        do_quote=message.chat.type != "private",
    )


async def toast(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a tap with its data."""
    query = update.callback_query
    assert query is not None
    await query.answer(query.data)


@asynccontextmanager
async def echo_bot(crowd: Sequence[Person]) -> AsyncIterator[Target]:
    """A bare PTB echo bot: the same PTB, concurrent updates and polling as the bot; no logic,
    no database, no rate limiter (so the fake's flood limits are off for it)."""
    async with FakeTelegram(bot_username="echo_test_bot") as fake:
        builder = ApplicationBuilder().token(fake.token).base_url(fake.base_url)
        application = builder.concurrent_updates(True).build()
        application.add_handler(MessageHandler(filters.TEXT, echo))
        application.add_handler(CallbackQueryHandler(toast))
        users, groups = populate(fake, crowd, None)
        target = Target("echo", fake, users, groups)
        fake.subscribe(target.answers)
        async with polling(application):
            await at_most(
                CONCURRENCY, [target.ask(u, fake.private_chat(u), "/start") for u in users]
            )
            yield target


@asynccontextmanager
async def polling(app: Application[Any, Any, Any, Any, Any, Any]) -> AsyncIterator[None]:
    """Start and stop an application the way the tests' harness does."""
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    await app.start()
    try:
        yield
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


# --- the run and the report --------------------------------------------------------------------


async def run() -> list[Section]:
    """Set up the three bots, then run the script slice by slice on each in turn."""
    plan = load_plan(DATA / "tasks.json")
    crowd = people(plan)
    steps = script(crowd, random.Random(SEED))
    size = -(-len(steps) // SLICES)
    bots = (
        echo_bot(crowd),
        plan_bot("bot", crowd, plan, rate_limiter=True),
        plan_bot("bare", crowd, plan, rate_limiter=False),
    )
    async with AsyncExitStack() as stack:
        async with asyncio.TaskGroup() as starting:  # setting up is not measured: all at once
            started = [starting.create_task(stack.enter_async_context(b)) for b in bots]
        echo_target, bot, bare = (task.result() for task in started)
        for number, start in enumerate(range(0, len(steps), size)):
            part = steps[start : start + size]
            await drive(echo_target, part, crowd)
            await drive(bot, part, crowd)
            if number < DIAGNOSTIC_SLICES:
                await drive(bare, part, crowd)
    return [report(echo_target.tally, bot.tally, bare.tally)]


def report(echo_tally: Tally, bot: Tally, bare: Tally) -> Section:
    section = Section(
        f"Answering: {PEOPLE} people in {GROUPS} groups, {CONCURRENCY} waiting at once",
        ["bot", "actions", "answered/s", "÷ echo", "p50 ms", "p99 ms", "p99 ÷ echo",
         "CPU ms/action", "unanswered", "rejected"],
    )  # fmt: skip
    rows = (
        ("PTB echo bot", echo_tally),
        ("plan bot, as deployed", bot),
        ("plan bot, no rate limiter (diagnostic)", bare),
    )
    for name, tally in rows:
        section.add(
            name,
            tally.done,
            f"{tally.rate:.1f}",
            f"{tally.rate / echo_tally.rate:.2f}",
            f"{tally.p(0.5) * 1000:.0f}",
            f"{tally.p(0.99) * 1000:.0f}",
            f"{tally.p(0.99) / echo_tally.p(0.99):.2f}",
            f"{tally.cpu / max(tally.done, 1) * 1000:.1f}",
            tally.unanswered,
            tally.rejected,
        )
    section.notes += notes(echo_tally, bot, bare)
    return section


def notes(echo_tally: Tally, bot: Tally, bare: Tally) -> list[str]:
    """The goals, how it was measured, and where the bot's time goes (from this run's figures)."""
    throughput = bot.rate / echo_tally.rate
    p99 = bot.p(0.99) / echo_tally.p(0.99)
    lines = [
        _goal(f"throughput ≥ {GOAL_THROUGHPUT} × echo's", throughput >= GOAL_THROUGHPUT, f"{throughput:.2f}"),
        _goal(f"p99 ≤ {GOAL_P99:g} × echo's", p99 <= GOAL_P99, f"{p99:.2f}"),
        _goal("nothing refused by the fake, every action answered",
              bot.rejected + bot.unanswered == 0, f"{bot.rejected} refused, {bot.unanswered} unanswered"),
        "Latency: from the update queued at the fake (send/tap) to the bot's first answer in that "
        "chat (a message; for a tap, its toast). The fake enforces Telegram's flood limits for "
        "the deployed bot only: the other two have no limiter and would be refused. CPU is the "
        "whole process's per action (the fake and the load included).",
        f"Where the time goes: without its rate limiter the same bot answers {bare.rate:.0f}/s "
        f"({bare.rate / echo_tally.rate:.2f} × echo). The limiter (bot/flood.py) lets 29 "
        "requests a second through that name a chat (card edits too: Telegram does not say "
        "they are free, though the fake does not count them), "
        "so here the deployed bot's answers queue in it, and its latency is that queue "
        f"(p50 {bot.p(0.5) * 1000:.0f} ms for reads and writes alike). No bot that keeps to "
        f"Telegram's 30 messages a second can answer this mix at {GOAL_THROUGHPUT} × an echo bot "
        f"that does not ({GOAL_THROUGHPUT * echo_tally.rate:.0f}/s here): past 30 answers a "
        "second the goal asks for more than Telegram allows.",
        "Past the limiter, writes: without it, reads (/mytasks, /task) take "
        f"p50 {bare.p(0.5, READS) * 1000:.0f} ms and writes (taps, /update, notes) "
        f"p50 {bare.p(0.5, WRITES) * 1000:.0f} ms. Recording an update is one BEGIN IMMEDIATE "
        "transaction (synchronous=FULL) of 16 round trips to aiosqlite's thread, and every card "
        "sent adds one of 6, all behind one lock, so writes wait in line for the writer.",
    ]  # fmt: skip
    lines += _refusals(bot) + _unanswered(bare)
    lines.append(
        f"Load: {ACTIONS} actions of one seeded script, the same for every bot ({SLICES} "
        f"slices, alternating); {GROUP_ACTIONS} per group, within Telegram's 20 messages a minute "
        f"there; {MEMBERS_PER_GROUP} in 10 people joined their department through an invite."
    )
    return lines


def _refusals(bot: Tally) -> list[str]:
    if not bot.refusals:
        return []
    top = "; ".join(f"{n} × {what}" for what, n in bot.refusals.most_common(3))
    return [
        f"Refused: {top}. Requests that bunch up on the way overran the fake's strict 30/s "
        "although the limiter lets 29 a second through; a 429 holds every request of the bot "
        "for its retry_after (1 s)."
    ]


def _unanswered(bare: Tally) -> list[str]:
    if not bare.unanswered:
        return []
    return [
        f"Unanswered without the limiter ({bare.unanswered}): replies to a card that reached the "
        "bot before the card's message→task row was written (send_card sends, then remembers, "
        "behind the queue of writes); in a group the bot then says nothing, in a private chat "
        "it gives the generic hint."
    ]


def _goal(what: str, met: bool, value: str) -> str:
    return f"Goal: {what}: {'met' if met else 'MISSED'} ({value})."
