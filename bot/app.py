"""The application: one ``build_application(settings)`` for ``main()``, the sandbox and the tests."""

from __future__ import annotations

import gc
import logging
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
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import callbacks
from bot.composer import composer
from bot.config import Settings
from bot.context import BotApplication, BotContext, BotData
from bot.delivery import OutboxSender
from bot.departments import DepartmentResolver
from bot.digest import Digester
from bot.flood import FloodControl, SharedRateLimiter
from bot.health_check import HEARTBEAT, write_report
from bot.i18n import plain, t
from bot.inbox import KEEP_HANDLED, InboxHandler
from bot.plan import load_plan
from bot.plan_years import reconcile
from bot.registry import COMMANDS
from bot.reminders import Reminders
from bot.rounds import RoundKeeper
from bot.telegram_json import TelegramRequest
from handlers import (
    access,
    chats,
    closing,
    common,
    errors,
    membership,
    rounds,
    scorecard,
    statements,
    subscriptions,
    tasks,
    updates,
)
from handlers.menus import register_menus
from storage import Storage
from storage.db import Clock, utcnow

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
        # Telegram's answers read as valid Unicode; the pool sizes are the builder's defaults.
        .request(TelegramRequest(connection_pool_size=256))
        .get_updates_request(TelegramRequest(connection_pool_size=1))
        .context_types(context_types)
        # One flood allowance for the handlers' answers and the outbox sender (bot/flood.py).
        .rate_limiter(SharedRateLimiter(FloodControl(), max_retries=3))
        .updater(None)  # updates come through the durable inbox instead (bot/inbox.py)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    app.bot_data.settings = settings
    app.bot_data.clock = clock
    app.bot_data.commands = COMMANDS
    register_handlers(app)
    return app


def register_handlers(app: BotApplication) -> None:
    """Every handler, in the order that matters."""
    # -1: before anything else, remember who wrote and where (writes only on change).
    app.add_handler(TypeHandler(Update, common.remember), group=-1)

    # 0: the commands of the registry (bot/registry.py). A command addressed to another bot
    # (/task@other_bot) matches none of these: CommandHandler checks the addressee.
    for command in app.bot_data.commands:
        app.add_handler(
            CommandHandler(command.name, command.callback, filters=filters.UpdateType.MESSAGE)
        )

    # Buttons: each prefix names what it does and its layout version; nothing else matches.
    app.add_handler(CallbackQueryHandler(updates.status_tap, pattern=callbacks.STATUS_PATTERN))
    app.add_handler(CallbackQueryHandler(tasks.page_tap, pattern=callbacks.PAGE_PATTERN))
    # A department chosen for /members, /remove, /leave or /invites, before the other choices.
    app.add_handler(CallbackQueryHandler(access.dept_tap, pattern=callbacks.ACCESS_DEPT_PATTERN))
    app.add_handler(CallbackQueryHandler(membership.dept_tap, pattern=callbacks.DEPT_PATTERN))
    app.add_handler(CallbackQueryHandler(updates.note_tap, pattern=callbacks.NOTE_PATTERN))
    app.add_handler(
        CallbackQueryHandler(subscriptions.follow_tap, pattern=callbacks.FOLLOW_PATTERN)
    )
    app.add_handler(
        CallbackQueryHandler(subscriptions.unfollow_tap, pattern=callbacks.UNFOLLOW_PATTERN)
    )
    app.add_handler(CallbackQueryHandler(access.invites_tap, pattern=callbacks.INVITES_PATTERN))
    app.add_handler(CallbackQueryHandler(access.revoke_tap, pattern=callbacks.REVOKE_PATTERN))
    app.add_handler(CallbackQueryHandler(statements.submit_tap, pattern=callbacks.SUBMIT_PATTERN))
    app.add_handler(CallbackQueryHandler(statements.draft_tap, pattern=callbacks.DRAFT_PATTERN))
    app.add_handler(CallbackQueryHandler(rounds.page_tap, pattern=callbacks.ROUND_PAGE_PATTERN))
    app.add_handler(CallbackQueryHandler(closing.close_tap, pattern=callbacks.CLOSE_PATTERN))
    app.add_handler(CallbackQueryHandler(scorecard.page_tap, pattern=callbacks.SCORECARD_PATTERN))
    app.add_handler(CallbackQueryHandler(stale_button))

    # A document: a round's statement when captioned /submit or answering its prompt.
    app.add_handler(
        MessageHandler(
            filters.Document.ALL & filters.UpdateType.MESSAGE, statements.document_message
        )
    )

    # A reply to a card, a notification or a note prompt: a note on that task (to a round's
    # prompt: the statement it asks for). Replies to the bot reach it in groups even under
    # privacy mode.
    app.add_handler(
        MessageHandler(
            filters.REPLY & filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE,
            statements.reply_to_bot,
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
        context.wake_sender()


async def round_tick(context: BotContext) -> None:
    """Owe the open round's reminders whose time has come (after downtime, too)."""
    if await context.round_keeper.owe_due():
        context.wake_sender()


async def due_tick(context: BotContext) -> None:
    """Owe every due-date reminder whose moment has come (after downtime, too)."""
    if await context.reminders.owe_due():
        context.wake_sender()


async def prune_inbox(context: BotContext) -> None:
    """Forget updates handled long ago: the inbox keeps what a restart could still need."""
    before = context.storage.db.clock() - KEEP_HANDLED
    if pruned := await context.storage.inbox.prune(before):
        log.info("inbox: %d handled updates pruned", pruned)


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
    await query.answer(plain(t(await common.chat_language(update, context), "button.stale")))


async def post_init(app: Application[Any, Any, Any, Any, BotData, Any]) -> None:
    """Open the database, apply migrations, load the plan: fail here rather than mid-chat."""
    data = app.bot_data
    settings = data.settings
    assert settings is not None, "build_application sets the settings"
    plan = load_plan(settings.tasks_file)
    data.storage = Storage(settings.database_path, clock=data.clock or utcnow)
    await data.storage.open(plan_year=plan.year)
    data.storage.db.on_failure = lambda problem: database_failed(settings.database_path, problem)
    report_health(settings.database_path, None)
    data.plans = await reconcile(
        data.storage, plan, source=str(settings.tasks_file),
        allow_earlier=settings.allow_earlier_plan,
    )  # fmt: skip
    data.plan = data.plans.current
    data.resolver = DepartmentResolver(data.plan.departments)
    data.tracking_since = await data.storage.db.tracking_since()
    data.digester = Digester(
        data.storage, data.plan, zone=settings.timezone,
        default_language=settings.bot_language, tracking_since=data.tracking_since,
    )  # fmt: skip
    data.round_keeper = RoundKeeper(
        data.storage, zone=settings.timezone, admins=settings.bot_admins
    )
    data.reminders = Reminders(
        data.storage, data.plan, zone=settings.timezone, office=settings.bot_admins
    )
    data.inbox = InboxHandler(app, data.storage, data.inbox_options)
    if app.job_queue is not None:
        # The database decides what is due; the scheduler only asks, at start and each minute.
        app.job_queue.run_repeating(digest_tick, interval=60, first=0, name="digest")
        app.job_queue.run_repeating(round_tick, interval=60, first=0, name="rounds")
        app.job_queue.run_repeating(due_tick, interval=60, first=0, name="due")
        app.job_queue.run_repeating(prune_inbox, interval=3600, first=60, name="inbox-prune")
        app.job_queue.run_repeating(health_tick, interval=HEARTBEAT, first=HEARTBEAT, name="health")
    try:
        await register_menus(app.bot, data.commands, settings.bot_language)
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


async def start_sender(app: Application[Any, Any, Any, Any, BotData, Any]) -> None:
    """The outbox sender, on the storage and plan ``post_init`` has loaded, sharing the
    handlers' flood allowance."""
    data = app.bot_data
    assert data.storage is not None and data.plans is not None and data.settings is not None
    limiter = app.bot.rate_limiter if isinstance(app.bot, ExtBot) else None
    sender = OutboxSender(
        app.bot,
        data.storage,
        composer(data.storage, data.plans, data.settings.bot_language, zone=data.settings.timezone),
        data.sender_options,
        limiter.flood if isinstance(limiter, SharedRateLimiter) else None,
    )
    await sender.start()
    data.sender = sender


async def post_shutdown(app: Application[Any, Any, Any, Any, BotData, Any]) -> None:
    """Close what ``post_init`` opened: the outbox sender first, while its storage is open."""
    if app.bot_data.sender is not None:
        await app.bot_data.sender.stop()
    if app.bot_data.storage is not None:
        await app.bot_data.storage.close()
        app.bot_data.storage = None
