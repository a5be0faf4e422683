"""The message a subscribed chat gets when a task moves."""

from __future__ import annotations

from bot.i18n import Language, Markup, esc, join, t
from bot.plan import Plan
from bot.render.outgoing import Outgoing
from bot.render.tasks import SHORT_TEXT, card_keyboard, update_line
from bot.render.text import shorten
from storage import Storage
from storage.outbox import OutboxItem
from storage.subscriptions import Follow


def notification_text(plan: Plan, task_number: int, line: Markup, lang: Language) -> Markup:
    task = plan.task(task_number)
    assert task is not None
    lead = plan.department(task.lead).display(lang)
    return join(
        [
            t(lang, "notify.title", number=task_number, text=shorten(task.text, SHORT_TEXT * 2)),
            t(lang, "notify.lead", dept=lead),
            line,
        ]
    )


async def notification(
    storage: Storage, plan: Plan, item: OutboxItem, lang: Language
) -> Outgoing | None:
    """Render an owed notification; ``None`` if its task or update no longer exists."""
    task = plan.task(int(item.payload.get("task", 0)))
    update = await storage.updates.get(int(item.payload.get("update_id", 0)))
    if task is None or update is None:
        return None
    now = storage.db.clock()
    text = notification_text(plan, task.number, update_line(update, plan, now, lang), lang)
    follows = await storage.subscriptions.of_chat(item.chat_id)
    following = any(s.kind is Follow.TASK and s.target == str(task.number) for s in follows)
    return Outgoing(esc(text), card_keyboard(task, lang, following=following), task.number)
