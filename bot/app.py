"""The application: one ``build_application(settings)`` for ``main()``, the sandbox and the tests."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import callbacks
from bot.config import Settings
from bot.context import BotApplication, BotContext, BotData
from bot.delivery import start_sender, stop_sender
from bot.departments import DepartmentResolver
from bot.digest import Digester
from bot.flood import FloodControl, SharedRateLimiter
from bot.health_check import HEARTBEAT, write_report
from bot.i18n import pick_language, plain, t
from bot.plan import load_plan
from handlers import (
    chats,
    common,
    digest,
    errors,
    export,
    membership,
    subscriptions,
    tasks,
    updates,
)
from handlers.cards import wake_sender
from handlers.menus import register_menus
from storage import Storage
from storage.db import Clock, utcnow

HandlerCallback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]

log = logging.getLogger(__name__)


def build_application(settings: Settings, *, clock: Clock | None = None) -> BotApplication:
    """Wire the bot; nothing touches the network or the disk until the application starts.

    ``clock`` lets tests control time (digest schedules, invite expiry); the bot uses real time.
    """
    context_types = ContextTypes(context=BotContext, bot_data=BotData)
    app: BotApplication = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_url.removesuffix("/bot") + "/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=ZoneInfo(settings.bot_timezone)))
        .context_types(context_types)
        # One flood allowance for the handlers' answers and the outbox sender (bot/flood.py).
        .rate_limiter(SharedRateLimiter(FloodControl(), max_retries=3))
        .concurrent_updates(True)  # a slow chat never holds up the others
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    app.bot_data.settings = settings
    app.bot_data.clock = clock
    register_handlers(app)
    return app


def register_handlers(app: BotApplication) -> None:
    """Every handler, in the order that matters."""
    # -1: before anything else, remember who wrote and where (writes only on change).
    app.add_handler(TypeHandler(Update, common.remember), group=-1)

    # 0: commands, from PRODUCT.md's table. A command addressed to another bot
    # (/task@other_bot) matches none of these: CommandHandler checks the addressee.
    commands: dict[str, HandlerCallback] = {
        "start": membership.start_command,
        "help": membership.help_command,
        "mytasks": tasks.mytasks_command,
        "task": tasks.task_command,
        "update": updates.update_command,
        "note": updates.note_command,
        "find": tasks.find_command,
        "depts": tasks.depts_command,
        "overview": tasks.overview_command,
        "invite": membership.invite_command,
        "bind": membership.bind_command,
        "unbind": membership.unbind_command,
        "lang": membership.lang_command,
        "subscribe": subscriptions.subscribe_command,
        "unsubscribe": subscriptions.unsubscribe_command,
        "subscriptions": subscriptions.subscriptions_command,
        "digest": digest.digest_command,
        "export": export.export_command,
    }
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback, filters=filters.UpdateType.MESSAGE))

    # Buttons: each prefix names what it does and its layout version; nothing else matches.
    app.add_handler(CallbackQueryHandler(updates.status_tap, pattern=callbacks.STATUS_PATTERN))
    app.add_handler(CallbackQueryHandler(tasks.page_tap, pattern=callbacks.PAGE_PATTERN))
    app.add_handler(CallbackQueryHandler(membership.dept_tap, pattern=callbacks.DEPT_PATTERN))
    app.add_handler(CallbackQueryHandler(updates.note_tap, pattern=callbacks.NOTE_PATTERN))
    app.add_handler(
        CallbackQueryHandler(subscriptions.follow_tap, pattern=callbacks.FOLLOW_PATTERN)
    )
    app.add_handler(
        CallbackQueryHandler(subscriptions.unfollow_tap, pattern=callbacks.UNFOLLOW_PATTERN)
    )
    app.add_handler(CallbackQueryHandler(stale_button))

    # A reply to a card, a notification or a note prompt: a note on that task. Replies to the
    # bot reach it in groups even under privacy mode.
    app.add_handler(
        MessageHandler(
            filters.REPLY & filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE,
            updates.reply_to_task,
        )
    )
    # The chat itself changes: a group upgraded to a supergroup; the bot blocked or removed.
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, chats.migrated))
    app.add_handler(ChatMemberHandler(chats.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER))

    # Last: anything else gets a short hint rather than silence (in private chats).
    app.add_handler(
        MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, errors.unknown_command)
    )
    app.add_handler(
        MessageHandler(
            filters.TEXT & filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE,
            errors.private_text,
        )
    )
    app.add_error_handler(errors.error_handler)


async def digest_tick(context: BotContext) -> None:
    """Owe every digest whose time has come this week (after downtime, too)."""
    if await context.digester.owe_due():
        wake_sender(context)


async def health_tick(context: BotContext) -> None:
    """Look at the database's files and leave the report the polling-mode health check reads."""
    report_health(context.settings.database_path, context.storage.db.health())


def database_failed(database: Path, problem: str) -> None:
    """The storage stopped trusting the database: say so once, and fail the health check now."""
    log.error("%s; writes are refused and the health check fails until a restart", problem)
    report_health(database, problem)


def report_health(database: Path, problem: str | None) -> None:
    try:
        write_report(database, problem)
    except OSError as exc:  # the check then finds the report stale: unhealthy all the same
        log.warning("health report beside %s not written: %s", database, exc)


async def stale_button(update: Update, context: BotContext) -> None:
    """A button whose data matches no current layout: forged, or from an old version."""
    query = update.callback_query
    assert query is not None
    user = update.effective_user
    lang = pick_language(None, user.language_code if user else None, context.settings.bot_language)
    await query.answer(plain(t(lang, "button.stale")))


async def post_init(app: Application[Any, Any, Any, Any, BotData, Any]) -> None:
    """Open the database, apply migrations, load the plan: fail here rather than mid-chat."""
    data = app.bot_data
    settings = data.settings
    assert settings is not None, "build_application sets the settings"
    data.plan = load_plan(settings.tasks_file)
    data.resolver = DepartmentResolver(data.plan.departments)
    data.storage = Storage(settings.database_path, clock=data.clock or utcnow)
    await data.storage.open()
    data.storage.db.on_failure = lambda problem: database_failed(settings.database_path, problem)
    report_health(settings.database_path, None)
    data.tracking_since = await data.storage.db.tracking_since()
    data.digester = Digester(
        data.storage, data.plan, zone=settings.timezone,
        default_language=settings.bot_language, tracking_since=data.tracking_since,
    )  # fmt: skip
    if app.job_queue is not None:
        # The database decides what is due; the scheduler only asks, at start and each minute.
        app.job_queue.run_repeating(digest_tick, interval=60, first=0, name="digest")
        app.job_queue.run_repeating(health_tick, interval=HEARTBEAT, first=HEARTBEAT, name="health")
    try:
        await register_menus(app.bot, settings.bot_language)
    except TelegramError as exc:  # the menu is a convenience: the commands work without it
        log.warning("command menus not registered (%s); the commands work without them", exc)
    await start_sender(app)  # after the storage is open: drains what a restart left owed
    # What is loaded now (modules, the plan) lives as long as the bot: keep it out of the
    # collector's full passes, which otherwise walk it all and stall busy moments (bench/scale).
    gc.freeze()
    log.info(
        "plan %r: %d tasks, %d departments; database %s",
        data.plan.title,
        len(data.plan.tasks),
        len(data.plan.departments),
        settings.database_path,
    )


async def post_shutdown(app: Application[Any, Any, Any, Any, BotData, Any]) -> None:
    """Close what ``post_init`` opened: the outbox sender first, while its storage is open."""
    await stop_sender(app)
    if app.bot_data.storage is not None:
        await app.bot_data.storage.close()
        app.bot_data.storage = None
