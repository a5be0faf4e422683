"""Answering: how fast the bot answers people, raced against a bare PTB echo bot on equal terms.

200 people in 20 department groups act from one fixed, seeded script (``/mytasks``,
``/task N``, taps on status buttons, ``/update N …``, replies to cards) through the fake
Telegram on loopback. The race is fair: the echo bot is built from the same PTB, polls the
same way, and keeps to Telegram's flood limits through the same allowance as the bot
(``SharedRateLimiter(FloodControl())`` from ``bot/flood.py``), and the fake enforces those
limits on both. So the ratio of the two is the cost of the bot's own work (the inbox,
database, permissions, rendering) on top of what any PTB bot that keeps Telegram's limits pays.

Three loads: 10 and 25 actions a second, under Telegram's ceiling of 30 (people tapping on
phones: an open loop, each action sent at its time on a seeded Poisson schedule whether or not
earlier ones were answered), and saturation (a closed loop, ``CONCURRENCY`` people each
waiting for their answer before the next action). A diagnostic run then takes the rate limiter
off (and the fake's limits) to measure raw capacity, reads against writes, and what the durable
inbox costs (the same bot with its inbox's writes bypassed).

A latency runs from the moment the person's update is queued at the fake (``send``/``tap``, so
it includes the wait for ``getUpdates``) to the bot's first answer of the kind the action calls
for, seen in the fake's event stream: a message for a message, the toast for a tap. Each bot
runs in a process of its own (bench/child.py), against a fake of its own served by this one.
An open loop goes to the bots at once, on the same schedule; a closed loop, which takes a core,
in turns, slice by slice: so a noisy neighbour on this shared machine slows them alike.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bench import sized
from bench.child import STATUS_PREFIX, cpu_seconds, runnable_waiting, spawned, until_polling
from bench.profiling import spied
from bench.report import Goal, Section, percentile
from bench.settle import ONCE_MORE, settle
from bench.timing import spent
from bot.faketelegram import BotEvent, FakeChat, FakeMessage, FakeTelegram, FakeUser, RateLimits
from bot.plan import Plan, load_plan
from storage import Storage
from storage.people import Role
from tests.conftest import DATA
from tests.harness import ADMIN_ID, BOT_USERNAME

PEOPLE = 200
GROUPS = 20
MEMBERS_PER_GROUP = 6
"""Of each group's ten people, six joined its department through an invite; four only read."""
GROUP_SHARE = 0.15
"""Of the actions, those in department groups. Telegram lets a bot post 20 messages a minute
in a group, and both bots' limiter holds to that: at saturation this share keeps each group
under it, so that the race measures the bots, not that limit."""
SCRIPT_LENGTH = 6000
"""Steps in the script; each world works through it in order, from wherever it got to."""
CONCURRENCY = 32
"""People waiting for an answer at any moment, at saturation."""
SEED = 2024
ANSWER_TIMEOUT = 5.0
"""Past this an action counts as unanswered."""
SETUP_TIMEOUT = 60.0
"""Setting up (everyone's /start, the joins, the binds) is not measured; it only must end."""
STATUS_WORDS = ("进行中", "in_progress", "完成", "done", "受阻", "blocked", "未启动")
NOTES = ("已召开协调会", "草案已报送 & 待会签", "下周印发实施方案", "等待财政部意见", "已完成调研")

GOAL_P99_RATIO = 1.5
GOAL_CAPACITY = 150.0
"""Answers a second without the limiter: 5 × Telegram's ceiling of 30."""
GOAL_WRITE_READ = 2.0
GOAL_INBOX_COST = 10.0
"""Percent of the answers a second the durable inbox may cost."""


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
READS = (Kind.MYTASKS, Kind.TASK)
WRITES = (Kind.TAP, Kind.UPDATE, Kind.REPLY)
"""Writes record an update when permitted (readers' are refused, which only reads)."""


@dataclass(frozen=True)
class Load:
    """One row group of the race: an open loop at ``rate`` actions a second, or (``None``)
    a closed loop at saturation."""

    key: str
    rate: float | None
    actions: int
    slices: int = 2
    """A closed loop's bots take turns slice by slice. With the limiter, few: its allowance
    refills while a bot waits for its turn, and each slice starts with a burst."""

    @property
    def title(self) -> str:
        if self.rate is None:
            return f"saturation (closed loop, {CONCURRENCY} waiting at once)"
        return f"{self.rate:g} actions a second (open loop)"


def loads() -> list[Load]:
    return [
        Load("10_per_s", 10.0, sized(250, 80)),
        Load("25_per_s", 25.0, sized(500, 150)),
        Load("saturation", None, sized(500, 150)),
    ]


def diagnostic_load() -> Load:
    """Without the limiter: many short turns, so that a change in the machine's load meanwhile
    falls on every bot."""
    return Load("diagnostic", None, sized(720, 240), slices=6)


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
    """The actions in order: everyone in turn (a shuffled round at a time, so nobody acts
    twice within a few seconds), each group's share spread evenly. A tap or a reply comes only
    after a card was asked for in that chat, so that every bot has a card to act on."""
    order = _rounds(len(crowd), SCRIPT_LENGTH, rng)
    in_group = _group_positions(SCRIPT_LENGTH)
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


def _group_positions(length: int) -> dict[int, int]:
    """Script position -> group: ``GROUP_SHARE`` of the positions, evenly spaced, the groups
    in turn."""
    count = int(length * GROUP_SHARE)
    return {round(i / GROUP_SHARE): i % GROUPS for i in range(count)}


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


@dataclass
class Cursor:
    """Where a set of worlds got to in the script: each measurement takes the next steps, the
    same for every world in the set (a tap needs the card an earlier step asked for)."""

    steps: Sequence[Step]
    at: int = 0

    def take(self, count: int) -> list[Step]:
        taken = [self.steps[(self.at + i) % len(self.steps)] for i in range(count)]
        self.at += count
        return taken


# --- watching the answers ----------------------------------------------------------------------

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
        is counted, not taken for the answer: the limiter retries a 429, and the person sees
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
    """What one bot did with its share of a load."""

    latencies: list[float] = field(default_factory=list)
    by_kind: dict[Kind, list[float]] = field(default_factory=dict)
    wall: float = 0.0
    cpu: float = 0.0
    """The bot's process's CPU time."""
    driver_cpu: float = 0.0
    """The bench's own (the fake's and the people's), meanwhile."""
    kept_waiting: float = 0.0
    """Time the bot's main thread was ready to run but had no CPU (the machine is shared)."""
    offered: int = 0
    offered_over: float = 0.0
    """Seconds from the first action sent to the last, summed over the slices."""
    unanswered: int = 0
    unanswered_kinds: Counter[Kind] = field(default_factory=Counter)
    rejected: int = 0
    refusals: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Answers a second: answered ÷ the time from the first action to the last answer."""
        return self.done / self.wall if self.wall else 0.0

    @property
    def offered_rate(self) -> float:
        return (self.offered - 1) / self.offered_over if self.offered_over else 0.0

    def p(self, share: float, kinds: Sequence[Kind] | None = None) -> float:
        """A percentile of the latencies (of some kinds of action), in seconds, nearest rank."""
        if kinds is None:
            values = self.latencies
        else:
            values = [x for kind in kinds for x in self.by_kind.get(kind, [])]
        return percentile(values, share) if values else 0.0

    def record(self, step: Step, latency: float | None) -> None:
        if latency is None:
            self.unanswered += 1
            self.unanswered_kinds[step.kind] += 1
        else:
            self.latencies.append(latency)
            self.by_kind.setdefault(step.kind, []).append(latency)


@dataclass
class Target:
    """A running bot, the fake it talks to, and the same simulated world in it."""

    name: str
    fake: FakeTelegram
    users: list[FakeUser]
    groups: list[FakeChat]
    pid: int
    """The bot's process: its CPU time is the bot's."""
    answers: Answers = field(default_factory=Answers)
    cards: dict[int, FakeMessage] = field(default_factory=dict)
    busy: dict[int, asyncio.Lock] = field(default_factory=dict)

    def chat_of(self, step: Step, crowd: Sequence[Person]) -> FakeChat:
        if step.in_group:
            return self.groups[crowd[step.person].group]
        return self.fake.private_chat(self.users[step.person])

    async def ask(self, user: FakeUser, chat: FakeChat, text: str) -> str:
        """Send and return the answer's text (setup: not measured)."""
        future = self.answers.expect(chat, MESSAGE)
        await self.fake.send(user, chat, text)
        _, event = await asyncio.wait_for(future, SETUP_TIMEOUT)
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


@asynccontextmanager
async def counted(target: Target, tally: Tally) -> AsyncIterator[None]:
    """Add the block's wall time, the bot's CPU time and the fake's refusals to ``tally``."""
    seen = len(target.fake.rejections)
    cpu, began, driver = cpu_seconds(target.pid), time.perf_counter(), time.process_time()
    waited = runnable_waiting(target.pid)
    yield
    tally.wall += time.perf_counter() - began
    tally.cpu += cpu_seconds(target.pid) - cpu
    tally.driver_cpu += time.process_time() - driver
    tally.kept_waiting += runnable_waiting(target.pid) - waited
    refused = target.fake.rejections[seen:]
    tally.rejected += len(refused)
    tally.refusals.update(f"{r.method}: {r.description}" for r in refused)


async def drive(
    target: Target, steps: Sequence[Step], crowd: Sequence[Person], tally: Tally
) -> None:
    """Closed loop: ``CONCURRENCY`` people, each sending their next action once answered."""
    queue: Iterator[Step] = iter(steps)

    async def person_after_person() -> None:
        for step in queue:
            tally.record(step, await perform(target, step, crowd))

    async with counted(target, tally), asyncio.TaskGroup() as workers:
        for _ in range(CONCURRENCY):
            workers.create_task(person_after_person())


async def offer(
    target: Target, steps: Sequence[Step], crowd: Sequence[Person], rate: float, tally: Tally
) -> None:
    """Open loop: each action sent at its time on a Poisson schedule of ``rate`` a second,
    answered or not the ones before."""
    tally.offered += len(steps)

    async def one(step: Step) -> None:
        tally.record(step, await perform(target, step, crowd))

    async with counted(target, tally), asyncio.TaskGroup() as actions:
        first = time.perf_counter()
        for due, step in zip(schedule(len(steps), rate), steps, strict=True):
            if (wait := first + due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            actions.create_task(one(step))
        tally.offered_over += time.perf_counter() - first


def schedule(count: int, rate: float) -> list[float]:
    """Seconds from the first action to each: exponential gaps (seeded: the same for every
    bot), scaled so that they average exactly 1/``rate``, bunches and lulls as they fall."""
    rng = random.Random(SEED + count)
    gaps = [rng.expovariate(rate) for _ in range(count - 1)]
    scale = (count - 1) / rate / sum(gaps) if gaps else 1.0
    times, at = [0.0], 0.0
    for gap in gaps:
        at += gap * scale
        times.append(at)
    return times


async def at_most(limit: int, jobs: Sequence[Coroutine[Any, Any, object]]) -> None:
    """Await coroutines, ``limit`` at a time (setup)."""
    gate = asyncio.Semaphore(limit)

    async def gated(job: Coroutine[Any, Any, object]) -> None:
        async with gate:
            await job

    await asyncio.gather(*(gated(job) for job in jobs))


# --- the bots ----------------------------------------------------------------------------------


def populate(
    fake: FakeTelegram, crowd: Sequence[Person], admin: FakeUser
) -> tuple[list[FakeUser], list[FakeChat]]:
    """The same users and groups in each fake; the admin is in every group."""
    users = [fake.add_user(p.user_id, p.name, language_code="zh-hans", started=True) for p in crowd]
    groups = []
    for group in range(GROUPS):
        members = [u for u, p in zip(users, crowd, strict=True) if p.group == group]
        groups.append(
            fake.add_group(-5001 - group, f"工作群 {group + 1}", members=[*members, admin])
        )
    return users, groups


@asynccontextmanager
async def bot_process(
    name: str, crowd: Sequence[Person], plan: Plan, workdir: Path, *command: str,
    limited: bool, echo: bool = False,
) -> AsyncIterator[Target]:  # fmt: skip
    """A bot in a child process (bench/child.py) against a fake of its own, its world set
    up through its own commands while the fake's flood limits are off; then on if
    ``limited`` (the bot's own limiter paces it throughout)."""
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        admin = fake.add_user(ADMIN_ID, "Ada", language_code="zh-hans", started=True)
        users, groups = populate(fake, crowd, admin)
        slug = re.sub(r"\W+", "-", name).strip("-")
        codes = {} if echo else await invited(workdir / f"{slug}.db", crowd, plan)
        async with spawned(fake, workdir, slug, *command) as child:
            target = Target(name, fake, users, groups, child.pid)
            fake.subscribe(target.answers)
            with spent(f"{name}: polling"):
                await until_polling(fake, child)
            with spent(f"{name}: its world set up"):
                if echo:
                    await at_most(
                        CONCURRENCY, [target.ask(u, fake.private_chat(u), "/start") for u in users]
                    )
                else:
                    await join_and_bind(target, crowd, plan, admin, codes)
            if limited:
                fake.enable_rate_limits(RateLimits())
            yield target


async def invited(database: Path, crowd: Sequence[Person], plan: Plan) -> dict[int, str]:
    """The admin's invite link for each member (its ``/start`` payload), made in the bot's
    database before the bot starts, as ``/invite`` makes it: 120 ``/invite`` answered one after
    the other in the admin's chat were a third of each plan bot's set-up, which is not what is
    measured."""
    storage = Storage(database)
    await storage.open(plan_year=plan.year)
    try:
        return {
            person.index: "join-"
            + (await storage.invites.create(person.dept, Role.MEMBER, created_by=ADMIN_ID)).code
            for person in crowd
            if person.member
        }
    finally:
        await storage.close()


async def join_and_bind(
    target: Target, crowd: Sequence[Person], plan: Plan, admin: FakeUser, codes: dict[int, str]
) -> None:
    """As people do it: each member opens the invite link the admin made for them
    (:func:`invited`); readers send /start; the admin binds each group to its department and
    turns its weekly digest off (due since Monday, it would go out during the race)."""
    fake = target.fake

    async def start(person: Person, user: FakeUser) -> None:
        chat = fake.private_chat(user)
        if not person.member:
            await target.ask(user, chat, "/start")
            return
        answer = await target.ask(user, chat, f"/start {codes[person.index]}")
        if "欢迎加入" not in answer:
            raise RuntimeError(f"{person.name} could not join {person.dept}: {answer}")

    async def bind(group: FakeChat, dept: str) -> None:
        answer = await target.ask(admin, group, f"/bind {dept}")
        if "已绑定" not in answer:
            raise RuntimeError(f"{group.title} was not bound to {dept}: {answer}")
        await target.ask(admin, group, "/digest off")

    await at_most(CONCURRENCY, [start(p, u) for p, u in zip(crowd, target.users, strict=True)])
    await at_most(
        CONCURRENCY, [bind(g, d) for g, d in zip(target.groups, departments(plan), strict=True)]
    )


# --- the measurements --------------------------------------------------------------------------


@dataclass
class Field:
    """Bots that work through the script together: the same steps, slice by slice. An open
    loop offers each slice to every bot at once, on the same schedule (each has a fake and a
    process of its own, and the load is light); a closed loop takes the bots in turn, so that
    each has a core to itself."""

    targets: list[Target]
    cursor: Cursor
    crowd: Sequence[Person]

    async def run(self, load: Load) -> dict[str, Tally]:
        steps = self.cursor.take(load.actions)
        tallies = {target.name: Tally() for target in self.targets}
        size = -(-len(steps) // load.slices)
        for number, start in enumerate(range(0, len(steps), size)):
            part = steps[start : start + size]
            if load.rate is None:  # in turn, the first of one slice the last of the next
                turn = number % len(self.targets)
                for target in self.targets[turn:] + self.targets[:turn]:
                    await drive(target, part, self.crowd, tallies[target.name])
                continue
            async with asyncio.TaskGroup() as together:
                for target in self.targets:
                    together.create_task(
                        offer(target, part, self.crowd, load.rate, tallies[target.name])
                    )
        return tallies


ECHO, BOT = "PTB echo bot, same flood allowance", "plan bot, as deployed"
BARE_ECHO, BARE_BOT, UNKEPT = "PTB echo bot", "plan bot", "plan bot, inbox writes bypassed"


async def run() -> list[Section]:
    """Start every bot and set up its world (not measured), then the fair race load by load,
    then the diagnostic; a goal in question (near its threshold, or its verdict unlike the
    previous run's: bench/settle.py) has its load measured again."""
    plan = load_plan(DATA / "tasks.json")
    crowd = people(plan)
    steps = script(crowd, random.Random(SEED))
    with tempfile.TemporaryDirectory(prefix="bench-answering-") as tmp:
        workdir = Path(tmp)
        async with AsyncExitStack() as stack:
            child = ("-m", "bench.child")
            bots = (
                bot_process(ECHO, crowd, plan, workdir, *child, "echo", "--limited",
                            limited=True, echo=True),
                bot_process(BOT, crowd, plan, workdir, "-m", "bot", "run", limited=True),
                bot_process(BARE_ECHO, crowd, plan, workdir, *child, "echo",
                            limited=False, echo=True),
                bot_process(BARE_BOT, crowd, plan, workdir, *child, "bot", "--no-limiter",
                            limited=False),
                bot_process(UNKEPT, crowd, plan, workdir, *child, "bot", "--no-limiter",
                            "--unkept", limited=False),
            )  # fmt: skip
            with spent("five bots started, their worlds set up"):
                async with asyncio.TaskGroup() as starting:
                    entered = [starting.create_task(stack.enter_async_context(b)) for b in bots]
            echo_, bot, bare_echo, bare_bot, unkept_bot = (task.result() for task in entered)
            fair = Field([echo_, bot], Cursor(steps), crowd)
            bare = Field([bare_echo, bare_bot, unkept_bot], Cursor(steps), crowd)
            sections: list[Section] = []
            for load in loads():
                found = await settle(
                    lambda load=load: fair_section(fair, load),
                    again=ONCE_MORE,  # a whole load: re-run once if a verdict differs
                    what=f"{load.key} fair race",
                )
                await explain_fair(fair, load, found)
                sections += found
            found = await settle(
                lambda: diagnostic_section(bare), again=ONCE_MORE, what="diagnostic"
            )
            await explain_diagnostic(bare, found)
            sections += found
    return sections


def missed(sections: Sequence[Section], suffix: str) -> list[Goal]:
    return [g for s in sections for g in s.goals if g.name.endswith(suffix) and not g.met]


def profile_load(load: Load) -> Load:
    """A shorter run of a load, for the profiler: long enough for a few thousand samples."""
    return Load(load.key, load.rate, max(50, load.actions // 3), load.slices)


async def explain_fair(fair: Field, load: Load, sections: Sequence[Section]) -> None:
    """A p99 missed: the load once more, both bots, py-spy on the plan bot's process."""
    goals = missed(sections, ".p99_ratio")
    if not goals:
        return
    bot = next(t for t in fair.targets if t.name == BOT)
    with spent(f"{load.key}: profiled (a goal missed)"):
        async with spied(bot.pid, idle=True) as spy:
            tallies = await fair.run(profile_load(load))
    found = spy.result
    assert found is not None
    echo_, plan = tallies[ECHO], tallies[BOT]
    threads = sorted(
        (n for n in found.threads if n.startswith("sqlite-writer") or "_connection_worker" in n),
        key=lambda name: not name.startswith("sqlite-writer"),
    )  # the writer's thread, then aiosqlite's (the reader's)
    cause = (
        f"in a profiled run of {plan.done} actions at this load (p99 {plan.p(0.99) * 1000:.0f} "
        f"against the echo bot's {echo_.p(0.99) * 1000:.0f} ms), the plan bot used "
        f"{cpu_per_action(plan):.1f} ms of CPU per action against the echo bot's "
        f"{cpu_per_action(echo_):.1f}; its main thread waited for a CPU held by other processes "
        f"{plan.kept_waiting / plan.wall:.1%} of the time (the echo bot's "
        f"{echo_.kept_waiting / echo_.wall:.1%}); py-spy, every thread idle or not: the event "
        f"loop waited in its selector {found.share_of_leaves('MainThread', 'Selector.select ('):.0%} "
        f"of the time; "
        + "; ".join(found.per_action(name, plan.done) for name in threads[:2])
        + "; the project's functions on the event loop, callees included: "
        + ", ".join(f"{f} {share:.0%}" for f, share in found.functions[:6])
        + "."
    )
    for goal in goals:
        goal.cause = cause


async def explain_diagnostic(bare: Field, sections: Sequence[Section]) -> None:
    """A diagnostic goal missed: the diagnostic once more, shorter, py-spy on the plan bot,
    which runs it alone (the cause reads only its tally; in a closed loop the others' turns
    would only be waited through). The others miss these steps of the script: nothing is
    measured on them after this."""
    goals = {
        suffix: missed(sections, suffix) for suffix in (".capacity", ".write_read", ".inbox_cost")
    }
    if not any(goals.values()):
        return
    bot = next(t for t in bare.targets if t.name == BARE_BOT)
    alone = Field([bot], bare.cursor, bare.crowd)
    with spent("diagnostic: profiled (a goal missed)"):
        async with spied(bot.pid) as spy:
            tallies = await alone.run(profile_load(diagnostic_load()))
    found, plan = spy.result, tallies[BARE_BOT]
    assert found is not None
    cpu = cpu_per_action(plan)
    where = (
        f"in a profiled run of {plan.done} actions the plan bot's process used {cpu:.1f} ms of "
        f"CPU per action, {plan.cpu / plan.wall:.0%} of a core while it was being asked "
        f"(the bench's fake and people {plan.driver_cpu / plan.wall:.0%}; the bot's main thread "
        f"was kept waiting for a CPU by other processes {plan.kept_waiting / plan.wall:.0%} of "
        f"the time), so one core would answer at most {1000 / cpu:.0f} a second"
    )
    profile = found.summary(plan.wall)
    for goal in goals[".capacity"]:
        goal.cause = f"{where}; {profile}."
    for goal in goals[".write_read"]:
        goal.cause = (
            f"{where}; storage.db.Database.write and what it calls took "
            f"{found.share('storage.db.Database.write'):.0%} of the main thread's CPU, the "
            f"writer's thread was on the CPU {found.busy('sqlite-writer_0', plan.wall):.0%} of "
            f"the time; {profile}."
        )
    for goal in goals[".inbox_cost"]:
        goal.cause = (
            f"{where}; the inbox's storage (storage.inbox) took "
            f"{found.share('storage.inbox'):.0%} of the main thread's CPU and bot.inbox's own "
            f"code {found.share('bot.inbox.Poller'):.0%} more; {profile}."
        )


def what_went_wrong(tally: Tally) -> str:
    """The unanswered actions by kind and the fake's refusals, as this run counted them."""
    kinds = ", ".join(f"{n} × {kind}" for kind, n in tally.unanswered_kinds.most_common())
    refusals = "; ".join(f"{n} × {what}" for what, n in tally.refusals.most_common(3))
    return (
        f"unanswered within {ANSWER_TIMEOUT:g} s: {kinds or 'none'}; refused by the fake: "
        f"{refusals or 'nothing'}."
    )


async def fair_section(fair: Field, load: Load) -> list[Section]:
    tallies = await fair.run(load)
    echo_, bot = tallies[ECHO], tallies[BOT]
    section = Section(
        f"Answering at {load.title}: the plan bot against an echo bot behind the same limits",
        ["bot", "offered/s", "answered/s", "p50 ms", "p99 ms", "p99 ÷ echo", "CPU ms/action",
         "waited for a CPU", "unanswered", "refused (429)"],
    )  # fmt: skip
    for name, tally in ((ECHO, echo_), (BOT, bot)):
        key = f"answering.{load.key}.{'echo' if tally is echo_ else 'bot'}"
        offered = tally.offered_rate if load.rate else float("nan")
        section.add(
            name,
            f"{offered:.1f}" if load.rate else "-",
            f"{section.figure(f'{key}.answered_per_s', tally.rate, '/s', lower_is_better=False):.1f}",
            f"{section.figure(f'{key}.p50_ms', tally.p(0.5) * 1000, 'ms'):.0f}",
            f"{section.figure(f'{key}.p99_ms', tally.p(0.99) * 1000, 'ms'):.0f}",
            f"{tally.p(0.99) / echo_.p(0.99):.2f}",
            f"{section.figure(f'{key}.cpu_ms_per_action', cpu_per_action(tally), 'ms'):.1f}",
            f"{tally.kept_waiting / tally.wall:.0%}",
            tally.unanswered,
            tally.rejected,
        )
    ratio = bot.p(0.99) / echo_.p(0.99)
    if load.rate is not None:
        section.goal(
            Goal(
                f"answering.{load.key}.missed",
                f"at {load.rate:g}/s, every action answered and nothing refused",
                bot.unanswered + bot.rejected,
                0,
                noise=3,
                cause=what_went_wrong(bot),
            )
        )
        section.goal(
            Goal(
                f"answering.{load.key}.p99_ratio",
                f"at {load.rate:g}/s, p99 ≤ {GOAL_P99_RATIO:g} × the echo bot's",
                ratio,
                GOAL_P99_RATIO,
            )
        )
    else:
        section.goal(
            Goal(
                "answering.saturation.refused",
                "at saturation, nothing refused by the fake (the limiter keeps Telegram's limits)",
                bot.rejected,
                0,
                noise=3,
                cause=what_went_wrong(bot),
            )
        )
        section.figure(
            "answering.saturation.rate_ratio", bot.rate / echo_.rate, "×", lower_is_better=False
        )
    section.notes += fair_notes(load, echo_, bot)
    return [section]


def cpu_per_action(tally: Tally) -> float:
    return tally.cpu / max(tally.done, 1) * 1000


def fair_notes(load: Load, echo_: Tally, bot: Tally) -> list[str]:
    lines = []
    if load.rate is not None:
        lines.append(
            f"{load.actions} actions sent on a seeded Poisson schedule of {load.rate:g} a second "
            f"(offered/s: as sent), to both bots at once, each through its own fake. Reads "
            f"(/mytasks, /task) p50 {bot.p(0.5, READS) * 1000:.0f} ms, writes (taps, /update, "
            f"notes) p50 {bot.p(0.5, WRITES) * 1000:.0f} ms; the echo bot's "
            f"{echo_.p(0.5, READS) * 1000:.0f} and {echo_.p(0.5, WRITES) * 1000:.0f} ms."
        )
    else:
        lines.append(
            f"{load.actions} actions, {CONCURRENCY} people each sending their next once "
            f"answered, in {load.slices} slices, the bots taking turns. Both bots keep Telegram's 30 messages a "
            f"second (29 by the allowance); the echo bot answers a tap with a toast only, which "
            f"names no chat and is not counted, while the bot also edits the card, which is; "
            f"so the bot answers {bot.rate / echo_.rate:.2f} × the echo bot's rate here."
        )
    lines += [*_refusals(bot), COLUMNS]
    return lines


COLUMNS = (
    "Latency: from the update queued at the fake to the bot's answer there. CPU ms/action: "
    "the bot's process's CPU time (/proc) per answered action. Waited for a CPU: the share of "
    "the time the bot's main thread was ready to run but had no core, taken by other processes "
    "(/proc schedstat): this machine is shared, so a high share slows everything measured."
)


def _refusals(bot: Tally) -> list[str]:
    if not bot.refusals:
        return []
    top = "; ".join(f"{n} × {what}" for what, n in bot.refusals.most_common(3))
    return [f"Refused by the fake: {top}."]


async def diagnostic_section(bare: Field) -> list[Section]:
    load = diagnostic_load()
    tallies = await bare.run(load)
    echo_, bot, unkept_bot = tallies[BARE_ECHO], tallies[BARE_BOT], tallies[UNKEPT]
    section = Section(
        f"Answering without a rate limiter (diagnostic: raw capacity, {CONCURRENCY} waiting at once)",
        ["bot", "actions", "answered/s", "÷ echo", "p50 ms", "p99 ms", "reads p50 ms",
         "writes p50 ms", "writes ÷ reads", "CPU ms/action", "waited for a CPU", "unanswered"],
    )  # fmt: skip
    for name, key, tally in (
        (BARE_ECHO, "echo", echo_),
        (BARE_BOT, "bot", bot),
        (UNKEPT, "bot_unkept", unkept_bot),
    ):
        prefix = f"answering.diagnostic.{key}"
        reads, writes = tally.p(0.5, READS) * 1000, tally.p(0.5, WRITES) * 1000
        section.add(
            name,
            tally.done,
            f"{section.figure(f'{prefix}.answered_per_s', tally.rate, '/s', lower_is_better=False):.0f}",
            f"{tally.rate / echo_.rate:.2f}",
            f"{section.figure(f'{prefix}.p50_ms', tally.p(0.5) * 1000, 'ms'):.0f}",
            f"{section.figure(f'{prefix}.p99_ms', tally.p(0.99) * 1000, 'ms'):.0f}",
            f"{section.figure(f'{prefix}.reads_p50_ms', reads, 'ms'):.0f}",
            f"{section.figure(f'{prefix}.writes_p50_ms', writes, 'ms'):.0f}",
            f"{writes / reads:.2f}" if reads else "-",
            f"{section.figure(f'{prefix}.cpu_ms_per_action', cpu_per_action(tally), 'ms'):.1f}",
            f"{tally.kept_waiting / tally.wall:.0%}",
            tally.unanswered,
        )
    write_read = bot.p(0.5, WRITES) / bot.p(0.5, READS)
    inbox_cost = (unkept_bot.rate / bot.rate - 1) * 100
    section.goal(
        Goal(
            "answering.diagnostic.capacity",
            f"without the limiter, ≥ {GOAL_CAPACITY:g} answers a second (5 × Telegram's ceiling)",
            bot.rate,
            GOAL_CAPACITY,
            at_most=False,
            unit="/s",
        )
    )
    section.goal(
        Goal(
            "answering.diagnostic.write_read",
            f"without the limiter, writes' p50 ≤ {GOAL_WRITE_READ:g} × reads'",
            write_read,
            GOAL_WRITE_READ,
        )
    )
    section.goal(
        Goal(
            "answering.diagnostic.inbox_cost",
            f"the durable inbox costs ≤ {GOAL_INBOX_COST:g}% of the answers a second",
            inbox_cost,
            GOAL_INBOX_COST,
            unit="%",
            margin=0.3,  # a difference of two throughputs: it moved by 10 points between runs
        )
    )
    section.notes += [
        f"{load.actions} actions, the same steps for each bot, in {load.slices} slices, the bots "
        "taking turns (each slice starting with the next bot); "
        "PTB's rate limiter is off and so are the fake's limits (each bot would be refused "
        "past 30 a second). This is the bots' raw capacity on this machine, not what anyone "
        "sees: Telegram lets no bot answer faster than 30 messages a second.",
        f"Inbox cost: answered/s with its writes bypassed ÷ with them, less 1 "
        f"({unkept_bot.rate:.0f} ÷ {bot.rate:.0f}); in CPU per action, "
        f"{section.figure('answering.diagnostic.inbox_cpu_cost', (cpu_per_action(bot) / max(cpu_per_action(unkept_bot), 1e-9) - 1) * 100, '%'):.0f}% "
        f"({cpu_per_action(bot):.1f} ms against {cpu_per_action(unkept_bot):.1f}). Bypassed by a bench-only InboxHandler "
        "(bench/answering.py: UnkeptInbox) that queues each update from memory, as the bot "
        "does when the database cannot take one: the same scheduling and handlers, no row "
        "written on arrival and no done mark.",
        COLUMNS,
    ]
    return [section]
