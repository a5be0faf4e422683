"""Reading the plan: /task, /mytasks, /find, /depts, /overview, and the page buttons of lists."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass

from telegram import Update

from bot import callbacks
from bot.context import BotContext
from bot.i18n import Language, Markup, esc, join, t
from bot.lights import is_quiet
from bot.parsing import parse_task_number, parse_year
from bot.plan import Plan, Task
from bot.render.paging import pages_of
from bot.render.tasks import (
    PAGE_SIZE,
    ListItem,
    Moment,
    counts_text,
    departments_table,
    list_page,
    overview,
    page_keyboard,
    stage_counts,
)
from bot.render.text import split_lines
from bot.statuses import fold
from handlers.cards import send_card
from handlers.common import Caller, caller, command_words, edit, read_args, read_tap, reply, stale
from storage.people import WHOLE_PLAN
from storage.updates import Status, TaskState

MINE = "u"
"""The scope of a personal list: whoever asks (or taps a page button) sees their own."""
FILTERS = {
    "lead": "lead", "牵头": "lead", "led": "lead",
    "blocked": "blocked", "受阻": "blocked", "卡住": "blocked",
    "stale": "stale", "停滞": "stale", "未更新": "stale", "quiet": "stale",
}  # fmt: skip


async def task_command(update: Update, context: BotContext) -> None:
    """/task <n> [year]: the task card (an earlier year's: to read, without buttons)."""
    who = await caller(update, context)
    words = command_words(update)
    if len(words) not in (1, 2):
        await reply(update, t(who.lang, "usage.task", last=len(context.plan.tasks)))
        return
    plan = context.plan
    if len(words) == 2:
        year = parse_year(words[1])
        if year is None:
            await reply(update, t(who.lang, "usage.task", last=len(context.plan.tasks)))
            return
        found = context.plans.get(year)
        if found is None:
            years = "、".join(str(y) for y in context.plans.years())
            await reply(update, t(who.lang, "plan.no_year", given=words[1][:20], years=years))
            return
        plan = found
    count = len(plan.tasks)
    number = await read_args(update, who, lambda: parse_task_number(words[0], count))
    if number is not None:
        year_shown = None if plan is context.plan else plan.year
        await send_card(update, context, who, number, year=year_shown)


async def plan_command(update: Update, context: BotContext) -> None:
    """/plan: the plan years this bot keeps, each with its progress; which one is current."""
    who = await caller(update, context)
    lines = [t(who.lang, "plan.title")]
    for year in context.plans.years():
        plan = context.plans.get(year)
        assert plan is not None
        states = await context.storage.updates.states(year=year)
        counts = counts_text(stage_counts(plan.tasks, states))
        key = "plan.current" if plan is context.plan else "plan.earlier"
        lines.append(
            t(who.lang, key, year=year, title=plan.title, count=len(plan.tasks), counts=counts)
        )
    lines.append(t(who.lang, "plan.hint", year=context.plans.years()[-1]))
    await reply(update, join(lines, "\n"))


# --- lists -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskList:
    title: Markup
    items: list[ListItem]
    query: str


@dataclass(frozen=True)
class _Scope:
    plan: Plan
    items: tuple[ListItem, ...]
    leads: frozenset[str]
    """The departments whose tasks count as the scope's own (led)."""
    led: int
    """How many of them the scope's departments lead."""


_SCOPES: OrderedDict[tuple[int, str, tuple[str, ...], Language], _Scope] = OrderedDict()
SCOPES_KEPT = 256
"""Lists kept in memory, the most recently asked for: one per department, person's set of
departments and language; a plan read anew (a new object) makes its lists anew."""


def _scope(plan: Plan, scope: str, user_depts: list[str], lang: Language) -> _Scope:
    """The scope's items and how many it leads, made once per plan: a department of thousands
    of tasks made thousands of list items for each /mytasks, most of its time at 100×."""
    key = (id(plan), scope, tuple(user_depts), lang)
    found = _SCOPES.get(key)
    if found is not None and found.plan is plan:
        _SCOPES.move_to_end(key)
        return found
    items = _scope_items(plan, scope, user_depts, lang)
    led = set(user_depts) if scope == MINE else {scope}
    if scope == WHOLE_PLAN:
        led = {d.code for d in plan.departments}
    made = _Scope(
        plan, tuple(items), frozenset(led), sum(1 for item in items if item.task.lead in led)
    )
    _SCOPES[key] = made
    while len(_SCOPES) > SCOPES_KEPT:
        _SCOPES.popitem(last=False)
    return made


def _scope_items(plan: Plan, scope: str, user_depts: list[str], lang: Language) -> list[ListItem]:
    """The tasks a scope covers: a department's (led first), the whole plan's, or a person's."""
    if scope == WHOLE_PLAN:
        return [
            ListItem(
                task,
                Markup(f"{plan.section(task.section).numeral}、{plan.section(task.section).title}"),
            )
            for task in plan.tasks
        ]
    depts = user_depts if scope == MINE else [scope]
    items: list[ListItem] = []
    seen: set[int] = set()
    for code in depts:
        name = plan.department(code).display(lang)
        # The two headings once per department, not once per task: with thousands of tasks,
        # formatting the same heading for each was half the time of /mytasks.
        led = t(lang, "list.group_led", dept=name)
        joined = t(lang, "list.group_joined", dept=name)
        for task in plan.tasks_of(code):
            if task.number in seen:
                continue
            seen.add(task.number)
            items.append(ListItem(task, led if task.lead == code else joined))
    return items


def _keep(
    task: Task, state: TaskState | None, filter_: str, led: Collection[str], at: Moment
) -> bool:
    """Whether a task passes a /mytasks filter (stale: the same rule as the health light)."""
    if filter_ == "lead":
        return task.lead in led
    if filter_ == "blocked":
        return state is not None and state.status is Status.BLOCKED
    if filter_ == "stale":
        return is_quiet(state, at.now, at.tracking_since)
    return True


def page_of(items: list[ListItem], page: int) -> list[ListItem]:
    """The items a page shows, the page number clamped as ``list_page`` clamps it."""
    page, _ = pages_of(len(items), PAGE_SIZE, page)
    return items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]


async def build_list(
    context: BotContext, scope: str, filter_: str, who: Caller, page: int = 1
) -> tuple[TaskList, dict[int, TaskState]]:
    """The list for a scope: a department code, the whole plan, or ``u``: the asker's own.

    Unfiltered, only the shown page's states are read: a department of thousands of tasks
    shows fifteen lines.
    """
    plan, lang = context.plan, who.lang
    user_depts = list(who.actor.roles) if scope == MINE else []
    listed = _scope(plan, scope, user_depts, lang)
    items = list(listed.items)
    wanted = items if filter_ != "-" else page_of(items, page)
    states = await context.storage.updates.states([item.task.number for item in wanted])
    total, total_led = len(items), listed.led
    if filter_ != "-":
        at = await context.moment()
        items = [
            i for i in items if _keep(i.task, states.get(i.task.number), filter_, listed.leads, at)
        ]
    if scope == WHOLE_PLAN:
        title = t(lang, "list.title_all", count=total)
    elif scope == MINE:
        title = t(lang, "list.title_mine", count=total, led=total_led)
    else:
        title = t(
            lang,
            "list.title_dept",
            dept=plan.department(scope).display(lang),
            count=total,
            led=total_led,
        )
    if filter_ != "-":
        title = Markup(title + "\n" + t(lang, f"list.filter_{filter_}", count=len(items)))
    return TaskList(title, items, f"{scope}:{filter_}"), states


async def mytasks_command(update: Update, context: BotContext) -> None:
    """/mytasks [lead|blocked|stale]: the bound department's tasks here, else the caller's."""
    who = await caller(update, context)
    words = command_words(update)
    filter_ = "-"
    if words:
        filter_ = FILTERS.get(fold(words[0]), "")
        if not filter_ or len(words) > 1:
            await reply(update, t(who.lang, "usage.mytasks"))
            return
    if who.chat.is_group and who.chat.binding:
        scope = who.chat.binding
    elif who.actor.roles:
        scope = MINE
    elif who.actor.is_admin:
        scope = WHOLE_PLAN
    else:
        key = "mytasks.unbound_group" if who.chat.is_group else "mytasks.not_member"
        await reply(update, t(who.lang, key))
        return
    await send_list(update, context, who.lang, "m", *await build_list(context, scope, filter_, who))


async def send_list(
    update: Update,
    context: BotContext,
    lang: Language,
    kind: str,
    task_list: TaskList,
    states: dict[int, TaskState],
    page: int = 1,
) -> None:
    at = await context.moment(tasks=[i.task.number for i in page_of(task_list.items, page)])
    rendered = list_page(
        task_list.title, task_list.items, states, page=page, at=at,
        lang=lang, empty=t(lang, "list.empty"),
    )  # fmt: skip
    keyboard = page_keyboard(kind, task_list.query, rendered, lang)
    if rendered.pages > 1 and keyboard is None:
        rendered_text = Markup(rendered.text + "\n" + t(lang, "find.refine"))
        await reply(update, rendered_text)
        return
    await reply(update, rendered.text, keyboard)


async def find_command(update: Update, context: BotContext) -> None:
    """/find <words>: tasks whose text holds every word."""
    who = await caller(update, context)
    query = " ".join(command_words(update))
    if not search_words(query):
        await reply(update, t(who.lang, "usage.find"))
        return
    await send_list(update, context, who.lang, "f", *await search(context, query, who.lang))


def search_words(query: str) -> list[str]:
    """The words to look for, folded as the text is; one that folds to nothing (``-``, ``_``)
    is no word: it would be found in every task."""
    return [word for word in map(fold, query.split()) if word]


async def search(
    context: BotContext, query: str, lang: Language
) -> tuple[TaskList, dict[int, TaskState]]:
    words = search_words(query)
    found = [
        task for task in context.plan.tasks if words and all(w in fold(task.text) for w in words)
    ]
    states = await context.storage.updates.states([task.number for task in found])
    title = t(lang, "find.title", query=query[:100], count=len(found))
    return TaskList(title, [ListItem(task) for task in found], query), states


async def page_tap(update: Update, context: BotContext) -> None:
    """‹ / › under a list: show that page in place."""
    pressed = await read_tap(update, context, callbacks.parse_page)
    if pressed is None:
        return
    query, who, tap = pressed.query, pressed.who, pressed.data
    if tap.kind == "m":
        scope, _, filter_ = tap.query.partition(":")
        valid = scope in (WHOLE_PLAN, MINE) or scope in context.plan.department_by_code
        if not valid or filter_ not in (*FILTERS.values(), "-"):
            await stale(query, who)
            return
        task_list, states = await build_list(context, scope, filter_, who, tap.page)
    else:
        task_list, states = await search(context, tap.query, who.lang)
    await query.answer()
    at = await context.moment(tasks=[i.task.number for i in page_of(task_list.items, tap.page)])
    rendered = list_page(
        task_list.title, task_list.items, states, page=tap.page, at=at,
        lang=who.lang, empty=t(who.lang, "list.empty"),
    )  # fmt: skip
    keyboard = page_keyboard(tap.kind, task_list.query, rendered, who.lang)
    await edit(pressed.message, rendered.text, keyboard)


async def depts_command(update: Update, context: BotContext) -> None:
    """/depts: every department with the tasks it leads and joins."""
    who = await caller(update, context)
    states = await context.storage.updates.states()
    at = await context.moment()
    for text in split_lines(departments_table(context.plan, states, who.lang, at)):
        await reply(update, text)


async def overview_command(update: Update, context: BotContext) -> None:
    """/overview: progress of the whole plan by section and by department, and its chart."""
    who = await caller(update, context)
    states = await context.storage.updates.states()
    at = await context.moment()
    for text in split_lines(overview(context.plan, states, who.lang, at)):
        await reply(update, text)
    # Imported when first drawn: matplotlib is a large part of the bot's memory otherwise.
    from bot.render.chart import caption, progress_chart

    # Drawing takes a few hundred milliseconds of CPU: off the event loop.
    png = await asyncio.to_thread(progress_chart, context.plan, states, who.lang, at)
    assert update.effective_message is not None
    await update.effective_message.reply_photo(
        png, caption=esc(caption(context.plan, states, who.lang)), do_quote=who.chat.is_group
    )
