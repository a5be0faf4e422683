"""A department's statements in the open round: /submit, the "📝 报送" buttons and their forced
reply, a document sent with the caption /submit (or as the reply), and the choice of
department for someone in several of the task's departments.

Every way in is checked by :func:`bot.permissions.decide` (``SUBMIT_STATEMENT``), is written
once per Telegram update (the inbox may hand one over twice), and is answered with what was
recorded and what the department still owes.
"""

from __future__ import annotations

from telegram import Document as TelegramDocument
from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot import callbacks
from bot.context import BotContext
from bot.i18n import Markup, join, plain, t
from bot.parsing import parse_statement, parse_submit
from bot.permissions import Action, decide
from bot.plan import Plan, Task
from bot.render.rounds import owed_numbers
from bot.rounds import deadline
from handlers.common import (
    Caller,
    caller,
    check,
    command_text,
    edit,
    read_args,
    read_tap,
    refusal,
    reply,
    stale,
)
from handlers.updates import reply_to_task
from storage.rounds import Document, Prompt, Round, Submission, Submitted

FILE_LIMIT = 20 * 1024 * 1024
"""Telegram lets a bot fetch files up to 20 MB: a larger one could not be read back."""
FILE_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "wps": "application/vnd.ms-works",
    "et": "application/vnd.ms-excel",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
"""The documents a statement may be: PDF, Word, Excel (and WPS's and LibreOffice's own)."""


def eligible(who: Caller, task: Task) -> list[str]:
    """The task's departments this person may make a statement for."""
    return [
        code
        for code in task.departments
        if decide(who.actor, Action.SUBMIT_STATEMENT, task=task, dept=code, chat=who.chat).allowed
    ]


def _round_plan(context: BotContext, round_: Round | None) -> Plan | None:
    return context.plans.get(round_.plan_year) if round_ is not None else None


# --- recording and answering ------------------------------------------------------------------


async def answer_text(
    context: BotContext, who: Caller, plan: Plan, task: Task, dept: str, submission: Submission
) -> Markup:
    """What was recorded, and what the department still owes; or why nothing was."""
    statement = submission.statement
    if submission.outcome is Submitted.NOT_OWED:
        name = plan.department(dept).display(who.lang)
        return t(who.lang, "submit.not_owed", dept=name, number=task.number)
    if submission.outcome is Submitted.CLOSED or statement is None:
        return t(who.lang, "round.closed_now")
    name = plan.department(statement.dept).display(who.lang)
    details = []
    if statement.text:
        details.append(t(who.lang, "submit.chars", n=len(statement.text)))
    if statement.document is not None:
        file_name = statement.document.file_name or "document"
        details.append(t(who.lang, "submit.file", name=file_name))
    separator = "，" if who.lang == "zh" else ", "
    lines = [
        t(who.lang, "submit.recorded", dept=name, number=statement.task,
          details=Markup(separator.join(details)))
    ]  # fmt: skip
    if submission.outcome is Submitted.REPLACED:
        lines.append(t(who.lang, "submit.replaced"))
    if statement.late:
        round_ = await context.storage.rounds.get(statement.round_id)
        due = round_.due.isoformat() if round_ is not None else ""
        lines.append(t(who.lang, "submit.late", due=due))
    slots = await context.storage.rounds.slots(statement.round_id, statement.dept)
    lines.append(owed_numbers(slots, who.lang))
    return join(lines)


async def record(
    context: BotContext,
    who: Caller,
    round_: Round,
    task: Task,
    dept: str,
    text: str,
    document: Document | None,
    *,
    draft_id: int | None = None,
    chat_id: int | None = None,
) -> Submission:
    """Commit the statement (late after the due date's end in ``BOT_TIMEZONE``)."""
    return await context.storage.rounds.submit(
        round_.id, task.number, dept, author_id=who.user_id, text=text, document=document,
        chat_id=chat_id if chat_id is not None else who.chat.chat_id,
        deadline=deadline(round_.due, context.settings.timezone),
        source_update=who.update_id, draft_id=draft_id,
    )  # fmt: skip


def dept_buttons(plan: Plan, who: Caller, pairs: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """A button per department, two to a row: (department code, callback data)."""
    buttons = [
        InlineKeyboardButton(plan.department(code).display(who.lang)[:40], callback_data=data)
        for code, data in pairs
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


async def offer(
    update: Update,
    context: BotContext,
    who: Caller,
    round_: Round,
    plan: Plan,
    task: Task,
    text: str,
    document: Document | None,
    dept: str | None = None,
) -> None:
    """Record the statement for the department it is for; with several to choose from, keep
    it and ask which (a group bound to one of them settles it)."""
    if dept is not None:
        decision = await check(update, who, context, Action.SUBMIT_STATEMENT, task=task, dept=dept)
        if not decision.allowed:
            return
        depts = [dept]
    else:
        depts = eligible(who, task)
        if not depts:
            await check(update, who, context, Action.SUBMIT_STATEMENT, task=task)
            return
        if len(depts) > 1 and who.chat.binding in depts:
            depts = [who.chat.binding]
    if len(depts) == 1:
        submission = await record(context, who, round_, task, depts[0], text, document)
        await reply(update, await answer_text(context, who, plan, task, depts[0], submission))
        return
    draft = await context.storage.rounds.save_draft(
        round_.id, task.number, author_id=who.user_id, text=text, document=document,
        chat_id=who.chat.chat_id, source_update=who.update_id,
    )  # fmt: skip
    pairs = [(code, callbacks.draft_choice(draft.id, code)) for code in depts]
    await reply(
        update, t(who.lang, "submit.choose", number=task.number), dept_buttons(plan, who, pairs)
    )


async def _open_round(
    update: Update, context: BotContext, who: Caller
) -> tuple[Round, Plan] | None:
    """The open round and its plan, or the answer that there is none."""
    round_ = await context.storage.rounds.current()
    plan = _round_plan(context, round_)
    if round_ is None or plan is None:
        await reply(update, t(who.lang, "round.no_open"))
        return None
    return round_, plan


async def submit_with(
    update: Update, context: BotContext, who: Caller, args: str, document: Document | None
) -> None:
    """``<n> <text>`` (the text optional with a document), into the open round."""
    opened = await _open_round(update, context, who)
    if opened is None:
        return
    round_, plan = opened
    count = len(plan.tasks)
    parsed = await read_args(
        update, who, lambda: parse_submit(args, count, document=document is not None)
    )
    if parsed is None:
        return
    number, text = parsed
    task = plan.task(number)
    assert task is not None
    await offer(update, context, who, round_, plan, task, text, document)


async def submit_command(update: Update, context: BotContext) -> None:
    """/submit <n> <text>."""
    who = await caller(update, context)
    await submit_with(update, context, who, command_text(update), None)


# --- buttons ------------------------------------------------------------------------------------


async def submit_tap(update: Update, context: BotContext) -> None:
    """The "📝 报送 n" button: ask for the statement with a forced reply (which department
    first, for someone in several)."""
    pressed = await read_tap(update, context, callbacks.parse_submit)
    if pressed is None:
        return
    query, who, tap = pressed.query, pressed.who, pressed.data
    round_ = await context.storage.rounds.get(tap.round_id)
    plan = _round_plan(context, round_)
    task = plan.task(tap.task) if plan is not None else None
    known = tap.dept is None or (plan is not None and tap.dept in plan.department_by_code)
    if round_ is None or plan is None or task is None or not known:
        await stale(query, who)
        return
    if not round_.is_open:
        await query.answer(plain(t(who.lang, "round.closed_now")), show_alert=True)
        return
    if tap.dept is not None:
        decision = decide(
            who.actor, Action.SUBMIT_STATEMENT, task=task, dept=tap.dept, chat=who.chat
        )
        depts = [tap.dept] if decision.allowed else []
    else:
        decision = decide(who.actor, Action.SUBMIT_STATEMENT, task=task, chat=who.chat)
        depts = eligible(who, task)
        if len(depts) > 1 and who.chat.binding in depts:
            depts = [who.chat.binding]
    if not depts:
        await query.answer(plain(refusal(decision, who.lang, context)), show_alert=True)
        return
    await query.answer()
    if len(depts) > 1:
        pairs = [(code, callbacks.submit(round_.id, task.number, code)) for code in depts]
        text = t(who.lang, "submit.choose", number=task.number)
        await context.bot.send_message(
            who.chat.chat_id, text, reply_markup=dept_buttons(plan, who, pairs)
        )
        return
    dept = depts[0]
    placeholder = plain(t(who.lang, "submit.placeholder", number=task.number), 64)
    prompt = await context.bot.send_message(
        who.chat.chat_id,
        t(who.lang, "submit.prompt", name=who.name, number=task.number,
          dept=plan.department(dept).display(who.lang)),
        reply_markup=ForceReply(selective=True, input_field_placeholder=placeholder),
    )  # fmt: skip
    await context.storage.rounds.remember_prompt(
        prompt.chat_id, prompt.message_id, round_.id, task.number, dept
    )


async def draft_tap(update: Update, context: BotContext) -> None:
    """The department a kept statement is for: recorded, and the choice becomes the answer."""
    pressed = await read_tap(update, context, callbacks.parse_draft_choice)
    if pressed is None:
        return
    query, who, (draft_id, dept) = pressed.query, pressed.who, pressed.data
    draft = await context.storage.rounds.draft(draft_id)
    round_ = await context.storage.rounds.get(draft.round_id) if draft is not None else None
    plan = _round_plan(context, round_)
    task = plan.task(draft.task) if plan is not None and draft is not None else None
    if draft is None or draft.author_id != who.user_id or round_ is None or task is None:
        await stale(query, who)
        return
    assert plan is not None
    decision = decide(who.actor, Action.SUBMIT_STATEMENT, task=task, dept=dept, chat=who.chat)
    if not decision.allowed:
        await query.answer(plain(refusal(decision, who.lang, context)), show_alert=True)
        return
    submission = await record(
        context, who, round_, task, dept, draft.text, draft.document,
        draft_id=draft.id, chat_id=draft.chat_id,
    )  # fmt: skip
    await query.answer()
    answer = await answer_text(context, who, plan, task, dept, submission)
    await edit(pressed.message, answer, None)


# --- documents and replies -------------------------------------------------------------------


def caption_command(message: Message, bot_username: str | None) -> str | None:
    """What follows ``/submit`` (or ``/submit@this_bot``) opening a caption, else ``None``."""
    caption = message.caption or ""
    entity = next(
        (e for e in message.caption_entities if e.type == "bot_command" and e.offset == 0), None
    )
    if entity is None:
        return None
    # Offsets are UTF-16 units; the command itself is ASCII, so units equal characters.
    name, _, addressee = caption[: entity.length].partition("@")
    if name.lower() != "/submit":
        return None
    if addressee and addressee.lower() != (bot_username or "").lower():
        return None
    return caption[entity.length :]


async def read_document(update: Update, who: Caller, document: TelegramDocument) -> Document | None:
    """The file as a statement keeps it; a type or size it may not be gets the answer why."""
    name = document.file_name
    suffix = name.rsplit(".", 1)[-1].lower() if name and "." in name else ""
    known = suffix in FILE_TYPES or (not suffix and document.mime_type in FILE_TYPES.values())
    if not known:
        await reply(update, t(who.lang, "submit.file_type", name=(name or "?")[:60]))
        return None
    size = document.file_size or 0
    if size > FILE_LIMIT:
        await reply(update, t(who.lang, "submit.file_too_big", size=f"{size / 1024 / 1024:.1f}"))
        return None
    return Document(document.file_id, document.file_unique_id, name, document.file_size)


async def document_message(update: Update, context: BotContext) -> None:
    """A document: a statement when its caption is /submit <n> [text] or it answers a prompt;
    in a private chat otherwise, how to make it one."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    args = caption_command(message, context.bot.username)
    prompt = await prompt_of(context, message)
    if args is None and prompt is None:
        if message.chat.type == "private":
            who = await caller(update, context)
            await reply(update, t(who.lang, "submit.document_hint"))
        return
    who = await caller(update, context)
    document = await read_document(update, who, message.document)
    if document is None:
        return
    if args is not None:
        await submit_with(update, context, who, args, document)
        return
    assert prompt is not None
    text = await read_args(update, who, lambda: parse_statement(message.caption or ""))
    if text is not None:
        await answer_prompt(update, context, who, prompt, text, document)


async def prompt_of(context: BotContext, message: Message) -> Prompt | None:
    """The bot's prompt (round, task, department) this message replies to, if it is one."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return None
    return await context.storage.rounds.prompt_of(message.chat_id, replied.message_id)


async def answer_prompt(
    update: Update,
    context: BotContext,
    who: Caller,
    prompt: Prompt,
    text: str,
    document: Document | None,
) -> None:
    """The answer to a prompt: that department's statement on that task."""
    round_ = await context.storage.rounds.get(prompt.round_id)
    plan = _round_plan(context, round_)
    task = plan.task(prompt.task) if plan is not None else None
    if round_ is None or plan is None or task is None:
        return
    await offer(update, context, who, round_, plan, task, text, document, prompt.dept)


async def reply_to_bot(update: Update, context: BotContext) -> None:
    """Text replying to the bot: the statement a round's prompt asked for, else a note on the
    task the replied message shows (``handlers.updates.reply_to_task``)."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    prompt = await prompt_of(context, message)
    if prompt is None:
        await reply_to_task(update, context)
        return
    who = await caller(update, context)
    text = await read_args(update, who, lambda: parse_statement(message.text or ""))
    if text is None:
        return
    if not text:
        await reply(update, t(who.lang, "submit.empty"))
        return
    await answer_prompt(update, context, who, prompt, text, None)
