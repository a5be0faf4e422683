"""Where the time goes, as a profiler samples it: the measured cause of a missed goal.

Two profilers, each where it fits. py-spy samples a running process from outside (``spied``):
the bots under test, in child processes, with every thread (the event loop's, SQLite's writer,
aiosqlite's reader) and little overhead; it records a thread only while the thread is on the
CPU (or, with ``idle``, wherever it waits too), so each thread's samples say how busy it was,
and with what. pyinstrument runs a start-up (``python -m pyinstrument -m bot run``) and
samples the wall clock of its main thread (``hotspots``): time the event loop spends waiting
in its selector shows as idle.

A summary names how busy the process was, the packages whose own code the time went to, and
the project's functions that took the most time, callees included.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinstrument.frame import Frame
from pyinstrument.session import Session

from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("bot", "handlers", "storage")
"""The project's own packages, whose functions the summary lists by name."""


@dataclass
class Hotspots:
    seconds: float
    idle: float
    """Share of the time the thread waited in the event loop's selector."""
    packages: list[tuple[str, float]] = field(default_factory=list)
    """Self time by package (``bot``, ``telegram``, ``asyncio``, ``sqlite3`` …), as shares."""
    functions: list[tuple[str, float]] = field(default_factory=list)
    """The project's functions by total time (callees included), as shares."""

    def summary(self, top: int = 5) -> str:
        packages = ", ".join(f"{name} {share:.0%}" for name, share in self.packages[:top])
        functions = ", ".join(f"{name} {share:.0%}" for name, share in self.functions[:top])
        return (
            f"pyinstrument sampled {self.seconds:.1f} s of the event loop's thread: idle (waiting "
            f"in the selector) {self.idle:.0%}; own time by package: {packages}; the project's "
            f"functions, callees included: {functions or 'none'}"
        )


def hotspots(session: Session) -> Hotspots:
    root = session.root_frame(trim_stem=False)
    if root is None or root.time <= 0:
        return Hotspots(session.duration, 0.0)
    total = root.time
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    idle = 0.0
    for frame, package, path in walk(root, "", ()):
        own[package] += frame.total_self_time
        name = qualified(frame)
        if package == "selectors" and frame.function == "select" and name not in path:
            idle += frame.time
        if package in PROJECT and name not in path:
            inclusive[name] += frame.time
    own["selectors"] = 0.0  # the waiting, counted as idle
    return Hotspots(
        seconds=total,
        idle=idle / total,
        packages=[(name, t / total) for name, t in own.most_common() if t > 0],
        functions=[(name, t / total) for name, t in inclusive.most_common()],
    )


SPY_RATE = 200
"""py-spy's samples a second."""
SPY_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):\d+\)$")
WAITING_FOR_WORK = frozenset({
    "_worker (concurrent.futures.thread:81)",
    "_connection_worker_thread (aiosqlite.core:59)",
})  # fmt: skip
"""Where the writer's thread (a ThreadPoolExecutor's) and aiosqlite's wait for their next job,
by line (Python 3.11, aiosqlite 0.22): with ``idle``, the rest of their time is work."""
SPY_LINE = re.compile(r"^(?P<function>.*) \((?P<file>.*):(?P<line>\d+)\)$")


@dataclass
class Spied:
    """What py-spy saw of a process: how much each thread was on the CPU, and where the event
    loop's thread spent its CPU time."""

    seconds: float
    """How long it was sampled."""
    threads: Counter[str] = field(default_factory=Counter)
    """Samples per thread (each while it was on the CPU)."""
    packages: list[tuple[str, float]] = field(default_factory=list)
    """The main thread's own CPU time by package, as shares of its samples."""
    functions: list[tuple[str, float]] = field(default_factory=list)
    """The project's functions the main thread ran, callees included, as shares of its samples."""
    stacks: list[tuple[frozenset[str], int]] = field(default_factory=list)
    """The main thread's samples: the project functions on each stack, and how many."""
    leaves: dict[str, Counter[str]] = field(default_factory=dict)
    """Per thread, its innermost Python frames with their lines (where it was, or waited)."""

    def busy(self, thread: str, seconds: float | None = None) -> float:
        """Share of ``seconds`` (default: all the time sampled) the thread was on the CPU."""
        return self.threads[thread] / max((seconds or self.seconds) * SPY_RATE, 1.0)

    def share(self, prefix: str) -> float:
        """Share of the main thread's CPU time inside functions whose name starts so."""
        total = sum(n for _, n in self.stacks)
        inside = sum(n for names, n in self.stacks if any(f.startswith(prefix) for f in names))
        return inside / total if total else 0.0

    def summary(self, seconds: float | None = None, top: int = 6) -> str:
        """``seconds``: the time the process was under load, if less than the time sampled."""
        threads = ", ".join(
            f"{name} {self.busy(name, seconds):.0%}" for name, _ in self.threads.most_common(4)
        )
        packages = ", ".join(f"{name} {share:.0%}" for name, share in self.packages[:top])
        functions = ", ".join(f"{name} {share:.0%}" for name, share in self.functions[:top])
        return (
            f"py-spy: share of the time each thread was on the CPU: {threads}; of the main "
            f"thread's CPU time, own time by package: {packages}; the project's functions, "
            f"callees included: {functions}"
        )

    def share_of_leaves(self, thread: str, part: str) -> float:
        """Share of a thread's samples whose innermost frame contains ``part``."""
        leaves = self.leaves.get(thread, Counter())
        total = sum(leaves.values())
        inside = sum(n for leaf, n in leaves.items() if part in leaf)
        return inside / total if total else 0.0

    def per_action(self, thread: str, actions: int, top: int = 3) -> str:
        """Where a thread was while not waiting for work (sampled with ``idle``), in ms per
        action: a write's statements and its COMMIT (the fsync), a read's query."""
        leaves = [
            (leaf, n) for leaf, n in self.leaves.get(thread, Counter()).most_common()
            if leaf not in WAITING_FOR_WORK
        ]  # fmt: skip
        busy = sum(n for _, n in leaves) / SPY_RATE / max(actions, 1) * 1000
        where = ", ".join(
            f"{leaf} {n / SPY_RATE / max(actions, 1) * 1000:.1f}" for leaf, n in leaves[:top]
        )
        return f"thread {thread}: {busy:.1f} ms an action, of which {where or 'nothing'}"

    def waits(self, threads: int = 2, top: int = 3) -> str:
        """The other threads' innermost frames (sampled with ``idle``: where each waited too,
        on the disk as on its queue)."""
        parts = []
        for name, _ in self.threads.most_common():
            if name == "MainThread" or len(parts) >= threads:
                continue
            total = sum(self.leaves[name].values())
            where = ", ".join(
                f"{leaf} {n / total:.0%}" for leaf, n in self.leaves[name].most_common(top)
            )
            parts.append(f"thread {name}: {where}")
        return "; ".join(parts)


class Spy:
    """Filled in when the ``spied`` block ends."""

    result: Spied | None = None


@asynccontextmanager
async def spied(pid: int, *, idle: bool = False) -> AsyncIterator[Spy]:
    """Sample process ``pid`` with py-spy while the block runs; ``idle``: threads waiting
    too (in a system call, on a lock), not only those on the CPU."""
    spy = Spy()
    with tempfile.TemporaryDirectory(prefix="bench-spy-") as tmp:
        raw = Path(tmp) / "stacks.txt"
        child = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
            "--format", "raw", "--output", str(raw), "--rate", str(SPY_RATE), "--threads",
            "--full-filenames", "--nonblocking", *(["--idle"] if idle else []),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await asyncio.sleep(0.5)  # attached
        began = time.perf_counter()
        try:
            yield spy
        finally:
            seconds = time.perf_counter() - began
            child.send_signal(signal.SIGINT)
            _, err = await child.communicate()
            if not raw.exists():
                raise RuntimeError(f"py-spy recorded nothing: {err.decode(errors='replace')}")
            spy.result = from_stacks(raw.read_text(encoding="utf-8", errors="replace"), seconds)


def from_stacks(text: str, seconds: float) -> Spied:
    """Summarise py-spy's raw output: ``thread (id): name;frame;frame… count`` a line."""
    spied = Spied(seconds)
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        thread, *frames = stack.split(";")
        name = thread.split(": ", 1)[-1]
        samples = int(count)
        parsed = [m for m in map(SPY_FRAME.match, frames) if m is not None]
        if not parsed:
            continue
        spied.threads[name] += samples
        leaf = SPY_LINE.match(frames[-1]) if frames else None
        if leaf is not None:
            where = f"{leaf['function']} ({module_of(leaf['file'])}:{leaf['line']})"
            spied.leaves.setdefault(name, Counter())[where] += samples
        if name != "MainThread":
            continue
        own[package_of(parsed[-1]["file"]) or "<built-in>"] += samples
        handled = [i for i, m in enumerate(parsed) if m["function"] == "Handle._run"]
        in_loop = any(m["function"] == "BaseEventLoop._run_once" for m in parsed)
        # What the loop runs, not main() above it; nothing while the loop selects or schedules.
        below = parsed[handled[-1] :] if handled else [] if in_loop else parsed
        names = frozenset(
            f"{module_of(m['file'])}.{m['function']}"
            for m in below
            if package_of(m["file"]) in PROJECT
        )
        for function in names:
            inclusive[function] += samples
        spied.stacks.append((names, samples))
    main = spied.threads["MainThread"]
    if main:
        spied.packages = [(name, n / main) for name, n in own.most_common()]
        spied.functions = [(name, n / main) for name, n in inclusive.most_common()]
    return spied


def walk(
    frame: Frame, caller: str, path: tuple[str, ...]
) -> Iterator[tuple[Frame, str, tuple[str, ...]]]:
    """Every real frame, its package (a built-in's is its caller's) and the functions above
    it (so that recursion is counted once)."""
    if frame.is_synthetic:
        return
    package = package_of(frame.file_path or "") or caller
    yield frame, package, path
    below = (*path, qualified(frame))
    for child in frame.children:
        yield from walk(child, package, below)


def qualified(frame: Frame) -> str:
    """``bot.flood.FloodControl.answer``: the module, the class if any, the function."""
    file = frame.file_path or ""
    module = module_of(file)
    cls = f"{frame.class_name}." if frame.class_name else ""
    return f"{module}.{cls}{frame.function}"


def module_of(file: str) -> str:
    path = Path(file)
    parts = _library_parts(path)
    if not parts:
        try:
            parts = path.resolve().relative_to(ROOT).with_suffix("").parts
        except ValueError:
            parts = (path.stem,)
    return ".".join(p for p in parts if p != "__init__") or path.stem


def package_of(file: str) -> str:
    """The top-level package of a frame's file; ``importlib`` for the import machinery's
    frozen frames; empty for a built-in (whose time is its caller's)."""
    if file.startswith("<frozen "):
        return file.removeprefix("<frozen ").split(".", 1)[0].rstrip(">")
    if file.startswith("<"):
        return ""
    return module_of(file).split(".", 1)[0]


def _library_parts(path: Path) -> tuple[str, ...]:
    """A library module's dotted parts: after ``site-packages``, or after ``lib/pythonX.Y``
    for the standard library; empty for a file of neither (the project's)."""
    parts = path.with_suffix("").parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return parts[parts.index(marker) + 1 :]
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("python3") and parts[i - 1] == "lib" and ".venv" not in parts:
            return parts[i + 1 :]
    return ()


# --- what a database's statements took ---------------------------------------------------------

LABEL_CHARS = 90
"""A query is named by its SQL, cut to this many characters."""


@dataclass
class Queries:
    """What one database's reads and writes took while :func:`timed_queries` held it: the
    seconds awaited per read (named by its SQL) and per write (by its work function), with
    each read's first parameters, to ask SQLite for its query plan."""

    seconds: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    fetched: int = 0
    """Rows the reads returned, all statements together."""
    reads: dict[str, tuple[str, Any]] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)
    """A read's query plan (``EXPLAIN QUERY PLAN``), once :func:`query_plans` asked for it."""

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] += seconds
        self.calls[label] += 1

    def summary(self, repetitions: int, top: int = 4) -> str:
        """The statements that took longest, in ms a repetition, each read with its plan."""
        parts = []
        for label, seconds in self.seconds.most_common(top):
            plan = f" [{self.plans[label]}]" if label in self.plans else ""
            each = seconds / max(repetitions, 1) * 1000
            parts.append(f"{label} {each:.1f} ms{plan}")
        return "; ".join(parts) or "no statement"


def sql_label(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def work_label(work: Callable[..., Any]) -> str:
    """``write Rounds.open``: a write's work function, named by the method it is defined in."""
    name = getattr(work, "__qualname__", repr(work)).removesuffix(".<locals>.work")
    return f"write {name}"


@contextmanager
def timed_queries(db: Database, queries: Queries | None = None) -> Iterator[Queries]:
    """Time every read and write of ``db`` (by wrapping its methods on the instance) while the
    block runs, into ``queries`` (or new ones); the methods are its own again afterwards."""
    queries = Queries() if queries is None else queries
    fetchall, fetchone, write = db.fetchall, db.fetchone, db.write

    def reading(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(sql: str, params: Any = ()) -> Any:
            label = sql_label(sql)
            queries.reads.setdefault(label, (sql, params))
            started = time.perf_counter()
            try:
                result = await method(sql, params)
            finally:
                queries.add(label, time.perf_counter() - started)
            queries.fetched += len(result) if isinstance(result, list) else result is not None
            return result

        return timed

    async def timed_write(work: Callable[..., Any], *, durable: bool = True) -> Any:
        started = time.perf_counter()
        try:
            return await write(work, durable=durable)
        finally:
            queries.add(work_label(work), time.perf_counter() - started)

    async def timed_execute(sql: str, params: Any = (), *, durable: bool = True) -> Any:
        started = time.perf_counter()
        try:
            return await write(lambda conn: conn.execute(sql, params).rowcount, durable=durable)
        finally:
            queries.add(f"write {sql_label(sql)}", time.perf_counter() - started)

    db.fetchall, db.fetchone = reading(fetchall), reading(fetchone)  # type: ignore[method-assign]
    db.write, db.execute = timed_write, timed_execute  # type: ignore[method-assign]
    try:
        yield queries
    finally:
        del db.fetchall, db.fetchone, db.write, db.execute


async def query_plans(db: Database, queries: Queries, top: int = 4) -> None:
    """Ask SQLite how it runs the reads that took longest (a SCAN reads every row)."""
    for label, _ in queries.seconds.most_common(top):
        if label not in queries.reads:
            continue
        sql, params = queries.reads[label]
        rows = await db.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
        queries.plans[label] = ", ".join(str(row[3]) for row in rows)
