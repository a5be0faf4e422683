"""The terminal sandbox: scripted sessions against the real bot, the sandbox's own rendering and
meta-commands against a tiny stand-in bot, and ``python -m bot sandbox`` as a process."""

from __future__ import annotations

import asyncio
import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.faketelegram import FakeTelegram
from bot.sandbox import (
    BOT_USERNAME,
    GROUP_TITLE,
    ErrorCollector,
    Recorder,
    Session,
    build_cast,
    converse,
    log_path,
    render_message,
    sandbox_session,
    start_links,
)

ROOT = Path(__file__).resolve().parent.parent
PROMPT = re.compile(r"^(Ada|Ming) @ (private|group)> ")
App = Application[Any, Any, Any, Any, Any, Any]


async def run(lines: list[str], database: Path) -> str:
    """A whole scripted session; the transcript as a terminal would show it."""
    out: list[str] = []
    await sandbox_session(lines, out.append, database=database)
    return "".join(out)


def answer_to(transcript: str, typed: str, occurrence: int = 0) -> list[str]:
    """The lines printed after the prompt line that ends in ``typed``, up to the next prompt."""
    lines = transcript.splitlines()
    starts = [i for i, line in enumerate(lines) if PROMPT.match(line) and line.endswith(typed)]
    start = starts[occurrence]
    answer = []
    for line in lines[start + 1 :]:
        if PROMPT.match(line):
            break
        answer.append(line)
    return answer


def bot_text(answer: list[str]) -> str:
    """What the bot said in an answer (``bot: `` lines and their continuation)."""
    said = [line for line in answer if line.startswith(("bot: ", "bot (edited): ", "     "))]
    return "\n".join(said).strip()


# --- sessions with the real bot -------------------------------------------------------------


async def test_banner_then_quit(tmp_path: Path) -> None:
    transcript = await run([":quit"], tmp_path / "s.db")
    banner = transcript.split("Ada @ private> ")[0]
    for expected in (
        "Ada", "Ming", GROUP_TITLE, "/help", "/task 1", "/invite cnipa", ":help", "/round new",
        ":file",
    ):  # fmt: skip
        assert expected in banner
    assert str(log_path(tmp_path / "s.db")) in banner
    assert transcript.endswith("Ada @ private> :quit\nbye\n")
    assert log_path(tmp_path / "s.db").exists() and (tmp_path / "s.db").exists()


async def test_help_gets_an_answer(tmp_path: Path) -> None:
    transcript = await run(["/help", ":quit"], tmp_path / "s.db")
    said = bot_text(answer_to(transcript, "> /help"))
    assert said.startswith("bot: 可用命令")
    assert "/task 12 — 任务卡片" in said and "/invite cnipa — 生成一次性邀请链接" in said


async def test_start_gets_an_answer(tmp_path: Path) -> None:
    transcript = await run([":as ming", "/start", ":quit"], tmp_path / "s.db")
    said = bot_text(answer_to(transcript, "Ming @ private> /start"))
    assert said.startswith("bot: 你好，Ming！")
    assert "请向管理员或本部门负责人索取邀请链接" in said


async def test_prompt_follows_person_and_chat(tmp_path: Path) -> None:
    lines = [":as ming", ":in group", ":as ada", ":in private", ":quit"]
    transcript = await run(lines, tmp_path / "s.db")
    prompts = [m.group(0) for m in map(PROMPT.match, transcript.splitlines()) if m]
    assert prompts == [
        "Ada @ private> ",
        "Ming @ private> ",
        "Ming @ group> ",
        "Ada @ group> ",
        "Ada @ private> ",
    ]
    assert f"(now in {GROUP_TITLE})" in answer_to(transcript, ":in group")


async def test_meta_command_mistakes_are_explained(tmp_path: Path) -> None:
    lines = [":tap 1", ":tap", ":tap two", ":reply hi", ":open", ":as bob", ":in channel", ":x"]
    transcript = await run([*lines, ":quit"], tmp_path / "s.db")
    assert answer_to(transcript, ":tap 1") == ["(the bot's latest message here has no buttons)"]
    assert answer_to(transcript, ":tap") == ["(the bot's latest message here has no buttons)"]
    assert answer_to(transcript, ":reply hi") == ["(the bot has no message here to reply to)"]
    assert answer_to(transcript, ":open") == [f"(no t.me/{BOT_USERNAME}?start=… link to open yet)"]
    assert answer_to(transcript, ":as bob") == ["usage: :as ada|ming"]
    assert answer_to(transcript, ":in channel") == ["usage: :in private|group"]
    assert answer_to(transcript, ":x") == ["(unknown command :x; :help lists them)"]
    assert transcript.endswith("bye\n")


async def test_help_lists_meta_commands_and_input_end_quits(tmp_path: Path) -> None:
    transcript = await run([":help"], tmp_path / "s.db")
    listed = "\n".join(answer_to(transcript, ":help"))
    for command in (":as", ":in", ":tap", ":reply", ":file", ":open", ":help", ":quit"):
        assert command in listed
    assert transcript.endswith("bye\n")


async def test_database_is_kept_between_runs(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "s.db"
    first = await run(["/update 1 进行中 40% 第一次运行时记录", ":quit"], database)
    assert bot_text(answer_to(first, "> /update 1 进行中 40% 第一次运行时记录")).startswith(
        "bot: 已记录：任务 1 → 🔵 进行中 40%"
    )
    second = await run(["/task 1", ":quit"], database)
    card = bot_text(answer_to(second, "> /task 1"))
    assert "状态：🔵 进行中 · 40%" in card
    assert "“第一次运行时记录”" in card


async def test_invite_link_opened_by_ming_welcomes_him(tmp_path: Path) -> None:
    lines = ["/invite cnipa", ":as ming", ":open", ":quit"]
    transcript = await run(lines, tmp_path / "s.db")
    invite = bot_text(answer_to(transcript, "Ada @ private> /invite cnipa"))
    assert invite.startswith("bot: 邀请链接（一次性，"), invite
    assert re.search(rf"https://t\.me/{BOT_USERNAME}\?start=join-[A-Za-z0-9_-]{{16}}", invite)
    opened = answer_to(transcript, "Ming @ private> :open")
    assert opened[0] == "(using the link shown in Ada's private chat, as if forwarded)"
    assert re.match(r"\(opened the link: Ming sends /start join-\S+ here\)", opened[1])
    assert bot_text(opened).startswith("bot: 欢迎加入国家知识产权局（成员）！")


async def test_a_supervision_round_from_the_request_to_a_statement(tmp_path: Path) -> None:
    lines = [
        "/invite cnipa", ":as ming", ":open", ":as ada", ":in group", "/bind cnipa",
        "/round new 12-31 年终报送", ":as ming", ":tap 1", "已完成商标法修改草案",
        ":file 方案.pdf /submit 10 见附件", ":file", "/round", ":quit",
    ]  # fmt: skip
    transcript = await run(lines, tmp_path / "s.db")
    opened = bot_text(answer_to(transcript, "Ada @ group> /round new 12-31 年终报送"))
    assert opened.startswith("bot: 已发起报送《年终报送》，截止 ")
    assert "bot: 📨 联席会议办公室请国家知识产权局报送以下任务的落实情况：" in opened
    assert "[1] 📝 报送 1  [2] 📝 报送 10" in opened
    prompt = bot_text(answer_to(transcript, "Ming @ group> :tap 1"))
    assert prompt.startswith("bot: Ming，请回复这条消息，写下国家知识产权局对任务 1 的报送")
    answered = answer_to(transcript, "Ming @ group> 已完成商标法修改草案")
    assert answered[0] == "(sent as a reply to the bot's question)"
    assert bot_text(answered).startswith("bot: ✅ 已记录国家知识产权局对任务 1 的报送（10 字）。")
    filed = answer_to(transcript, "Ming @ group> :file 方案.pdf /submit 10 见附件")
    assert filed[0] == "(sent 方案.pdf, 48,213 bytes)"
    assert bot_text(filed).startswith(
        "bot: ✅ 已记录国家知识产权局对任务 10 的报送（3 字，附件：方案.pdf）。"
    )
    assert answer_to(transcript, "Ming @ group> :file") == [
        "usage: :file NAME [TEXT], e.g. :file 方案.pdf /submit 10 见附件"
    ]
    shown = bot_text(answer_to(transcript, "Ming @ group> /round"))
    assert "国家知识产权局：应报 48 项 · 已报 2 项（逾期 0 项）· 待报 46 项" in shown


# --- the sandbox's own rendering and meta-commands, on a tiny stand-in bot ---------------


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = [
        [
            InlineKeyboardButton("完成", callback_data="a"),
            InlineKeyboardButton("受阻", callback_data="b"),
        ],
        [InlineKeyboardButton("备注", callback_data="c")],
    ]
    await update.effective_message.reply_html(
        f"<b>hello</b> {' '.join(context.args or [])}\nsecond line",
        reply_markup=InlineKeyboardMarkup(keyboard),
    )


async def _link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_html(
        f'<a href="https://t.me/{BOT_USERNAME}?start=join-abc">加入</a>'
    )


async def _tell_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await context.bot.send_message(-1001, "有新进展")
    await update.effective_message.reply_text("已通知")


async def _ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("写备注：", reply_markup=ForceReply())


async def _echo_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    quoted = message.reply_to_message.text if message.reply_to_message else None
    await message.reply_text(f"got {message.text!r} replying to {quoted!r}")


async def _later(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None and update.effective_message is not None
    chat_id = update.effective_chat.id

    async def follow_up() -> None:
        await asyncio.sleep(0.5)  # a slow bot: longer than the sandbox's quiet period
        await context.bot.send_message(chat_id, "稍后")

    context.application.create_task(follow_up())
    await update.effective_message.reply_text("好的")


async def _tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(f"saved {query.data}")
    await query.edit_message_text(f"tapped {query.data}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username=BOT_USERNAME) as server:
        yield server


@pytest.fixture
async def stand_in(fake: FakeTelegram) -> AsyncIterator[App]:
    app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CommandHandler("link", _link))
    app.add_handler(CommandHandler("tell", _tell_group))
    app.add_handler(CommandHandler("ask", _ask))
    app.add_handler(CommandHandler("later", _later))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo_reply))
    app.add_handler(CallbackQueryHandler(_tapped))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        yield app
        await app.updater.stop()
        await app.stop()


@pytest.fixture
def session(fake: FakeTelegram, tmp_path: Path) -> tuple[Session, list[str]]:
    out: list[str] = []
    recorder = Recorder(fake)
    fake.subscribe(recorder)
    state = Session(fake, build_cast(fake), out.append, recorder, ErrorCollector(), tmp_path / "l")
    return state, out


async def test_buttons_numbered_across_rows_and_tap_edits_with_toast(
    stand_in: App, session: tuple[Session, list[str]]
) -> None:
    state, out = session
    await state.handle("/start x")
    assert "".join(out).splitlines() == [
        "bot: hello x",
        "     second line",
        "     [1] 完成  [2] 受阻",
        "     [3] 备注",
    ]
    out.clear()
    await state.handle(":tap 4")
    assert out == ["usage: :tap N, with N from 1 to 3\n"]
    out.clear()
    await state.handle(":tap ²")  # a digit to str.isdigit(), not to int()
    assert out == ["usage: :tap N, with N from 1 to 3\n"]
    out.clear()
    await state.handle(":tap 3")
    assert "".join(out).splitlines() == ["toast: saved c", "bot (edited): tapped c"]


async def test_open_sends_start_payload_in_the_speakers_private_chat(
    stand_in: App, session: tuple[Session, list[str]]
) -> None:
    state, out = session
    await state.handle(":in group")
    await state.handle("/link")
    link_message = state.fake.last_bot_message(state.chat)
    assert link_message is not None and start_links(link_message) == ["join-abc"]
    assert f"(link: https://t.me/{BOT_USERNAME}?start=join-abc)" in "".join(out)
    await state.handle(":as ming")
    out.clear()
    await state.handle(":open")
    assert state.prompt == "Ming @ private> "
    assert "".join(out).splitlines()[:2] == [
        "(opened the link: Ming sends /start join-abc here)",
        "bot: hello join-abc",
    ]


async def test_messages_to_other_chats_are_marked_with_the_chat(
    stand_in: App, session: tuple[Session, list[str]]
) -> None:
    state, out = session
    await state.handle("/tell")
    assert "".join(out).splitlines() == [
        "bot: 已通知",
        f"--- in {GROUP_TITLE} ---",
        "bot: 有新进展",
    ]


async def test_forced_reply_and_reply_command_quote_the_bot(
    stand_in: App, session: tuple[Session, list[str]]
) -> None:
    state, out = session
    await state.handle("/ask")
    assert "(the bot asks for an answer" in "".join(out)
    out.clear()
    await state.handle("按期推进")
    assert "".join(out).splitlines() == [
        "(sent as a reply to the bot's question)",
        "bot: got '按期推进' replying to '写备注：'",
    ]
    out.clear()
    await state.handle(":reply 好")
    assert out == ["bot: got '好' replying to \"got '按期推进' replying to '写备注：'\"\n"]


async def test_what_the_bot_sends_while_waiting_for_input_is_shown_before_a_new_prompt(
    stand_in: App, fake: FakeTelegram, tmp_path: Path
) -> None:
    out: list[str] = []
    seen_late = asyncio.Event()

    def write(text: str) -> None:
        out.append(text)
        if text.startswith("bot: 稍后"):
            seen_late.set()

    recorder = Recorder(fake)
    fake.subscribe(recorder)
    state = Session(fake, build_cast(fake), write, recorder, ErrorCollector(), tmp_path / "l")

    async def lines() -> AsyncIterator[str]:
        yield "/later"
        await asyncio.wait_for(seen_late.wait(), timeout=10)
        yield ":quit"

    await converse(state, lines(), echo=True)
    assert "".join(out) == (
        "Ada @ private> /later\nbot: 好的\nAda @ private> \nbot: 稍后\nAda @ private> :quit\nbye\n"
    )


async def test_photos_and_documents_render_as_sizes(fake: FakeTelegram) -> None:
    ada = build_cast(fake).ada
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        await bot.send_document(ada.id, b"a,b\n1,2\n", filename="tasks.csv", caption="导出")
        document = fake.last_bot_message(fake.private_chat(ada))
        await bot.send_photo(ada.id, tiny_png())
        photo = fake.last_bot_message(fake.private_chat(ada))
    assert document is not None and photo is not None
    assert render_message(document, edited=False) == [
        "bot: [document tasks.csv: 8 bytes]",
        "     导出",
    ]
    assert render_message(photo, edited=True) == [f"bot (edited): [photo: {len(tiny_png())} bytes]"]


def tiny_png() -> bytes:
    """A valid 1×1 PNG, the smallest photo Telegram takes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# --- the real command ----------------------------------------------------------------------


def test_command_quits_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    database = tmp_path / "s.db"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--fresh", "--database", str(database)],
        input=":quit\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Plan bot sandbox" in done.stdout and "Ada @ private> :quit" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr == ""
