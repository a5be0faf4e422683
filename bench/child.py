"""The bots under test as child processes, each against a fake Telegram served by the bench.

A bot raced in the bench's own event loop would share one core with the fake Telegram and the
simulated people, and be charged for their work; deployed, it has a process of its own and
Telegram is elsewhere. So every bot raced runs in a process of its own: the plan bot as
deployed is ``python -m bot run`` itself; the rest are bench-only variants started here
(``python -m bench.child …``), which the product does not carry:

- ``echo [--limited]``: a bare python-telegram-bot echo bot, with (``--limited``) the plan
  bot's own flood allowance as its rate limiter;
- ``bot --no-limiter [--unkept]``: the plan bot built by ``build_application`` as ``python -m
  bot run`` builds it, without PTB's rate limiter (raw capacity), and (``--unkept``) with the
  durable inbox's writes bypassed (:class:`UnkeptInbox`), to measure what they cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager, suppress
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

from bot.faketelegram import FakeTelegram
from bot.flood import FloodControl, SharedRateLimiter
from bot.inbox import ALLOWED_UPDATES, InboxHandler
from storage.inbox import Received, chat_of
from tests.botprocess import child_env

STATUS_PREFIX = "st1:"
"""Status buttons' callback data (``bot.callbacks.STATUS``); the echo bot's buttons use it too."""
LONG_POLL = 25
"""Seconds a getUpdates may wait, for the echo bot as for the plan bot (``InboxOptions``)."""
STOP_TIMEOUT = 30.0
READY_TIMEOUT = 30.0
TICKS = os.sysconf("SC_CLK_TCK")


# --- in the bench ------------------------------------------------------------------------------


@asynccontextmanager
async def spawned(
    fake: FakeTelegram, workdir: Path, name: str, *command: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python <command>`` pointed at ``fake``, on the database ``<workdir>/<name>.db``, its
    output in ``<name>.log``; stopped with SIGTERM (as a container stops it) at the end."""
    with (workdir / f"{name}.log").open("wb") as sink:
        child = await asyncio.create_subprocess_exec(
            sys.executable, *command,
            cwd=workdir, env=child_env(fake, workdir / f"{name}.db"),
            stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=sink,
        )  # fmt: skip
    try:
        yield child
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.wait(), STOP_TIMEOUT)
            except TimeoutError:
                child.kill()
                await child.wait()


async def until_polling(
    fake: FakeTelegram, child: asyncio.subprocess.Process, began: float | None = None
) -> float:
    """Wait for the child's first getUpdates (looked for every 2 ms); seconds since ``began``."""
    began = time.perf_counter() if began is None else began
    while not fake.requests["getUpdates"]:
        if child.returncode is not None:
            raise RuntimeError(f"the bot exited ({child.returncode}) before polling")
        if time.perf_counter() - began > READY_TIMEOUT:
            raise RuntimeError(f"the bot did not poll within {READY_TIMEOUT:g} s")
        await asyncio.sleep(0.002)
    return time.perf_counter() - began


def output_of(workdir: Path, name: str) -> str:
    return (workdir / f"{name}.log").read_text(encoding="utf-8", errors="replace")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def runnable_waiting(pid: int) -> float:
    """Seconds the process's main thread has spent runnable but waiting for a CPU (taken by
    other processes: the machine is shared), from ``/proc/<pid>/schedstat``."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


# --- in the child ------------------------------------------------------------------------------


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


def run_echo(limited: bool) -> int:
    """The same PTB, concurrent updates and long polling as the bot; no logic, no database."""
    builder = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"])
    builder = builder.base_url(os.environ["TELEGRAM_API_BASE_URL"]).concurrent_updates(True)
    if limited:
        builder = builder.rate_limiter(SharedRateLimiter(FloodControl()))
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(toast))
    app.run_polling(poll_interval=0, timeout=LONG_POLL, allowed_updates=ALLOWED_UPDATES)
    return 0


class UnkeptInbox(InboxHandler):
    """Diagnostic only, for the inbox's cost: the durable inbox's scheduling and handling
    (per chat in order, ``concurrency`` chats at once, every handler) without its two writes,
    the row on arrival and its done mark. Updates are handled from memory exactly as the bot
    handles them when the database cannot take them (``Received.kept=False``)."""

    async def receive(self, raw: list[dict[str, Any]]) -> None:
        self._queue([Received(int(u["update_id"]), chat_of(u), u, kept=False) for u in raw])


PostInit = Callable[[Application[Any, Any, Any, Any, Any, Any]], Coroutine[Any, Any, None]]


def unkept(post_init: PostInit) -> PostInit:
    """``post_init``, then the inbox swapped for :class:`UnkeptInbox` before it starts."""

    async def then_unkept(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await post_init(app)
        data = app.bot_data
        data.inbox = UnkeptInbox(app, data.storage, data.inbox_options)

    return then_unkept


def run_bot(limiter: bool, inbox: bool) -> int:
    """``python -m bot run``'s start, with the limiter off and the inbox's writes bypassed if
    asked (PTB offers no public way to take the limiter off a built bot)."""
    from bot.app import build_application
    from bot.config import load_settings
    from bot.logs import configure_logging, log_level
    from bot.runner import run_polling

    settings = load_settings()
    configure_logging(log_level(), secrets=(settings.token,))
    app = build_application(settings)
    if not limiter:
        app.bot._rate_limiter = None
    if not inbox:
        assert app.post_init is not None
        app.post_init = unkept(app.post_init)
    with suppress(KeyboardInterrupt):
        asyncio.run(run_polling(app))
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    sub = parser.add_subparsers(dest="which", required=True)
    sub.add_parser("echo").add_argument("--limited", action="store_true")
    plan_bot = sub.add_parser("bot")
    plan_bot.add_argument("--no-limiter", action="store_true")
    plan_bot.add_argument("--unkept", action="store_true")
    args = parser.parse_args(argv)
    if args.which == "echo":
        return run_echo(args.limited)
    return run_bot(limiter=not args.no_limiter, inbox=not args.unkept)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
