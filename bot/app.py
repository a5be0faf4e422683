"""The application: one ``build_application(settings)`` for ``main()``, the sandbox and the tests."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot.config import Settings
from bot.context import BotApplication, BotContext, BotData
from bot.departments import DepartmentResolver
from bot.plan import load_plan
from storage import Storage

log = logging.getLogger(__name__)


def build_application(settings: Settings) -> BotApplication:
    """Wire the bot; nothing touches the network or the disk until the application starts."""
    context_types = ContextTypes(context=BotContext, bot_data=BotData)
    app: BotApplication = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_url.removesuffix("/bot") + "/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=ZoneInfo(settings.bot_timezone)))
        .context_types(context_types)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(True)  # a slow chat never holds up the others
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    app.bot_data.settings = settings
    return app


async def post_init(app: Application[Any, Any, Any, Any, BotData, Any]) -> None:
    """Open the database, apply migrations, load the plan: fail here rather than mid-chat."""
    data = app.bot_data
    settings = data.settings
    assert settings is not None, "build_application sets the settings"
    data.plan = load_plan(settings.tasks_file)
    data.resolver = DepartmentResolver(data.plan.departments)
    data.storage = Storage(settings.database_path)
    await data.storage.open()
    log.info(
        "plan %r: %d tasks, %d departments; database %s",
        data.plan.title,
        len(data.plan.tasks),
        len(data.plan.departments),
        settings.database_path,
    )


async def post_shutdown(app: Application[Any, Any, Any, Any, BotData, Any]) -> None:
    """Close what ``post_init`` opened."""
    if app.bot_data.storage is not None:
        await app.bot_data.storage.close()
        app.bot_data.storage = None
