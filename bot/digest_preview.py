"""Digests at the terminal: ``python -m bot digest --chat ID | --dept CODE | --all --print``."""

from __future__ import annotations

from typing import cast

from bot.config import Settings
from bot.departments import DepartmentResolver
from bot.digest import Digester
from bot.i18n import Language, pick_language, plain
from bot.plan import Plan
from bot.plan_years import index_plan
from bot.render.text import split_lines
from storage import Storage
from storage.digests import DEFAULT_TIME, DEFAULT_WEEKDAY, DigestChat, DigestSettings
from storage.people import WHOLE_PLAN

RULE = "─" * 40


async def preview_digest(
    settings: Settings,
    plan: Plan,
    *,
    chat: int | None,
    dept: str | None,
    whole: bool,
    lang: str | None,
) -> str:
    """The digest as plain text, messages separated by a rule; nothing is sent or logged."""
    if not settings.database_path.exists():
        raise LookupError(
            f"no database at {settings.database_path} (DATABASE_URL): run the bot first"
        )
    storage = Storage(settings.database_path)
    await storage.open(plan_year=plan.year)
    try:
        await index_plan(storage, plan)
        digester = Digester(
            storage, plan, zone=settings.timezone, default_language=settings.bot_language,
            tracking_since=await storage.db.tracking_since(),
        )  # fmt: skip
        now = storage.db.clock()
        target = await _target(storage, digester, plan, chat, dept, whole)
        language = (
            cast(Language, lang)
            if lang
            else pick_language(target.language, None, settings.bot_language)
        )
        lines, chart = await digester.render(target, now, language)
    finally:
        await storage.close()
    messages = [plain(message, 10**6) for message in split_lines(lines)]
    if chart:
        messages.append("[progress chart, sent as a photo]")
    return f"\n{RULE}\n".join(messages)


async def _target(
    storage: Storage, digester: Digester, plan: Plan, chat: int | None, dept: str | None,
    whole: bool,
) -> DigestChat:  # fmt: skip
    defaults = DigestSettings(0, True, DEFAULT_WEEKDAY, DEFAULT_TIME)
    if whole:
        return DigestChat(0, "group", WHOLE_PLAN, None, defaults, False)
    if dept is not None:
        found = DepartmentResolver(plan.departments).resolve(dept)
        if found.department is None:
            names = (
                ", ".join(d.code for d in (found.candidates or found.suggestions)) or "see /depts"
            )
            raise LookupError(f"no single department called {dept!r} (candidates: {names})")
        return DigestChat(0, "group", found.department.code, None, defaults, False)
    assert chat is not None
    target = await storage.digest_queue.chat(chat, digester.week(storage.db.clock()).key)
    if target is None:
        raise LookupError(
            f"chat {chat} gets no digest: it is unknown, inactive, unbound and follows nothing"
        )
    return target
