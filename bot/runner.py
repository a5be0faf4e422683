"""Starting and stopping the bot, in polling or webhook mode: for ``main()``, the sandbox and tests.

python-telegram-bot's ``run_polling`` cannot be used: its updater confirms updates before they
are handled (see ``bot/inbox.py``). This does what it does otherwise — initialize, ``post_init``,
start, and the reverse on the way out — with the durable inbox in place of the updater.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.context import BotApplication
from bot.inbox import InboxHandler, Poller

log = logging.getLogger(__name__)


class Stopped(Exception):
    """The bot stopped itself (Telegram refused the token mid-run); the cause is chained."""


@asynccontextmanager
async def started(app: BotApplication, *, polling: bool = True) -> AsyncIterator[BotApplication]:
    """Run ``app`` until the block ends: post_init (storage, plan, sender, inbox), the inbox's
    handler, and polling unless the updates come by webhook; then stop it all in reverse, the
    updates in hand finished first, whatever happens in between."""
    poller: Poller | None = None
    try:
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        inbox = inbox_of(app)
        await inbox.start()
        if polling:
            await app.bot.delete_webhook()  # Telegram refuses getUpdates while one is set
            # No offset at first: Telegram sends what it has not seen confirmed (what the inbox
            # already holds is taken once). An offset from the inbox's newest id would confirm
            # unread the updates of a bot idle for a week, whose next ids Telegram draws at
            # random, perhaps lower.
            poller = Poller(app.bot, inbox, None, on_fatal=app.bot_data.fatal)
            poller.start()
        yield app
    finally:
        if poller is not None:
            await poller.stop()
        if app.bot_data.inbox is not None:
            await app.bot_data.inbox.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


def inbox_of(app: BotApplication) -> InboxHandler:
    inbox = app.bot_data.inbox
    if inbox is None:
        raise RuntimeError("post_init sets up the inbox")
    return inbox


async def until_stopped(app: BotApplication) -> None:
    """Wait for SIGTERM or SIGINT (a graceful stop), or for the bot to stop itself."""
    loop = asyncio.get_running_loop()
    stop = app.bot_data.stop_event
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if (error := app.bot_data.fatal_error) is not None:
        raise Stopped(
            f"Telegram stopped accepting the token while the bot ran ({error}): check "
            "TELEGRAM_BOT_TOKEN with @BotFather"
        ) from error


async def run_polling(app: BotApplication) -> None:
    """``python -m bot run`` without ``WEBHOOK_URL``."""
    async with started(app, polling=True):
        log.info("polling for updates")
        await until_stopped(app)
