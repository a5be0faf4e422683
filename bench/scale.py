"""Scale: the bot's everyday operations on databases 1×, 10× and 100× the base size.

100× is a plan of 10,000 tasks, 1,000,000 status updates, 10,000 chats and 50,000 subscriptions.
Each database is generated in a child process (``python -m bench.scale <db> <factor>``), so that
the generator's memory is not counted as the bot's: this process holds what the bot holds, its
modules, plans and database connections. The operations behind ``/mytasks``,
``/task``, recording an update and a department's weekly digest are then timed on the three
sizes in turn, repetition by repetition, so that the noise of a shared machine falls on every
size alike and the growth ratios hold even when the absolute times do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import itertools
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from bench import beside, oversight, sized
from bench.memory import current_rss_mb, rss_mb
from bench.oversight import closure_of
from bench.profiling import Queries, query_plans, spied, timed_queries
from bench.report import Goal, Section, percentile
from bench.settle import settle
from bench.timing import spent
from bot.context import BotContext
from bot.digest import Digester, scheduled_start
from bot.due import moment as moment_at
from bot.i18n import t
from bot.permissions import Actor
from bot.plan import Plan, Task, load_plan
from bot.plan_years import index_plan
from bot.render.tasks import Moment, list_page, page_keyboard
from handlers.cards import card
from handlers.common import Caller
from handlers.tasks import MINE, build_list
from storage import Storage
from storage.db import to_db
from storage.digests import DigestChat, DigestSettings
from storage.due import Reminder
from storage.people import WHOLE_PLAN
from storage.updates import Status

ROOT = Path(__file__).resolve().parent.parent
TASKS_FILE = ROOT / "data" / "tasks.json"

FACTORS = (1, 10, 100)
BASE_TASKS, BASE_UPDATES, BASE_CHATS, BASE_SUBSCRIPTIONS = 100, 10_000, 100, 500

ANCHOR = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
"""'Now' for the benchmark: Thursday 10:00 in Shanghai, 3.4 days into the digest's ISO week."""
HISTORY = timedelta(days=700)
"""The history's span: 100 updates a task over 100 weeks, about one a task a week."""
ZONE = ZoneInfo("Asia/Shanghai")
BIG_DEPT = "cnipa"
"""The department named by the most tasks (48 of the real 110): the longest /mytasks list."""
GROUP_SHARE = 5
"""One chat in five is a group bound to a department; the others are private chats."""
SEED = 20261126

REPETITIONS = {
    "/mytasks": sized(200, 60), "/task": sized(200, 60), "record": sized(100, 30),
    "digest": sized(80, 24), "whole digest": sized(40, 12), "due scan": sized(60, 20), "due owe": sized(30, 10),
    "due idle": sized(60, 20),
    "scorecard": sized(30, 10), "round compile": sized(6, 3), "round open": sized(10, 5),
}  # fmt: skip
WARMUP = 5
NOISY = 0.3
"""These figures moved by a fifth and more between two runs on the shared machine (a p99 of
milliseconds, a growth over a 1× p50 of two): within 30% of a threshold, measured again."""
PROFILED_SECONDS = 2.0
"""How long an operation that misses a goal is repeated at the largest size under py-spy."""
ALONE_REPETITIONS = sized(30, 10)
GOAL_P99_MS = 20.0
"""For everything a person waits for, and what holds the event loop they wait on."""
GOAL_COMPILE_MS = 1000.0
"""The compiled round for the export is not a chat answer: the data under a second."""
GOAL_OWE_MS = 100.0
"""The morning's reminders owed are not an answer anyone waits for, but a write arriving then
waits behind them, once a day: a tenth of a second, below what a person notices."""
GOALS_P99_MS = {"round compile": GOAL_COMPILE_MS, "due owe": GOAL_OWE_MS}
"""Operations whose p99 goal is not :data:`GOAL_P99_MS`."""
GOAL_RSS_MB = 150.0
READS_WHAT_IT_LISTS = ("digest", "whole digest")
"""Operations that count in SQL and read only the rows they show, which are bounded."""


@dataclass(frozen=True)
class Size:
    """One database size: ``factor`` times the base of 100 tasks and 10,000 updates."""

    factor: int

    @property
    def label(self) -> str:
        return f"{self.factor}×"

    @property
    def tasks(self) -> int:
        return BASE_TASKS * self.factor

    @property
    def updates(self) -> int:
        return BASE_UPDATES * self.factor

    @property
    def chats(self) -> int:
        return BASE_CHATS * self.factor

    @property
    def subscriptions(self) -> int:
        return BASE_SUBSCRIPTIONS * self.factor


# --- the plan ----------------------------------------------------------------------------------


def scaled_plan(tasks: int) -> Plan:
    """The real plan's tasks repeated (text marked with the batch) up to ``tasks``, validated
    through the model: each department keeps its share, so its lists grow with the plan."""
    base = load_plan(TASKS_FILE)
    data = base.model_dump(mode="json", exclude={"task_by_number", "department_by_code"})
    real = data["tasks"]
    generated = []
    for i in range(tasks):
        task = dict(real[i % len(real)], number=i + 1)
        batch = i // len(real)
        if batch:
            task["text"] = f"{task['text']}（第{batch + 1}批）"
        generated.append(task)
    return Plan.model_validate({**data, "tasks": generated})


# --- who is in the database --------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """Users, groups and their departments: a pure function of the size and the departments, so
    that the generator and the benchmark agree on ids without talking to each other."""

    size: Size
    depts: tuple[str, ...]

    @property
    def groups(self) -> int:
        return self.size.chats // GROUP_SHARE

    @property
    def users(self) -> int:
        """Every user has a private chat with the bot; the other chats are groups."""
        return self.size.chats - self.groups

    def dept_of(self, user: int) -> str:
        return self.depts[(user - 1) % len(self.depts)]

    def group_id(self, index: int) -> int:
        return -1_000_000 - index

    def binding_of(self, index: int) -> str:
        """Group 0 is the office's whole-plan group; the others are departments' groups."""
        return "*" if index == 0 else self.depts[(index - 1) % len(self.depts)]

    @cached_property
    def members(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {code: [] for code in self.depts}
        for user in range(1, self.users + 1):
            found[self.dept_of(user)].append(user)
        return found

    @cached_property
    def group_of(self) -> dict[str, int]:
        """The first group bound to each department (not every department has one at 1×)."""
        found: dict[str, int] = {}
        for index in range(1, self.groups):
            found.setdefault(self.binding_of(index), self.group_id(index))
        return found

    def active(self, chat_id: int) -> bool:
        """One private chat in fifty blocked the bot."""
        return chat_id < 0 or chat_id % 50 != 0


# --- the generator (a child process) -----------------------------------------------------------


Row = tuple[object, ...]
"""A row for ``executemany``."""

NOTES = (
    "已完成调研，形成初稿",
    "正在征求有关部门意见，预计下月报送",
    "配套细则起草中",
    "等待上级审定",
    "已召开专题会议推进落实，各项工作按计划进行",
)


@dataclass
class Progress:
    """Each task's running state while the history is written: what ``task_state`` ends as."""

    status: list[str]
    progress: list[int | None]
    percent: list[float]
    pace: list[float]
    last_id: list[int]
    updated_at: list[str]
    changed_at: list[str | None]

    @classmethod
    def start(cls, tasks: int, rng: random.Random) -> Progress:
        n = tasks + 1
        return cls(
            status=["not_started"] * n,
            progress=[None] * n,
            percent=[0.0] * n,
            pace=[rng.uniform(0.3, 1.8) for _ in range(n)],
            last_id=[0] * n,
            updated_at=[""] * n,
            changed_at=[None] * n,
        )

    def step(self, task: int, rng: random.Random) -> tuple[str, str, int | None]:
        """The next update's kind, status and progress: tasks start, advance, now and then get
        blocked and unblocked, and finish; a finished task only gets notes."""
        status = self.status[task]
        if status == "done" or rng.random() < 0.25:
            return "note", status, None
        if status == "blocked":
            return ("status", "in_progress", None) if rng.random() < 0.5 else ("note", status, None)
        if status == "in_progress" and rng.random() < 0.04:
            return "status", "blocked", None
        self.percent[task] = min(100.0, self.percent[task] + self.pace[task])
        percent = int(self.percent[task])
        return "status", "done" if percent >= 100 else "in_progress", percent

    def apply(self, update: int, task: int, status: str, progress: int | None, at: str) -> None:
        if status != self.status[task]:
            self.changed_at[task] = at
        self.status[task] = status
        if progress is not None:
            self.progress[task] = progress
        self.last_id[task] = update
        self.updated_at[task] = at

    def closures(self) -> dict[int, str | None]:
        """Each task's place in closing (``bench/oversight.py: closure_of``)."""
        return {task: closure_of(task, status) for task, status in enumerate(self.status)}

    def states(self, year: int) -> Iterator[Row]:
        closures = self.closures()
        for task in range(1, len(self.status)):
            if self.last_id[task]:
                yield (
                    year,
                    task,
                    self.status[task],
                    self.progress[task],
                    self.last_id[task],
                    self.updated_at[task],
                    self.changed_at[task],
                    closures[task],
                )


def history(
    plan: Plan, people: Population, progress: Progress, rng: random.Random
) -> Iterator[Row]:
    """``status_updates`` rows, oldest first and evenly spread over :data:`HISTORY`: each by a
    member of the lead (four in five) or a participating department, from a private chat or the
    department's group."""
    count, start = people.size.updates, (ANCHOR - HISTORY).astimezone(UTC)
    step = HISTORY / (count + 1)
    # Looked up once, not a million times (the generator's own time is a quarter of 100×'s):
    # the same random draws in the same order, so the same rows.
    tasks = [(task.number, task.lead, task.participants) for task in plan.tasks]
    members, group_of, year = people.members, people.group_of, plan.year
    for update in range(1, count + 1):
        number, dept, participants = tasks[rng.randrange(len(tasks))]
        if participants and rng.random() < 0.2:
            dept = rng.choice(participants)
        author = rng.choice(members[dept])
        chat = group_of.get(dept, author) if rng.random() < 0.5 else author
        old = progress.status[number]
        kind, status, percent = progress.step(number, rng)
        note = rng.choice(NOTES) if kind == "note" or rng.random() < 0.3 else None
        at = (start + step * update).isoformat(timespec="microseconds")  # to_db: UTC already
        progress.apply(update, number, status, percent, at)
        yield (
            update, year, number, kind, old, status, percent, note, author, dept, chat, at,
        )  # fmt: skip


def people_rows(people: Population, at: str) -> dict[str, list[Row]]:
    """Users, their private chats and memberships (the first member of a department manages
    it), and the groups with their bindings."""
    users: list[Row] = [
        (u, f"user{u}", f"用户{u}", "zh", at, at) for u in range(1, people.users + 1)
    ]
    private: list[Row] = [
        (u, "private", "", None, None, None, None, int(people.active(u)), at, at)
        for u in range(1, people.users + 1)
    ]
    groups: list[Row] = [
        (people.group_id(i), "supergroup", f"群{i}", "zh", people.binding_of(i), 1, at, 1, at, at)
        for i in range(people.groups)
    ]
    managers = {members[0] for members in people.members.values() if members}
    memberships: list[Row] = [
        (u, people.dept_of(u), "manager" if u in managers else "member", None, at)
        for u in range(1, people.users + 1)
    ]
    return {"users": users, "chats": private + groups, "memberships": memberships}


def subscription_rows(plan: Plan, people: Population, rng: random.Random, at: str) -> list[Row]:
    """One chat in a thousand follows everything (the office's group first); every department
    group follows its department; private chats follow tasks, to the size's total."""
    everyone = max(1, people.size.chats // 1000)
    chosen: set[tuple[int, str, str]] = {(people.group_id(0), "all", "*")}
    chosen |= {(u, "all", "*") for u in range(1, everyone)}
    chosen |= {(people.group_id(i), "dept", people.binding_of(i)) for i in range(1, people.groups)}
    users = itertools.cycle(range(1, people.users + 1))
    while len(chosen) < people.size.subscriptions:
        chosen.add((next(users), "task", str(rng.randrange(len(plan.tasks)) + 1)))
    return [
        (chat, kind, target, plan.year if kind == "task" else 0, None, at)
        for chat, kind, target in sorted(chosen)
    ]


async def prepare(path: Path, created: datetime) -> None:
    """An empty database with the schema, made by the bot's own migrations."""
    store = Storage(path, clock=lambda: created)
    await store.open()
    await store.close()


INSERTS = {
    "users": "INSERT INTO users (user_id, username, full_name, language, first_seen, last_seen)"
    " VALUES (?, ?, ?, ?, ?, ?)",
    "chats": "INSERT INTO chats (chat_id, type, title, language, binding, bound_by, bound_at,"
    " active, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "memberships": "INSERT INTO memberships (user_id, dept, role, invite_code, joined_at)"
    " VALUES (?, ?, ?, ?, ?)",
    "subscriptions": "INSERT INTO subscriptions (chat_id, kind, target, plan_year, created_by,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
    "status_updates": "INSERT INTO status_updates (id, plan_year, task, kind, old_status, status,"
    " progress, note, author_id, dept, chat_id, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "task_state": "INSERT INTO task_state (plan_year, task, status, progress, last_update_id,"
    " updated_at, status_changed_at, closure) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
}


def fill(path: Path, size: Size) -> None:
    """Bulk inserts in one transaction on a plain connection: no journal, no syncing, a large
    cache. Journal mode goes back to WAL afterwards, as the bot keeps it."""
    plan = scaled_plan(size.tasks)
    people = Population(size, tuple(d.code for d in plan.departments))
    rng = random.Random(SEED + size.factor)
    at = to_db(ANCHOR - HISTORY)
    progress = Progress.start(size.tasks, rng)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -262144"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN")
        for table, rows in people_rows(people, at).items():
            conn.executemany(INSERTS[table], rows)
        conn.executemany(INSERTS["subscriptions"], subscription_rows(plan, people, rng, at))
        conn.executemany(INSERTS["status_updates"], history(plan, people, progress, rng))
        conn.executemany(INSERTS["task_state"], progress.states(plan.year))
        closures = progress.closures()
        oversight.insert(conn, oversight.due_rows(plan, closures, anchor=ANCHOR, zone=ZONE))
        oversight.insert_round(
            conn, oversight.round_rows(plan, people, rng, anchor=ANCHOR, zone=ZONE)
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


def generate(path: Path, factor: int) -> dict[str, float]:
    """Make the database of one size; returns how long it took and the generator's peak RSS."""
    started = time.perf_counter()
    asyncio.run(prepare(path, ANCHOR - HISTORY))
    fill(path, Size(factor))
    with path.open("rb") as made:  # on the disk now: written back later, it stalled the first
        os.fsync(made.fileno())  # timed commits (the morning's write at 100x: 109-115 ms, not 89)
    return {
        "seconds": time.perf_counter() - started,
        "rss_mb": rss_mb(),
    }


NICED = "--niced"
"""A child's last argument when it runs beside another benchmark: it gives way (:func:`give_way`)."""
IDLE_IO = ("ionice", "-c", "3")
"""How a child beside another benchmark is started where ``ionice`` exists: its reads and
writes wait for the disk to be idle (the benchmark beside it commits with fsync)."""


def give_way() -> None:
    """Run only on a CPU that nothing else wants: the lowest priority (nice 19) and, on Linux,
    the idle scheduling class, which any other process preempts at once, not after its slice."""
    os.nice(19)
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


async def in_child(mode: str, path: Path, size: Size, *, niced: bool = False) -> dict[str, Any]:
    """Run ``python -m bench.scale <mode> <db> <factor>`` and read the JSON it prints: its
    memory stays out of this process's RSS, and this process's out of its. Killed if the
    benchmark is stopped meanwhile."""
    prefix = IDLE_IO if niced and shutil.which(IDLE_IO[0]) else ()
    child = await asyncio.create_subprocess_exec(
        *prefix, sys.executable, "-m", "bench.scale", mode, str(path), str(size.factor),
        *([NICED] if niced else []), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        with beside.running(child) if niced else contextlib.nullcontext():
            out, _ = await child.communicate()
    except asyncio.CancelledError:
        child.kill()
        await child.wait()
        raise
    if child.returncode != 0:
        raise RuntimeError(f"{mode} at {size.label} failed (exit status {child.returncode})")
    return cast(dict[str, Any], json.loads(out))


# --- the operations, as the handlers do them ---------------------------------------------------


class BenchClock:
    """Storage's clock: :data:`ANCHOR` plus a millisecond a call, so that updates recorded by
    the benchmark come after the generated history, in id order."""

    def __init__(self) -> None:
        self._ticks = itertools.count(1)

    def __call__(self) -> datetime:
        return ANCHOR + timedelta(milliseconds=next(self._ticks))


@dataclass
class StandIn:
    """What ``build_list`` and ``card`` read from a ``BotContext``: the plan, the storage, and
    the moment lists and cards are rendered at."""

    plan: Plan
    storage: Storage
    at: Moment

    async def moment(self, plan: Plan | None = None, tasks: Iterable[int] | None = None) -> Moment:
        return self.at


@dataclass
class Bench:
    """One size's database opened as the bot opens it, with the plan and the people."""

    size: Size
    plan: Plan
    people: Population
    storage: Storage
    context: StandIn
    digester: Digester
    samples: dict[str, list[float]] = field(default_factory=dict)
    undisturbed: dict[str, list[float]] = field(default_factory=dict)
    """The samples during which no full garbage collection ran."""
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per operation: the rows it must return (or write), and the rows it fetched."""
    decided: list[Reminder] = field(default_factory=list)
    """This morning's reminders as the due tick's scan decided them, for its write."""

    @property
    def member(self) -> int:
        """A member of the big department, asking in a private chat."""
        return self.people.members[BIG_DEPT][1]

    @property
    def bot_context(self) -> BotContext:
        return cast(BotContext, self.context)

    @cached_property
    def led(self) -> list[int]:
        return [task.number for task in self.plan.tasks_of(BIG_DEPT, lead_only=True)]

    @cached_property
    def followed(self) -> Task:
        """The task updates are recorded on: the big department's first led task with one
        participant (cnipa and cpd, the two largest), the same task number at every size."""
        return next(
            task
            for task in self.plan.tasks
            if task.lead == BIG_DEPT and len(task.participants) == 1
        )

    @property
    def digest_chat(self) -> DigestChat:
        """The big department's group, as the digest queue describes it."""
        return self.digest_chat_of(BIG_DEPT)

    def digest_chat_of(self, binding: str) -> DigestChat:
        settings = DigestSettings(self.people.group_id(1), True, 1, "09:00")
        return DigestChat(self.people.group_id(1), "supergroup", binding, "zh", settings, False)


async def open_bench(size: Size, path: Path) -> Bench:
    """Open the database as the bot does and load the size's plan, as the bot's start does."""
    plan = scaled_plan(size.tasks)
    people = Population(size, tuple(d.code for d in plan.departments))
    storage = Storage(path, clock=BenchClock())
    await storage.open(plan_year=plan.year)
    await index_plan(storage, plan)  # what the start's reconcile writes: the digest counts it
    since = await storage.db.tracking_since()
    digester = Digester(storage, plan, zone=ZONE, default_language="zh", tracking_since=since)
    context = StandIn(
        plan, storage, await moment_at(storage, plan, tracking_since=since, zone=ZONE)
    )
    return Bench(size, plan, people, storage, context, digester)


async def who(bench: Bench, user: int, chat_id: int) -> Caller:
    """What ``handlers.common.caller`` looks up for every command: the chat and the roles."""
    chat = await bench.storage.chats.get(chat_id)
    assert chat is not None
    roles = {m.dept: m.role for m in await bench.storage.memberships.of_user(user)}
    return Caller(user, f"用户{user}", Actor(user, False, roles), chat, "zh", 0)


async def mytasks(bench: Bench, _: int) -> None:
    """/mytasks in a private chat: the member's departments' tasks, their states, page 1."""
    caller = await who(bench, bench.member, bench.member)
    task_list, states = await build_list(bench.bot_context, MINE, "-", caller)
    page = list_page(
        task_list.title, task_list.items, states, page=1, at=bench.context.at,
        lang=caller.lang, empty=t(caller.lang, "list.empty"),
    )  # fmt: skip
    page_keyboard("m", task_list.query, page, caller.lang)
    bench.rows["/mytasks"] = (len(task_list.items), len(states))


async def task_card(bench: Bench, repetition: int) -> None:
    """/task N: the state, the last five updates and the card with its buttons; a different
    task of the big department each time, so that no page stays cached by luck."""
    caller = await who(bench, bench.member, bench.member)
    await card(bench.bot_context, caller, bench.led[(repetition * 7919) % len(bench.led)])
    bench.rows["/task"] = (1 + 5, 1 + 5)  # every task has far more than five updates


async def record(bench: Bench, repetition: int) -> None:
    """A member's progress report: the history row, the task's state and one outbox row per
    chat following the task, one of its departments or everything, in one transaction."""
    task = bench.followed
    recorded = await bench.storage.updates.record(
        task.number, author_id=bench.member, dept=BIG_DEPT, chat_id=bench.member,
        status=Status.IN_PROGRESS, progress=repetition % 100, note="按计划推进",
        departments=task.departments,
    )  # fmt: skip
    bench.rows["record"] = (2 + recorded.notifications, 2 + recorded.notifications)


async def digest(bench: Bench, _: int) -> None:
    """The big department's weekly digest, rendered and split into messages as it is owed."""
    await bench.digester.messages(bench.digest_chat, ANCHOR)


async def whole_digest(bench: Bench, _: int) -> None:
    """The whole-plan group's weekly digest (every task counted, the scorecard's worst rows)."""
    await bench.digester.messages(bench.digest_chat_of(WHOLE_PLAN), ANCHOR)


async def fetched_by(bench: Bench, operation: Operation) -> int:
    """The rows an operation's reads return, counted as it runs once more (not timed)."""
    with timed_queries(bench.storage.db) as queries:
        await operation(bench, 0)
    return queries.fetched


async def digest_rows(bench: Bench) -> tuple[int, int]:
    """What a department digest counts (its tasks, this week's changes to them), and the rows
    its reads return: the few it lists, whatever the department's size."""
    start = scheduled_start(bench.digester.week(ANCHOR), ZONE)
    tasks = {task.number for task in bench.plan.tasks_of(BIG_DEPT)}
    end = ANCHOR + timedelta(microseconds=1)
    changes = await bench.storage.updates.count_between(start, end, tasks=tasks)
    return len(tasks) + changes, await fetched_by(bench, digest)


async def whole_digest_rows(bench: Bench) -> tuple[int, int]:
    """What the whole-plan digest counts (every task, the week's changes), and what it reads."""
    start = scheduled_start(bench.digester.week(ANCHOR), ZONE)
    end = ANCHOR + timedelta(microseconds=1)
    changes = await bench.storage.updates.count_between(start, end)
    return len(bench.plan.tasks) + changes, await fetched_by(bench, whole_digest)


Operation = Callable[[Bench, int], Awaitable[None]]
OPERATIONS: dict[str, Operation] = {
    "/mytasks": mytasks,
    "/task": task_card,
    "record": record,
    "digest": digest,
    "whole digest": whole_digest,
    "due scan": oversight.due_scan,
    "due owe": oversight.due_owe,
    "due idle": oversight.due_idle,
    "scorecard": oversight.scorecard,
    "round compile": oversight.round_compile,
    "round open": oversight.round_open,
}
"""In the order measured: ``round open`` last, as the rounds it opens change what the latest
round is."""
PREPARE: dict[str, Operation] = {
    "due owe": oversight.forget_this_morning,
    "round open": oversight.close_open_round,
}
"""Run before each repetition of the operation, not timed."""
ROWS: dict[str, Callable[[Bench], Awaitable[tuple[int, int]]]] = {
    "digest": digest_rows,
    "whole digest": whole_digest_rows,
    "due scan": oversight.due_rows_of,
    "due owe": oversight.owe_rows_of,
    "due idle": oversight.idle_rows_of,
    "scorecard": oversight.scorecard_rows,
    "round compile": oversight.compile_rows,
}
"""Counted once the operation is measured, not timed: the rows it must return, and fetched."""
DESCRIPTIONS = {
    "/mytasks": f"/mytasks, member of {BIG_DEPT} (list kept per plan + states + page 1)",
    "/task": "/task N (state + last 5 updates + card)",
    "record": "record an update + its outbox rows",
    "digest": f"{BIG_DEPT} weekly digest (gather + render)",
    "whole digest": "the whole-plan weekly digest (with the scorecard's worst five)",
    "due scan": "due tick's scan, the morning it finds work (find + decide)",
    "due owe": "due tick's write that morning (log + owe its messages)",
    "due idle": "due tick, every other minute (nothing new)",
    "scorecard": "/scorecard (standings + last reports + round summary, ranked)",
    "round compile": "compile the round from the database (for the export)",
    "round open": "open a round (slots + requests, one transaction)",
}


def key_of(name: str) -> str:
    """An operation's part of its figures' names: ``mytasks``, ``due_scan``."""
    return name.strip("/").replace(" ", "_")


# --- measuring ---------------------------------------------------------------------------------


class FullCollections:
    """Generation-2 garbage collections while an operation is measured: each walks every live
    object of the bot (its modules, the plan), which is what its slowest repetitions wait on."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._started) * 1000)

    def summary(self) -> str:
        if not self.pauses:
            return "no full collection"
        return f"{len(self.pauses)} full collections, longest {ms(max(self.pauses))} ms"


async def measure(
    benches: Sequence[Bench], name: str, operation: Operation, warmup: int = WARMUP
) -> FullCollections:
    """Repetition by repetition across the sizes, alternating their order: a noisy moment on
    the machine hits every size, not one; after ``warmup`` unmeasured repetitions."""
    collections = FullCollections()
    prepare = PREPARE.get(name)
    gc.callbacks.append(collections)
    try:
        for repetition in range(-warmup, REPETITIONS[name]):
            order = benches if repetition % 2 else list(reversed(benches))
            for bench in order:
                if prepare is not None:
                    await prepare(bench, repetition)
                collected = len(collections.pauses)
                started = time.perf_counter()
                await operation(bench, repetition)
                elapsed = (time.perf_counter() - started) * 1000
                if repetition >= 0:
                    bench.samples.setdefault(name, []).append(elapsed)
                    if len(collections.pauses) == collected:
                        bench.undisturbed.setdefault(name, []).append(elapsed)
    finally:
        gc.callbacks.remove(collections)
    return collections


# --- the report --------------------------------------------------------------------------------


def ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


GROWTH_SLACK = 2.0
"""Time may grow this much faster than the rows: B-trees get deeper (log n) and a 100× file no
longer stays in SQLite's page cache, which costs a constant-row operation a little."""


def operation_row(section: Section, name: str, benches: Sequence[Bench]) -> None:
    """One operation's line: rows at each size, p50 / p99 at each size, and the growths."""
    p50 = [percentile(b.samples[name], 0.5) for b in benches]
    p99 = [percentile(b.samples[name], 0.99) for b in benches]
    needed = [b.rows[name][0] for b in benches]
    fetched = [b.rows[name][1] for b in benches]
    rows = " / ".join(f"{n:,}" for n in needed)
    if fetched != needed:
        rows += " (fetched " + " / ".join(f"{n:,}" for n in fetched) + ")"
    section.add(
        DESCRIPTIONS[name], rows,
        *(f"{ms(a)} / {ms(b)}" for a, b in zip(p50, p99, strict=True)),
        f"{p50[-1] / p50[0]:.1f}× / {p99[-1] / p99[0]:.1f}×", f"{needed[-1] / needed[0]:.1f}×",
    )  # fmt: skip


def goals(name: str, benches: Sequence[Bench]) -> list[Goal]:
    """The operation's goals at the largest size: its p99, and its p50's growth against the
    growth of the rows it must return."""
    first, last = benches[0], benches[-1]
    p99 = percentile(last.samples[name], 0.99)
    time_growth = percentile(last.samples[name], 0.5) / percentile(first.samples[name], 0.5)
    row_growth = last.rows[name][0] / first.rows[name][0]
    key, threshold = key_of(name), GOALS_P99_MS.get(name, GOAL_P99_MS)
    found = [
        Goal(f"scale.{key}.p99_ms", f"{name}: p99 at {last.size.label} ≤ {threshold:g} ms",
             p99, threshold, unit=" ms", margin=NOISY),
        Goal(f"scale.{key}.growth", f"{name}: p50 grows ≤ {GROWTH_SLACK:g} × its rows "
             f"({first.size.label} → {last.size.label})", time_growth / row_growth, GROWTH_SLACK,
             margin=NOISY),
    ]  # fmt: skip
    if name in READS_WHAT_IT_LISTS:
        # From the middle size up: its lists are full there, and only what it counts grows.
        middle = benches[-2]
        reads = last.rows[name][1] / middle.rows[name][1]
        counted = last.rows[name][0] / middle.rows[name][0]
        found.append(
            Goal(f"scale.{key}.reads_growth", f"{name}: rows read grow ≤ {GROWTH_SLACK:g}× "
                 f"({middle.size.label} → {last.size.label}, while what it counts grows "
                 f"{counted:.0f}×): as what it lists, not as what it counts", reads, GROWTH_SLACK)
        )  # fmt: skip
    return found


def collected(name: str, benches: Sequence[Bench], collections: FullCollections) -> str:
    """The garbage collector's part in the operation's slowest repetitions."""
    calm = [b.undisturbed.get(name, []) for b in benches]
    without = " / ".join(ms(percentile(c, 0.99)) if c else "-" for c in calm)
    return f"{name}: {collections.summary()}; p99 of the repetitions without one: {without} ms."


async def measured(benches: Sequence[Bench], name: str, warmup: int = WARMUP) -> list[Section]:
    """One operation measured afresh at every size: its goals and figures, and the collector's
    part (a section without a table, merged into the timing section)."""
    for bench in benches:
        bench.samples.pop(name, None)
        bench.undisturbed.pop(name, None)
    collections = await measure(benches, name, OPERATIONS[name], warmup)
    if name in ROWS:
        for bench in benches:
            bench.rows[name] = await ROWS[name](bench)
    part = Section(name, [], notes=[collected(name, benches, collections)])
    key = key_of(name)
    for bench in benches:
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            value = percentile(bench.samples[name], q)
            part.figure(f"scale.{key}.{bench.size.label}.{label}_ms", value, "ms")
    part.goals += goals(name, benches)
    return [part]


async def explain(benches: Sequence[Bench], name: str, missed: Sequence[Goal]) -> None:
    """Profile the operation at the largest size with py-spy, every thread of this process,
    idle or not (a write's time is on SQLite's writer thread): the cause of a miss."""
    largest = benches[-1]
    repetitions, prepare, spent, queries = 0, PREPARE.get(name), 0.0, Queries()
    async with spied(os.getpid(), idle=True) as spy:
        until = time.perf_counter() + PROFILED_SECONDS
        while time.perf_counter() < until:
            if prepare is not None:
                await prepare(largest, repetitions)
            with timed_queries(largest.storage.db, queries):
                started = time.perf_counter()
                await OPERATIONS[name](largest, repetitions)
                spent += time.perf_counter() - started
            repetitions += 1
    await query_plans(largest.storage.db, queries)
    found = spy.result
    assert found is not None
    selector = found.share_of_leaves("MainThread", "Selector.select (")
    untimed = f" (and, not timed, {PREPARE[name].__name__})" if name in PREPARE else ""
    cause = (
        f"{repetitions} repetitions at {largest.size.label}{untimed} sampled by py-spy "
        f"({found.seconds:.1f} s); the event loop's thread waited in its selector "
        f"{selector:.0%} of the time; the project's functions on it, callees included: "
        + ", ".join(f"{f} {share:.0%}" for f, share in found.functions[:5])
        + f"; {found.waits()}. Of {spent / repetitions * 1000:.1f} ms a repetition, the "
        f"statements it awaited longest: {queries.summary(repetitions)}."
    )
    for goal in missed:
        goal.cause = cause


def timing_section(benches: Sequence[Bench], parts: dict[str, Section]) -> Section:
    labels = [b.size.label for b in benches]
    section = Section(
        "Scale: the bot's operations at 1×, 10× and 100× (ms, p50 / p99)",
        ["operation", "rows it must return, " + " / ".join(labels),
         *(f"{label} p50 / p99" for label in labels),
         f"growth {labels[-1]}/{labels[0]} p50 / p99", "rows growth"],
    )  # fmt: skip
    for name in OPERATIONS:
        operation_row(section, name, benches)
        section.notes += parts[name].notes
        section.figures += parts[name].figures
        section.goals += parts[name].goals
    reps = ", ".join(f"{name} {n}" for name, n in REPETITIONS.items())
    section.notes += [
        f"Goals: p99 ≤ {GOAL_P99_MS:.0f} ms at {labels[-1]}, p50 growing no faster than the rows "
        f"(within {GROWTH_SLACK:.0f}×, for deeper B-trees and a file larger than the cache).",
        "A full collection runs in whichever repetition allocates at that moment, at any size; "
        "the largest size's allocations cause most of them.",
        f"Repetitions per size: {reps}, after {WARMUP} unmeasured (before an operation's first "
        "measurement: one measured again follows it, warm); sizes interleaved, rep by rep.",
        "/mytasks and the digest must return more rows as departments get more tasks: "
        f"{BIG_DEPT} is named by 48 of the real 110 tasks, so by ~4,360 of 10,000 at 100×.",
        "record: rows written = 1 update + 1 state + the outbox rows owed to following chats; "
        "each commit waits for fsync (synchronous = FULL), so its p99 also measures the disk, "
        "which on a shared machine stalls now and then.",
    ]
    return section


@dataclass(frozen=True)
class Generated:
    size: Size
    path: Path
    seconds: float
    child_rss_mb: float
    db_mb: float


def data_section(made: Prepared) -> Section:
    generated = made.generated
    section = Section(
        "Scale: the generated databases",
        ["size", "tasks", "status updates", "chats", "subscriptions", "generated in", "file"],
    )
    for g in generated:
        s = g.size
        section.add(
            s.label, f"{s.tasks:,}", f"{s.updates:,}", f"{s.chats:,}", f"{s.subscriptions:,}",
            f"{g.seconds:.1f} s", f"{g.db_mb:.0f} MB",
        )  # fmt: skip
    section.notes += [
        "Generated by a child process each: the bot's migrations, then executemany in one "
        "transaction on a plain sqlite3 connection (journal off, no sync); task_state is each "
        "task's last update, as Updates.record keeps it.",
        f"History: updates evenly over {HISTORY.days} days up to {ANCHOR:%Y-%m-%d %H:%M} UTC "
        "(Thursday 10:00 in Shanghai), about one per task per week; one chat in five is a "
        "department group; one chat in a thousand follows everything, every group its "
        "department, private chats follow tasks. The outbox starts empty.",
        "Generator peak RSS (its own process): "
        + ", ".join(f"{g.size.label} {g.child_rss_mb:.0f} MB" for g in generated),
    ]
    if made.beside:
        section.notes.append(
            "Generated while the fan-out benchmarks ran, at the lowest CPU priority (nice 19, the "
            "idle scheduling class) and the idle disk priority, on the core they leave idle, and "
            "stopped while the weekly digest's fan-out ran (bench/beside.py), so the times are "
            "those of a generator that gave way, not its fastest; nothing was timed here until "
            "every database was made."
        )
    return section


Marks = dict[str, tuple[float, float]]
"""Moment → (peak RSS, RSS at that moment), in MB."""


def rss_goal(alone: Marks) -> Goal:
    peak = max(p for p, _ in alone.values())
    grew = ", ".join(f"{moment}: {p:.0f} MB" for moment, (p, _) in alone.items())
    return Goal(
        "scale.rss_mb", f"the bot's peak RSS at {FACTORS[-1]}× ≤ {GOAL_RSS_MB:.0f} MB", peak,
        GOAL_RSS_MB, unit=" MB", cause=f"peak by moment (bot alone): {grew}.",
    )  # fmt: skip


def memory_section(marks: Marks, made: Prepared) -> Section:
    section = Section("Scale: memory (RSS)", ["process", "moment", "peak", "then"])
    alone, beside = made.alone, made.beside
    for process, moments in (("benchmark", marks), (f"bot alone, {FACTORS[-1]}×", alone)):
        for moment, (peak, now) in moments.items():
            section.add(process, moment, f"{peak:.0f} MB", f"{now:.0f} MB")
    section.figure("scale.rss.bot_alone_peak_mb", max(p for p, _ in alone.values()), "MB")
    section.goal(made.rss)
    section.notes += [
        "bot alone: a child process that does what the bot does at the largest size and "
        f"nothing else: imports bot.app, loads the plan, opens a copy of the database as "
        f"generated, runs each operation {ALONE_REPETITIONS} times (or as many as it is "
        "measured, if fewer)"
        + (
            "; it ran at the lowest CPU priority while the fan-out benchmarks did (what it "
            "measures is memory, which waiting for a core does not change)."
            if beside
            else "."
        ),
        "peak = VmHWM (getrusage maxrss, except that in a child process maxrss starts from the "
        "parent's), then = VmRSS at that moment.",
        "benchmark: this process (it never generates; the generators' peaks are listed with "
        "the databases); it also holds the 1× and 10× plans and databases, so it overstates.",
    ]
    return section


def mark(marks: Marks, moment: str) -> None:
    marks[moment] = (rss_mb(), current_rss_mb())


async def generate_all(directory: Path, sizes: Sequence[Size], niced: bool) -> list[Generated]:
    """One child process per size, one after the other."""
    generated = []
    for size in sizes:
        path = directory / f"scale-{size.factor}.db"
        with spent(f"generate {size.label} (a child process)"):
            made = await in_child("generate", path, size, niced=niced)
        mb = path.stat().st_size / 2**20
        generated.append(Generated(size, path, made["seconds"], made["rss_mb"], mb))
    return generated


async def open_all(generated: Sequence[Generated], marks: Marks) -> list[Bench]:
    benches = []
    for made in generated:
        benches.append(await open_bench(made.size, made.path))
        mark(marks, f"after loading the {made.size.label} plan and opening its database")
    return benches


def measurement(benches: Sequence[Bench], name: str) -> Callable[[], Awaitable[list[Section]]]:
    """The operation measured afresh at each call, warmed up before the first only: a call
    again follows the one before, on the same data and caches, as warm as a warm-up leaves."""
    calls = itertools.count()
    return lambda: measured(benches, name, warmup=WARMUP if next(calls) == 0 else 0)


async def measure_all(benches: Sequence[Bench]) -> dict[str, Section]:
    """Each operation, measured again while a goal of it is in question (bench/settle.py), and
    profiled when it misses one."""
    parts = {}
    for name in OPERATIONS:
        (part,) = await settle(measurement(benches, name), what=name)
        if missed := [goal for goal in part.goals if not goal.met]:
            with spent(f"{name}: profiled (a goal missed)"):
                await explain(benches, name, missed)
        parts[name] = part
    return parts


async def bot_alone(generated: Path, factor: int) -> Marks:
    """The bot's working set at one size, in a process of its own (``bot`` mode), on a copy of
    the database as generated: its operations write (updates, rounds), and the timing's
    databases must stay as generated, whichever runs first."""
    path = generated.with_name(f"alone-{generated.name}")
    shutil.copyfile(generated, path)  # in the kernel (sendfile): no memory of this process
    marks: Marks = {}
    importlib.import_module("bot.app")  # every module the bot imports at start
    mark(marks, "after importing the bot (bot.app)")
    bench = await open_bench(Size(factor), path)
    mark(marks, "after loading the plan and opening the database")
    gc.freeze()  # as the bot does at the end of post_init
    try:
        for name, operation in OPERATIONS.items():
            for repetition in range(min(ALONE_REPETITIONS, REPETITIONS[name])):
                if (prepare := PREPARE.get(name)) is not None:
                    await prepare(bench, repetition)
                await operation(bench, repetition)
    finally:
        await bench.storage.close()
        for file in path.parent.glob(f"{path.name}*"):  # with its -wal and -shm
            file.unlink()
    mark(marks, "after running every operation")
    return marks


@dataclass(frozen=True)
class Prepared:
    """What the timing starts from: the databases, and the bot's memory alone (measured in a
    process of its own, so it needs no core while anything is timed)."""

    generated: list[Generated]
    alone: Marks
    """The last measurement's, for the table."""
    rss: Goal
    """The bot's peak RSS, settled (bench/settle.py): measured again if in question."""
    beside: bool
    """Made in the background while an earlier benchmark ran (see :class:`Preparation`)."""


async def prepared(directory: Path, beside: bool) -> Prepared:
    """The databases, generated one after the other, then the bot alone at the largest."""
    generated = await generate_all(directory, [Size(factor) for factor in FACTORS], beside)
    largest = generated[-1]
    alone: list[Marks] = []

    async def measure_alone() -> list[Section]:
        marks = await in_child("bot", largest.path, largest.size, niced=beside)
        alone.append({moment: (peak, now) for moment, (peak, now) in marks.items()})
        return [Section("bot alone", [], goals=[rss_goal(alone[-1])])]

    what = f"the bot alone at {largest.size.label} (a child process)"
    (part,) = await settle(measure_alone, what=what)
    return Prepared(generated, alone[-1], part.goals[0], beside)


class Preparation:
    """The data made before the timing: by :meth:`start`, in the background while an earlier
    benchmark leaves a core idle (the fan-outs wait on Telegram's limits, not on the CPU), in
    child processes that give way (:func:`give_way`, and the idle disk priority), so that the
    benchmark running meanwhile keeps its core and its disk; otherwise, when :meth:`taken`, at once. Nothing is timed while a child of
    it runs: :func:`run` waits for all of it before it times anything."""

    def __init__(self) -> None:
        self._started: tuple[tempfile.TemporaryDirectory[str], asyncio.Task[Prepared]] | None = None

    def start(self) -> None:
        if self._started is None:
            directory = tempfile.TemporaryDirectory(prefix="bench-scale-")
            task = asyncio.create_task(self._beside(Path(directory.name)))
            self._started = (directory, task)

    @staticmethod
    async def _beside(directory: Path) -> Prepared:
        with spent("meanwhile, scale's data (giving way)"):
            return await prepared(directory, beside=True)

    async def stop(self) -> None:
        """End what was started and not taken (a benchmark before this one failed)."""
        if self._started is not None:
            directory, task = self._started
            self._started = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            directory.cleanup()

    @asynccontextmanager
    async def taken(self) -> AsyncIterator[Prepared]:
        """The data, made now if it was not started; its directory is gone on exit."""
        if self._started is None:
            directory = tempfile.TemporaryDirectory(prefix="bench-scale-")
            with directory:
                yield await prepared(Path(directory.name), beside=False)
            return
        directory, task = self._started
        self._started = None
        with directory:
            with spent("waited for the data made in the background"):
                made = await task
            yield made


PREPARATION = Preparation()


def start_in_background() -> None:
    """``python -m bench`` calls this as the fan-out starts (``bench/__main__.py: BESIDE``)."""
    PREPARATION.start()


async def stop_in_background() -> None:
    await PREPARATION.stop()


async def run() -> list[Section]:
    """Generate the three databases in a temporary directory (or take them, made in the
    background), measure the bot's memory alone, time the operations side by side, and
    report; the directory is gone on return."""
    marks: Marks = {}
    importlib.import_module("bot.app")  # the bot's own modules: part of its working set
    mark(marks, "after importing the bot (bot.app)")
    async with PREPARATION.taken() as made:
        generated = made.generated
        with spent("open the three databases, load their plans"):
            benches = await open_all(generated, marks)
        gc.freeze()  # as the bot does at the end of post_init, once its plan is loaded
        try:
            parts = await measure_all(benches)
            section = timing_section(benches, parts)
        finally:
            for bench in benches:
                await bench.storage.close()
        mark(marks, "after running every operation")
    return [data_section(made), section, memory_section(marks, made)]


def main(argv: Sequence[str]) -> int:
    """The child processes: ``generate <db> <factor>`` or ``bot <db> <factor>``, JSON out;
    with :data:`NICED` last, at the lowest CPU priority."""
    mode, path, factor, *flags = argv
    if NICED in flags:
        give_way()
    if mode == "generate":
        result: dict[str, Any] = generate(Path(path), int(factor))
    else:
        result = dict(asyncio.run(bot_alone(Path(path), int(factor))))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
