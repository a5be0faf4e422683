"""The real ``python -m bot run`` as a child process, polling a fake Telegram in the test's loop.

The fake serves from the test's event loop, so the child is driven with asyncio (never a
blocking wait); its stdout and stderr go to a file, which cannot fill up and stall it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.faketelegram import FakeTelegram
from tests.conftest import DATA, ROOT

ADMIN_ID = 1
SETTINGS = ("TELEGRAM_", "DATABASE_URL", "TASKS_FILE", "BOT_", "WEBHOOK_", "PORT", "LOG_LEVEL")
"""Variables of the test runner's environment that must not leak into the child's settings."""


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    output: Path
    """Where the child's stdout and stderr go, interleaved as written."""

    def text(self) -> str:
        """Everything the child printed so far."""
        return self.output.read_text(encoding="utf-8", errors="replace")

    async def terminate(self, *, timeout: float = 10.0) -> tuple[int, float]:  # noqa: ASYNC109
        """SIGTERM, as a container runtime stops it; its exit code and seconds to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(timeout):
            code = await self.process.wait()
        return code, time.monotonic() - started


def child_env(fake: FakeTelegram, database: Path, **extra: str) -> dict[str, str]:
    """The environment of a bot pointed at ``fake``, with nothing from the runner's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS)}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        TELEGRAM_API_BASE_URL=fake.base_url,
        TELEGRAM_BOT_TOKEN=fake.token,
        DATABASE_URL=f"sqlite:///{database}",
        TASKS_FILE=str(DATA / "tasks.json"),
        BOT_ADMINS=str(ADMIN_ID),
    )
    env.update(extra)
    return env


@asynccontextmanager
async def bot_process(
    fake: FakeTelegram,
    database: Path,
    output: Path,
    *,
    preexec_fn: Callable[[], None] | None = None,
    **env: str,
) -> AsyncIterator[BotProcess]:
    """Start the bot (cwd: the database's folder, so no stray ``.env`` is read) and make sure
    it is gone afterwards, killed if a failed test left it running. ``preexec_fn`` runs in the
    child before the bot (to drop privileges)."""
    with output.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=database.parent,
            env=child_env(fake, database, **env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            preexec_fn=preexec_fn,
        )
    try:
        yield BotProcess(process, output)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def until(
    condition: Callable[[], bool],
    what: str,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline is the point
    bot: BotProcess | None = None,
) -> None:
    """Wait for ``condition`` (checked every 20 ms) or fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if bot is not None and bot.process.returncode is not None:
            raise AssertionError(f"the bot exited ({bot.process.returncode}):\n{bot.text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.02)
