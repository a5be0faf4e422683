"""The fake Telegram server: its HTML parser alone, then a real PTB bot and Application on it."""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.faketelegram import (
    BotEvent,
    EntityParseError,
    FakeTelegram,
    RateLimits,
    parse_html,
    utf16_len,
)
from bot.faketelegram.entities import detect_entities

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
App = Application[Any, Any, Any, Any, Any, Any]


# --- the HTML parser on its own ------------------------------------------------------------


def test_html_nesting_gives_utf16_entities() -> None:
    text, entities = parse_html("<b>bold <i>both</i></b> <u>under</u>")
    assert text == "bold both under"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 9},
        {"type": "italic", "offset": 5, "length": 4},
        {"type": "underline", "offset": 10, "length": 5},
    ]


def test_html_offsets_count_emoji_as_two_utf16_units() -> None:
    text, entities = parse_html("👋 <b>计划</b> 😀<i>ok</i>")
    assert text == "👋 计划 😀ok"
    assert utf16_len(text) == 10
    assert entities == [
        {"type": "bold", "offset": 3, "length": 2},
        {"type": "italic", "offset": 8, "length": 2},
    ]


def test_html_character_entities_are_decoded() -> None:
    text, entities = parse_html("&lt;a&gt; &amp; &quot;q&quot; &#33; &#x1F600; <b>&#x41;</b>")
    assert text == '<a> & "q" ! 😀 A'
    assert entities == [{"type": "bold", "offset": 15, "length": 1}]


def test_html_all_telegram_tags() -> None:
    source = (
        "<strong>s</strong><em>e</em><ins>i</ins><del>d</del><strike>k</strike><s>x</s>"
        '<span class="tg-spoiler">p</span><tg-spoiler>q</tg-spoiler>'
        '<a href="https://example.org/a?b=1&amp;c=2">link</a><code>c</code>'
        '<pre><code class="language-python">print(1)</code></pre>'
        "<blockquote>quote</blockquote><blockquote expandable>more</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    _, entities = parse_html(source)
    kinds = [e["type"] for e in entities]
    assert kinds == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
        "text_link",
        "code",
        "pre",
        "blockquote",
        "expandable_blockquote",
        "custom_emoji",
    ]
    by_type = {e["type"]: e for e in entities}
    assert by_type["text_link"]["url"] == "https://example.org/a?b=1&c=2"
    assert by_type["pre"]["language"] == "python"
    assert by_type["custom_emoji"]["custom_emoji_id"] == "5368324170671202286"


def test_html_plain_text_and_bare_greater_than_pass() -> None:
    assert parse_html("2 > 1, no tags") == ("2 > 1, no tags", [])


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("hello <foo>x</foo>", 'Unsupported start tag "foo" at byte offset 6'),
        ("计划 <br>", 'Unsupported start tag "br" at byte offset 7'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("closing </b> only", "Unexpected end tag at byte offset 8"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("Tom & Jerry", "Character entity expected at byte offset 4"),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;" at byte offset 0'),
        ("&#0;", "Invalid character entity at byte offset 0"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<a href="https://x.org>x</a>', "Unclosed start tag at byte offset 0"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("<a>x</a>", 'Tag "a" must have a non-empty "href" attribute'),
        ('<a href="javascript:alert(1)">x</a>', 'Unsupported URL "javascript:alert(1)"'),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
    ],
)
def test_html_errors_match_telegram(source: str, reason: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(source)
    assert caught.value.description.startswith("Bad Request: can't parse entities: ")
    assert reason in caught.value.description


def test_detected_entities_include_commands_for_other_bots() -> None:
    text = "/task@other_bot 5 see https://x.org, ask @alice #计划"
    found = {
        (e["type"], text[e["offset"] : e["offset"] + e["length"]]) for e in detect_entities(text)
    }
    assert found == {
        ("bot_command", "/task@other_bot"),
        ("url", "https://x.org"),
        ("mention", "@alice"),
        ("hashtag", "#计划"),
    }


# --- fixtures: the server, a bare Bot, and an Application with tiny handlers -------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, bot_username="plan_test_bot") as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as client:
        yield client


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Done", callback_data="s:1:12:done")]])
    await update.effective_message.reply_html(
        f"Hi <b>{update.effective_user.first_name}</b> 👋 args={' '.join(context.args or [])}",
        reply_markup=keyboard,
    )


async def _task(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"task {' '.join(context.args or [])}")


async def _notify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and context.args
    await context.bot.send_message(int(context.args[0]), "you have a new task")
    await update.effective_message.reply_text("notified")


async def _tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(f"Saved {query.data}")
    await query.edit_message_text("Done ✅")


@pytest.fixture
async def app(fake: FakeTelegram) -> AsyncIterator[App]:
    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    application.add_handler(CommandHandler("start", _start))
    application.add_handler(CommandHandler("task", _task))
    application.add_handler(CommandHandler("notify", _notify))
    application.add_handler(CallbackQueryHandler(_tapped))
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    yield application
    await application.updater.stop()
    await application.stop()
    await application.shutdown()


def _tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height)))
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# --- round trips through a real Application ---------------------------------------------------


async def test_private_command_round_trip(fake: FakeTelegram, app: App) -> None:
    alice = fake.add_user(1001, "Alice", username="alice", language_code="zh-hans")
    dm = fake.private_chat(alice)
    events: list[BotEvent] = []
    fake.subscribe(events.append)
    sent = await fake.send(alice, dm, "/start join-abc")
    replies = await fake.replies(dm)
    assert [m.text for m in replies] == ["Hi Alice 👋 args=join-abc"]
    reply = replies[0]
    assert reply.is_bot and reply.from_user is fake.bot
    assert reply.html.startswith("Hi <b>Alice</b>")
    assert reply.entities == [{"type": "bold", "offset": 3, "length": 5}]
    assert reply.buttons == [[("Done", "s:1:12:done")]]
    assert fake.last_bot_message(dm) is reply
    assert [m.text for m in fake.messages(dm)] == ["/start join-abc", reply.text]
    assert sent.entities == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert sent.to_api()["from"]["language_code"] == "zh-hans"
    assert [(e.kind, e.message) for e in events] == [("message", reply)]
    assert fake.rejections == []


async def test_group_command_round_trip(fake: FakeTelegram, app: App) -> None:
    alice, bob = fake.add_user(1001, "Alice"), fake.add_user(1002, "Bob")
    group = fake.add_group(-100123, "IP Office", members=[alice, bob], type="group", admins=[alice])
    command = await fake.send(bob, group, "/task@plan_test_bot 5")
    (reply,) = await fake.replies(group)
    assert reply.text == "task 5" and reply.reply_to is command  # PTB quotes in groups
    other = await fake.send(bob, group, "/task@other_bot 5")
    assert other.entities == [{"type": "bot_command", "offset": 0, "length": 15}]
    assert await fake.replies(group, at_least=0) == []
    assert fake.requests["sendMessage"] == 1


async def test_callback_tap_gets_toast_and_edit(fake: FakeTelegram, app: App) -> None:
    alice = fake.add_user(1001, "Alice")
    dm = fake.private_chat(alice)
    await fake.send(alice, dm, "/start")
    (menu,) = await fake.replies(dm)
    tap = await fake.tap(alice, menu, "s:1:12:done")
    answer = await fake.callback_answer(tap)
    assert answer.text == "Saved s:1:12:done" and answer.show_alert is False
    (edited,) = await fake.replies(dm)
    assert edited is menu and menu.text == "Done ✅" and menu.edits == 1
    assert menu.buttons == []  # editMessageText without reply_markup drops the keyboard
    assert fake.callback_answers == [answer]
    with pytest.raises(ValueError, match="no button"):
        await fake.tap(alice, menu, "s:1:12:done")


async def test_replies_follow_a_notification_into_another_chat(
    fake: FakeTelegram,
    app: App,
) -> None:
    alice = fake.add_user(1001, "Alice")
    bob = fake.add_user(1002, "Bob", started=True)
    await fake.send(alice, fake.private_chat(alice), f"/notify {bob.id}")
    assert [m.text for m in await fake.replies(fake.private_chat(alice))] == ["notified"]
    assert [m.text for m in await fake.replies(fake.private_chat(bob))] == ["you have a new task"]
    await fake.idle()


async def test_privacy_mode_hides_plain_group_chatter() -> None:
    async with FakeTelegram(TOKEN, bot_username="plan_test_bot", privacy_mode=True) as fake:
        alice = fake.add_user(1001, "Alice")
        group = fake.add_group(-4001, "IP Office", members=[alice])
        await fake.send(alice, group, "just chatting")
        await fake.send(alice, group, "/task@plan_test_bot 1")
        async with Bot(TOKEN, base_url=fake.base_url) as bot:
            updates = await bot.get_updates()
        assert [u.effective_message.text for u in updates if u.effective_message] == [
            "/task@plan_test_bot 1"
        ]


# --- strictness, seen through PTB's exceptions ---------------------------------------------


async def _refusal(
    fake: FakeTelegram, call: Awaitable[object], error: type[Exception] = BadRequest
) -> str:
    """Await a call the fake must refuse; returns Telegram's exact description it recorded."""
    with pytest.raises(error):
        await call
    return fake.rejections[-1].description


async def test_invalid_html_is_rejected_and_recorded(fake: FakeTelegram, bot: Bot) -> None:
    dm = fake.private_chat(fake.add_user(1001, "Alice", started=True))
    html = ParseMode.HTML
    assert await _refusal(fake, bot.send_message(dm.id, "a <br> b", parse_mode=html)) == (
        'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 2'
    )
    assert await _refusal(fake, bot.send_message(dm.id, "R&D plan", parse_mode=html)) == (
        "Bad Request: can't parse entities: Character entity expected at byte offset 1"
    )
    markdown = bot.send_message(dm.id, "*x*", parse_mode=ParseMode.MARKDOWN_V2)
    assert "unsupported in fake" in await _refusal(fake, markdown)
    assert [(r.method, r.chat_id) for r in fake.rejections] == [("sendMessage", dm.id)] * 3
    assert fake.bot_messages(dm) == []


async def test_html_entities_survive_ptb_parsing(fake: FakeTelegram, bot: Bot) -> None:
    dm = fake.private_chat(fake.add_user(1001, "Alice", started=True))
    message = await bot.send_message(
        dm.id, "👋🏽 <b>任务</b> 😀 <a href='https://x.org'>link</a>", parse_mode=ParseMode.HTML
    )
    assert message.text == "👋🏽 任务 😀 link"
    assert {e.type: text for e, text in message.parse_entities().items()} == {
        MessageEntity.BOLD: "任务",
        MessageEntity.TEXT_LINK: "link",
    }
    assert [(e.offset, e.length) for e in message.entities] == [(5, 2), (11, 4)]
    trimmed = await bot.send_message(dm.id, "<b>\n hi </b>", parse_mode=ParseMode.HTML)
    assert trimmed.text == "hi" and [(e.offset, e.length) for e in trimmed.entities] == [(0, 2)]


async def test_waiting_without_a_polling_bot_times_out_with_a_reason(fake: FakeTelegram) -> None:
    alice = fake.add_user(1001, "Alice")
    await fake.send(alice, fake.private_chat(alice), "/start")
    with pytest.raises(TimeoutError, match="did not fetch update 1"):
        await fake.replies(fake.private_chat(alice), timeout=0.05)
    with pytest.raises(TimeoutError, match="is it polling"):
        await fake.idle(timeout=0.05)


async def test_text_length_limits_use_utf16(fake: FakeTelegram, bot: Bot) -> None:
    dm = fake.private_chat(fake.add_user(1001, "Alice", started=True))
    html = ParseMode.HTML
    assert (await bot.send_message(dm.id, "a" * 4096)).text == "a" * 4096
    assert (await bot.send_message(dm.id, "😀" * 2048)).text == "😀" * 2048
    italic = await bot.send_message(dm.id, "<i>" + "a" * 4096 + "</i>", parse_mode=html)
    assert len(italic.text or "") == 4096
    too_long = "Bad Request: message is too long"
    assert await _refusal(fake, bot.send_message(dm.id, "a" * 4097)) == too_long
    assert await _refusal(fake, bot.send_message(dm.id, "😀" * 2049)) == too_long
    bold = "<b>" + "a" * 4097 + "</b>"
    assert await _refusal(fake, bot.send_message(dm.id, bold, parse_mode=html)) == too_long
    empty = "Bad Request: message text is empty"
    assert await _refusal(fake, bot.send_message(dm.id, " \n ")) == empty
    assert await _refusal(fake, bot.send_message(dm.id, "<b> </b>", parse_mode=html)) == empty
    caption = bot.send_photo(dm.id, _tiny_png(), caption="c" * 1025)
    assert await _refusal(fake, caption) == "Bad Request: message caption is too long"


async def test_inline_keyboard_rules(fake: FakeTelegram, bot: Bot) -> None:
    dm = fake.private_chat(fake.add_user(1001, "Alice", started=True))

    def keyboard(**button: Any) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("Go", **button)]])

    await bot.send_message(dm.id, "ok", reply_markup=keyboard(callback_data="x" * 64))
    for data in ("x" * 65, "任" * 22):
        refused = bot.send_message(dm.id, "no", reply_markup=keyboard(callback_data=data))
        assert await _refusal(fake, refused) == "Bad Request: BUTTON_DATA_INVALID"
    ftp = bot.send_message(dm.id, "no", reply_markup=keyboard(url="ftp://x.org"))
    assert await _refusal(fake, ftp) == "Bad Request: BUTTON_URL_INVALID"
    raw = {"inline_keyboard": [[{"text": "plain"}]]}
    async with httpx.AsyncClient(base_url=fake.base_url + TOKEN) as client:
        answer = await client.post(
            "/sendMessage", json={"chat_id": dm.id, "text": "no", "reply_markup": raw}
        )
    assert answer.status_code == 400
    assert answer.json()["description"] == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )
    assert len(fake.bot_messages(dm)) == 1 and len(fake.rejections) == 4


async def test_edit_rules(fake: FakeTelegram, bot: Bot) -> None:
    alice = fake.add_user(1001, "Alice")
    dm = fake.private_chat(alice)
    said = await fake.send(alice, dm, "hello")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await bot.send_message(dm.id, "<b>v1</b>", parse_mode="HTML", reply_markup=keyboard)
    same = bot.edit_message_text(
        "<b>v1</b>", dm.id, sent.message_id, parse_mode="HTML", reply_markup=keyboard
    )
    assert await _refusal(fake, same) == (
        "Bad Request: message is not modified: specified new message content and reply "
        "markup are exactly the same as a current content and reply markup of the message"
    )
    await bot.edit_message_text("v1", dm.id, sent.message_id, reply_markup=keyboard)  # no bold
    same_markup = bot.edit_message_reply_markup(dm.id, sent.message_id, reply_markup=keyboard)
    assert "message is not modified" in await _refusal(fake, same_markup)
    await bot.edit_message_reply_markup(dm.id, sent.message_id)
    missing = bot.edit_message_text("x", dm.id, 999)
    assert await _refusal(fake, missing) == "Bad Request: message to edit not found"
    theirs = bot.edit_message_text("x", dm.id, said.message_id)
    assert await _refusal(fake, theirs) == "Bad Request: message can't be edited"
    message = fake.last_bot_message(dm)
    assert message is not None and message.edits == 2 and message.buttons == []


async def test_chat_access_rules(fake: FakeTelegram, bot: Bot) -> None:
    alice = fake.add_user(1001, "Alice", started=True)
    stranger = fake.add_user(1003, "Carol")
    group = fake.add_group(-4001, "IP Office", members=[alice])
    kicked = fake.add_group(-4002, "Old Office", members=[alice])
    assert await _refusal(fake, bot.send_message(-999, "hi")) == "Bad Request: chat not found"
    assert await _refusal(fake, bot.send_message(stranger.id, "hi"), Forbidden) == (
        "Forbidden: bot can't initiate conversation with a user"
    )
    fake.block(alice)
    assert await _refusal(fake, bot.send_message(alice.id, "hi"), Forbidden) == (
        "Forbidden: bot was blocked by the user"
    )
    fake.kick(kicked)
    assert await _refusal(fake, bot.send_message(kicked.id, "hi"), Forbidden) == (
        "Forbidden: bot was kicked from the group chat"
    )
    supergroup = fake.upgrade(group)
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(group.id, "hi")
    assert migrated.value.new_chat_id == supergroup.id == -1004001
    assert fake.rejections[-1].description == (
        "Bad Request: group chat was upgraded to a supergroup chat"
    )
    assert supergroup.type == "supergroup" and alice.id in supergroup.members
    await bot.send_message(supergroup.id, "hi")
    kinds = [next(k for k in u.to_dict() if k != "update_id") for u in await bot.get_updates()]
    assert kinds == ["my_chat_member", "my_chat_member", "message", "message"]


async def test_callback_answer_rules(fake: FakeTelegram, bot: Bot) -> None:
    alice = fake.add_user(1001, "Alice", started=True)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    await bot.send_message(alice.id, "menu", reply_markup=keyboard)
    menu = fake.last_bot_message(fake.private_chat(alice))
    assert menu is not None
    tap = await fake.tap(alice, menu, text="A")
    long_toast = bot.answer_callback_query(tap.id, "x" * 201)
    assert await _refusal(fake, long_toast) == "Bad Request: MESSAGE_TOO_LONG"
    await bot.answer_callback_query(tap.id, "Saved", show_alert=True)
    assert await fake.callback_answer(tap.id) == (tap.id, "Saved", True)
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert await _refusal(fake, bot.answer_callback_query(tap.id, "again")) == too_old
    assert await _refusal(fake, bot.answer_callback_query("12345")) == too_old
    forged = await fake.tap(alice, menu, "not-a-button", forged=True)
    assert forged.data == "not-a-button"


async def test_rate_limits_answer_429_with_retry_after(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as timedelta, no warning
    alice = fake.add_user(1001, "Alice", started=True)
    group = fake.add_group(-4001, "IP Office", members=[alice])
    for _ in range(5):
        await bot.send_message(alice.id, "before limits are on")
    fake.enable_rate_limits(RateLimits(private_burst=3, group_per_minute=2))
    for _ in range(3):
        await bot.send_message(alice.id, "burst")
    with pytest.raises(RetryAfter) as private:
        await bot.send_message(alice.id, "one too many")
    assert private.value.retry_after == dt.timedelta(seconds=1)
    assert fake.rejections[-1].description == "Too Many Requests: retry after 1"
    await bot.edit_message_text("edits do not count", alice.id, 1)
    for _ in range(2):
        await bot.send_message(group.id, "group")
    with pytest.raises(RetryAfter) as grouped:
        await bot.send_message(group.id, "group again")
    assert grouped.value.retry_after == dt.timedelta(seconds=30)


async def test_commands_are_stored_per_scope_and_language(fake: FakeTelegram, bot: Bot) -> None:
    dm = fake.private_chat(fake.add_user(1001, "Alice"))
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("tasks", "我的任务")])
    scope = BotCommandScopeChat(dm.id)
    await bot.set_my_commands([BotCommand("admin", "Admin")], scope=scope, language_code="zh")
    assert fake.commands() == [("start", "Start"), ("tasks", "我的任务")]
    assert fake.commands(scope, "zh") == [("admin", "Admin")]
    assert fake.commands(scope) == []
    listed = await bot.get_my_commands(scope=scope, language_code="zh")
    assert [c.command for c in listed] == ["admin"]
    upper = bot.set_my_commands([BotCommand("Start", "Upper case")])
    assert await _refusal(fake, upper) == "Bad Request: BOT_COMMAND_INVALID"
    blank = bot.set_my_commands([BotCommand("start", "")])
    assert await _refusal(fake, blank) == "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"
    regional = bot.set_my_commands([BotCommand("start", "x")], language_code="zh-hans")
    assert await _refusal(fake, regional) == "Bad Request: invalid language code specified"
    await bot.delete_my_commands()
    assert fake.commands() == []


async def test_photos_and_documents_keep_their_bytes(fake: FakeTelegram, bot: Bot) -> None:
    dm = fake.private_chat(fake.add_user(1001, "Alice", started=True))
    png = _tiny_png()
    photo = await bot.send_photo(dm.id, png, caption="<b>chart</b>", parse_mode="HTML")
    assert photo.caption == "chart" and photo.photo[-1].width == 3 and photo.photo[-1].height == 2
    csv = "task,owner\n1,外交部\n".encode()
    document = await bot.send_document(dm.id, csv, filename="tasks.csv")
    assert document.document is not None and document.document.file_name == "tasks.csv"
    last = fake.last_bot_message(dm)
    assert last is not None and last.document == csv and last.filename == "tasks.csv"
    assert fake.bot_messages(dm)[0].photo == png
    downloaded = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == csv
    again = await bot.send_photo(dm.id, photo.photo[-1].file_id)
    assert again.photo[-1].file_unique_id == photo.photo[-1].file_unique_id
    garbage = bot.send_photo(dm.id, b"not an image")
    assert await _refusal(fake, garbage) == "Bad Request: IMAGE_PROCESS_FAILED"


async def test_a_user_sends_a_document_with_a_caption(fake: FakeTelegram, bot: Bot) -> None:
    alice = fake.add_user(1001, "Alice", started=True)
    group = fake.add_group(-4001, "IP Office", members=[alice])
    dm = fake.private_chat(alice)
    sent = await fake.send_document(alice, group, "方案.docx", 5000, caption=" /submit 12 见附件 ")
    (update,) = await bot.get_updates()
    message = update.message
    assert message is not None and message.document is not None and message.text is None
    document = message.document
    assert (document.file_name, document.file_size) == ("方案.docx", 5000)
    assert document.mime_type == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert document.file_id and document.file_unique_id
    assert message.caption == "/submit 12 见附件"
    assert [e.to_dict() for e in message.caption_entities] == [
        {"type": "bot_command", "offset": 0, "length": 7}
    ]
    downloaded = await (await bot.get_file(document.file_id)).download_as_bytearray()
    assert len(downloaded) == 5000
    # A reply in the same chat; a file a bot may not fetch; what Telegram would not take.
    question = await bot.send_message(dm.id, "which file?")
    await fake.send_document(alice, dm, "a.pdf", 30 * 1024 * 1024, reply_to=fake.messages(dm)[-1])
    (reply,) = await bot.get_updates(offset=update.update_id + 1)
    assert reply.message is not None and reply.message.reply_to_message is not None
    assert reply.message.reply_to_message.message_id == question.message_id
    assert reply.message.caption is None and reply.message.caption_entities == ()
    too_big = bot.get_file(reply.message.document.file_id)
    assert await _refusal(fake, too_big) == "Bad Request: file is too big"
    with pytest.raises(ValueError, match="1,024"):
        await fake.send_document(alice, dm, "a.pdf", 10, caption="字" * 1025)
    with pytest.raises(ValueError, match="1 byte"):
        await fake.send_document(alice, dm, "a.pdf", 0)
    with pytest.raises(ValueError, match="file name"):
        await fake.send_document(alice, dm, " ", 10)
    with pytest.raises(ValueError, match="not a member"):
        await fake.send_document(fake.add_user(1002, "Bob"), group, "a.pdf", 10)
    assert sent.filename == "方案.docx" and sent.caption == "/submit 12 见附件"


async def test_chat_and_member_queries(fake: FakeTelegram, bot: Bot) -> None:
    alice, bob = fake.add_user(1001, "Alice"), fake.add_user(1002, "Bob")
    group = fake.add_group(-4001, "IP Office", members=[alice, bob], admins=[alice])
    assert (await bot.get_chat(group.id)).title == "IP Office"
    assert (await bot.get_chat_member(group.id, alice.id)).status == "creator"
    assert (await bot.get_chat_member(group.id, bob.id)).status == "member"
    assert (await bot.get_chat_member(group.id, bot.id)).status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert [a.user.id for a in admins] == [alice.id]
    assert await _refusal(fake, bot.get_chat_administrators(alice.id)) == (
        "Bad Request: there are no administrators in the private chat"
    )
    assert await bot.leave_chat(group.id)
    assert await _refusal(fake, bot.send_message(group.id, "hi"), Forbidden) == (
        "Forbidden: bot is not a member of the group chat"
    )


# --- protocol details, over raw HTTP -------------------------------------------------------


async def test_raw_protocol(fake: FakeTelegram) -> None:
    alice = fake.add_user(1001, "Alice", started=True)
    async with httpx.AsyncClient(base_url=fake.base_url.removesuffix("/bot")) as client:
        wrong = await client.post("/bot123456:wrong/getMe")
        assert wrong.status_code == 401
        assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        unknown = await client.post(f"/bot{TOKEN}/sendTelepathy")
        assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        as_json = await client.post(f"/bot{TOKEN}/SENDMESSAGE", json={"chat_id": 1001, "text": "j"})
        as_form = await client.post(
            f"/bot{TOKEN}/sendmessage", data={"chat_id": "1001", "text": "f"}
        )
        as_query = await client.get(f"/bot{TOKEN}/getMe")
    assert as_json.json()["result"]["text"] == "j" and as_form.json()["result"]["text"] == "f"
    assert as_json.json()["result"]["from"]["username"] == "plan_test_bot"
    assert as_query.json()["result"]["is_bot"] is True
    assert fake.requests["sendMessage"] == 2
    assert [m.text for m in fake.bot_messages(fake.private_chat(alice))] == ["j", "f"]


async def test_a_lone_surrogate_from_a_user_is_delivered_escaped(fake: FakeTelegram) -> None:
    """A client's malformed UTF-16 can leave half a surrogate pair in a message: it counts as
    one UTF-16 unit and goes out as JSON's escape, since it cannot be UTF-8."""
    alice = fake.add_user(1001, "Alice", started=True)
    await fake.send(alice, fake.private_chat(alice), "/note 1 a\ud800b")
    async with httpx.AsyncClient(base_url=fake.base_url + TOKEN) as client:
        answer = await client.post("/getUpdates")
    assert b"a\\ud800b" in answer.content
    (update,) = answer.json()["result"]
    assert update["message"]["text"] == "/note 1 a\ud800b"
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 5}]


async def test_update_ids_go_on_from_where_the_bot_got_to() -> None:
    """Telegram keeps counting across a bot's restarts; a new fake is told where it got to."""
    async with (
        FakeTelegram(first_update_id=501) as fake,
        Bot(fake.token, base_url=fake.base_url) as bot,
    ):
        alice = fake.add_user(1001, "Alice")
        await fake.send(alice, fake.private_chat(alice), "after a restart")
        await fake.send(alice, fake.private_chat(alice), "and again")
        assert [u.update_id for u in await bot.get_updates()] == [501, 502]


async def test_get_updates_long_polls_and_confirms_by_offset(fake: FakeTelegram, bot: Bot) -> None:
    alice = fake.add_user(1001, "Alice")
    started = time.monotonic()
    assert await bot.get_updates(timeout=dt.timedelta(seconds=0.3)) == ()
    assert time.monotonic() - started >= 0.29
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    await fake.send(alice, fake.private_chat(alice), "first")
    (first,) = await poll
    await fake.send(alice, fake.private_chat(alice), "second")
    again = await bot.get_updates()
    assert [u.update_id for u in again] == [first.update_id, first.update_id + 1]
    confirmed = await bot.get_updates(offset=first.update_id + 1)
    assert [u.message.text for u in confirmed if u.message] == ["second"]
    assert await bot.get_updates(offset=first.update_id + 2) == ()
    async with httpx.AsyncClient(base_url=fake.base_url + TOKEN) as other_instance:
        stale = asyncio.create_task(other_instance.post("/getUpdates", json={"timeout": 5}))
        await asyncio.sleep(0.05)
        await bot.get_updates()
        conflict = await stale
    assert conflict.status_code == 409
    assert "terminated by other getUpdates request" in conflict.json()["description"]


# --- fault injection -----------------------------------------------------------------------


async def test_fail_next_injects_server_errors(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    alice = fake.add_user(1001, "Alice", started=True)
    fake.fail_next("sendMessage")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(alice.id, "lost")
    await bot.send_message(alice.id, "delivered")
    fake.fail_next("sendmessage", error_code=429, retry_after=7, chat_id=alice.id)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(alice.id, "flood")
    assert flood.value.retry_after == dt.timedelta(seconds=7)
    assert [f.description for f in fake.faults] == [
        "Internal Server Error",
        "Too Many Requests: retry after 7",
    ]
    assert fake.rejections == []
    assert [m.text for m in fake.bot_messages(fake.private_chat(alice))] == ["delivered"]


async def test_delay_makes_the_client_time_out(fake: FakeTelegram, bot: Bot) -> None:
    alice = fake.add_user(1001, "Alice", started=True)
    fake.delay("sendMessage", 0.3, count=1)
    with pytest.raises(TimedOut):
        await bot.send_message(alice.id, "slow", read_timeout=0.05)
    assert fake.bot_messages(fake.private_chat(alice)) == []
    await fake.idle()  # the delayed request is in flight until it is carried out
    assert [m.text for m in fake.bot_messages(fake.private_chat(alice))] == ["slow"]
    await bot.send_message(alice.id, "fast", read_timeout=0.5)


async def test_lost_request_times_out_and_is_never_carried_out(
    fake: FakeTelegram, bot: Bot
) -> None:
    alice = fake.add_user(1001, "Alice", started=True)
    fake.delay("sendMessage", 0.3, count=1, chat_id=alice.id, process=False)
    with pytest.raises(TimedOut):
        await bot.send_message(alice.id, "lost", read_timeout=0.05)
    await fake.idle()  # the lost request is held until its delay is over, then dropped
    assert fake.bot_messages(fake.private_chat(alice)) == []
    assert [f.description for f in fake.faults] == [
        "Gateway Timeout: the request was lost before Telegram handled it"
    ]
    assert fake.rejections == []
    fake.delay("sendMessage", 0.01, count=1, process=False)
    with pytest.raises(NetworkError, match="lost before Telegram handled it"):
        await bot.send_message(alice.id, "answered but lost", read_timeout=1)
    await bot.send_message(alice.id, "delivered", read_timeout=0.5)
    assert [m.text for m in fake.bot_messages(fake.private_chat(alice))] == ["delivered"]
