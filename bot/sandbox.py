"""``python -m bot sandbox``: chat with the real bot in a terminal, against a local fake Telegram.

One person plays two: Ada (an admin of the bot) and Ming (nobody yet), in their private chats
and in a department group. Lines typed go to the bot as that person's messages; lines starting
with ``:`` steer the sandbox (``:help`` lists them). The bot is built by
:func:`bot.app.build_application` and polls like in production; only Telegram is fake.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import logging
import os
import re
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.app import build_application
from bot.config import Settings
from bot.context import BotApplication
from bot.faketelegram import BotEvent, FakeChat, FakeMessage, FakeTelegram, FakeUser
from bot.inbox import InboxOptions
from bot.logs import RedactSecrets
from bot.plan import PLAN_FILE, data_file
from bot.runner import started
from storage import Storage

Output = Callable[[str], None]

BOT_USERNAME = "plan_sandbox_bot"
ADA_ID = 1
MING_ID = 2
GROUP_ID = -1001
GROUP_TITLE = "知识产权局工作群"


FIRST_REPLY_TIMEOUT = 2.5  # seconds to wait for a first reply before saying there was none
QUIET = 0.2  # the bot is done once it made no request for this long
BUSY_TIMEOUT = 15.0  # give up waiting (late messages still show up before the next prompt)

FILE_SIZE = 48_213
"""The size of a file sent with ``:file`` (the sandbox describes a file, it sends no bytes)."""

START_LINK = re.compile(r"https://t\.me/([A-Za-z0-9_]+)\?start=([A-Za-z0-9_-]+)")

META_HELP = f"""\
:as ada|ming       speak as Ada (admin) or Ming (in no department yet), same kind of chat
:in private|group  write in the speaker's private chat or in the group {GROUP_TITLE}
:tap N             tap button N (counted across rows) of the bot's latest message here
:reply TEXT        reply to the bot's latest message here with TEXT
:file NAME [TEXT]  send a file named NAME with the caption TEXT (as the answer, if the bot asked)
:open [N]          open the (N-th) t.me/{BOT_USERNAME}?start=… link the bot showed last
:help              this list
:quit              leave (Ctrl-D and Ctrl-C work too)"""


class SandboxSettings(Settings):
    """Settings taken from arguments only, so a real token, environment or .env never leaks in."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the keyword arguments count."""
        return (init_settings,)


def sandbox_settings(fake: FakeTelegram, database: Path) -> Settings:
    """The bot's settings for the sandbox: the fake's token and URL, Ada as the only admin."""
    return SandboxSettings(
        telegram_bot_token=fake.token,
        telegram_api_base_url=fake.base_url,
        database_url=f"sqlite:///{database}",
        tasks_file=data_file(PLAN_FILE),
        bot_admins=frozenset({ADA_ID}),
        _env_file=None,
    )


async def next_update_id(database: Path) -> int:
    """Where Telegram's update ids go on for the sandbox's bot: past every update its database
    took in before. A fake starting again at 1 would send ids the inbox already holds, and the
    bot would take what is typed for updates it handled in an earlier run."""
    storage = Storage(database)  # opened (and set up) as the bot is about to do anyway
    await storage.open()
    try:
        return await storage.inbox.next_offset() or 1
    finally:
        await storage.close()


def log_path(database: Path) -> Path:
    """The bot's log lives next to the sandbox database, out of the chat's way."""
    return database.with_suffix(".log")


def reset_database(database: Path) -> None:
    """``--fresh``: remove the database and SQLite's side files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


class ErrorCollector(logging.Handler):
    """Keeps the bot's logged errors so the chat can say that something went wrong."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Remember the record; it is printed after the current action."""
        self.records.append(record)

    def drain(self) -> list[str]:
        """One line per error since the last call."""
        lines = [describe_error(record) for record in self.records]
        self.records.clear()
        return lines


def describe_error(record: logging.LogRecord) -> str:
    """The error's message and exception in one line."""
    message = record.getMessage()
    text = shorten(message.splitlines()[0] if message else record.name)
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        text += f" ({type(exc).__name__}: {shorten(str(exc).splitlines()[0] if str(exc) else '')})"
    return text


def shorten(text: str, limit: int = 80) -> str:
    """Long log lines (whole updates) would drown the chat; the log file has them in full."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextlib.contextmanager
def log_to_file(path: Path, token: str, errors: ErrorCollector) -> Iterator[None]:
    """Send every log record to ``path`` (not the terminal) for the session, then restore."""
    root = logging.getLogger()
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    file_handler.addFilter(RedactSecrets([token]))
    quiet_loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    saved = (root.level, [logger.level for logger in quiet_loggers])
    root.addHandler(file_handler)
    root.addHandler(errors)
    root.setLevel(logging.INFO)
    for logger in quiet_loggers:
        logger.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    try:
        yield
    except Exception:
        logging.getLogger(__name__).exception("the sandbox stopped")
        raise
    finally:
        logging.captureWarnings(False)
        root.removeHandler(errors)
        root.removeHandler(file_handler)
        file_handler.close()
        root.setLevel(saved[0])
        for logger, level in zip(quiet_loggers, saved[1], strict=True):
            logger.setLevel(level)


@contextlib.asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[BotApplication]:
    """Start the application as ``python -m bot run`` does, and always stop it."""
    app = build_application(settings)
    app.bot_data.inbox_options = InboxOptions(long_poll=1, stop_grace=5)
    async with started(app):
        yield app


@dataclass
class Cast:
    """The sandbox's people and chats."""

    ada: FakeUser
    ming: FakeUser
    group: FakeChat

    def person(self, name: str) -> FakeUser | None:
        """``ada`` or ``ming`` (any case) to the user."""
        return {"ada": self.ada, "ming": self.ming}.get(name.lower())


def build_cast(fake: FakeTelegram) -> Cast:
    """Ada and Ming, who both started the bot, and the department group they are in."""
    ada = fake.add_user(ADA_ID, "Ada", username="ada", language_code="zh-hans", started=True)
    ming = fake.add_user(MING_ID, "Ming", username="ming", language_code="zh-hans", started=True)
    group = fake.add_group(GROUP_ID, GROUP_TITLE, members=[ada, ming], admins=[ada])
    return Cast(ada, ming, group)


@dataclass(frozen=True)
class Button:
    """A keyboard button as the sandbox can use it."""

    label: str
    kind: str  # "callback", "url", "text" (reply keyboard) or another inline action
    value: str | None


def buttons_of(message: FakeMessage) -> list[list[Button]]:
    """The message's keyboard rows, inline or reply keyboard."""
    markup = message.reply_markup or {}
    if "keyboard" in markup:
        return [[Button(b["text"], "text", b["text"]) for b in row] for row in markup["keyboard"]]
    rows = []
    for row in markup.get("inline_keyboard", []):
        cells = []
        for button in row:
            action = next((k for k in button if k != "text"), "callback_data")
            value = button.get(action)
            kind = "callback" if action == "callback_data" else action
            cells.append(Button(button["text"], kind, value if isinstance(value, str) else None))
        rows.append(cells)
    return rows


def start_links(message: FakeMessage) -> list[str]:
    """Every ``?start=`` payload the message links to: in its text, its links and its buttons."""
    text = message.text if message.text is not None else message.caption or ""
    entities = message.entities if message.text is not None else message.caption_entities
    urls = [text, *(e.get("url", "") for e in entities)]
    urls += [b.value or "" for row in buttons_of(message) for b in row if b.kind == "url"]
    payloads: list[str] = []
    for url in urls:
        for match in START_LINK.finditer(url):
            if match.group(1).lower() == BOT_USERNAME and match.group(2) not in payloads:
                payloads.append(match.group(2))
    return payloads


def render_buttons(message: FakeMessage) -> list[str]:
    """``[1] 完成  [2] 受阻`` a line per keyboard row, numbered across rows."""
    lines, number = [], 0
    for row in buttons_of(message):
        cells = []
        for button in row:
            number += 1
            mark = " ↗" if button.kind == "url" else ""
            cells.append(f"[{number}] {button.label}{mark}")
        lines.append("  ".join(cells))
    if lines and "keyboard" in (message.reply_markup or {}):
        lines.insert(0, "(keyboard under the input field; :tap N sends that button's text)")
    return lines


def render_message(message: FakeMessage, *, edited: bool) -> list[str]:
    """A bot message for the terminal: plain text, attachments, hidden links, buttons."""
    body: list[str] = []
    if message.photo is not None:
        body.append(f"[photo: {len(message.photo)} bytes]")
    elif message.document is not None:
        body.append(f"[document {message.filename}: {len(message.document)} bytes]")
    text = message.text if message.text is not None else message.caption
    body.extend(text.splitlines() if text else [])
    entities = message.entities if message.text is not None else message.caption_entities
    body.extend(f"(link: {e['url']})" for e in entities if e.get("type") == "text_link")
    body.extend(render_buttons(message))
    if (message.reply_markup or {}).get("force_reply"):
        body.append("(the bot asks for an answer: what you type next is sent as a reply)")
    head = "bot (edited): " if edited else "bot: "
    body = body or ["(empty message)"]
    return [head + body[0], *(" " * len(head) + line for line in body[1:])]


@dataclass
class Seen:
    """What the bot did to one message (or a chat) in one batch, for rendering."""

    kind: str
    chat: FakeChat | None
    message: FakeMessage | None
    detail: str | None
    alert: bool = False


def render_seen(seen: Seen) -> list[str]:
    """One bot action as terminal lines."""
    if seen.kind in ("message", "edit") and seen.message is not None:
        return render_message(seen.message, edited=seen.kind == "edit")
    if seen.kind == "answer":
        if not seen.detail:
            return ["(the bot answered the tap without a toast)"]
        return [f"{'alert' if seen.alert else 'toast'}: {seen.detail}"]
    if seen.kind == "delete" and seen.message is not None:
        gist = (seen.message.text or seen.message.caption or "").splitlines()
        return [f"(the bot deleted its message: {gist[0][:40] if gist else '…'})"]
    return [f"(Telegram refused a request of the bot: {seen.detail})"]


def merge_events(events: list[Seen]) -> list[Seen]:
    """One entry per message: sent-then-edited shows once as sent, sent-then-deleted not at all."""
    merged: list[Seen] = []
    by_message: dict[int, Seen] = {}
    for event in events:
        key = id(event.message)
        if event.message is None or event.kind not in ("message", "edit", "delete"):
            merged.append(event)
        elif key not in by_message:
            by_message[key] = event
            merged.append(event)
        elif event.kind == "delete":
            earlier = by_message.pop(key)
            merged.remove(earlier)
            if earlier.kind != "message":  # it existed before this batch: say it went away
                merged.append(event)
    return merged


class Recorder:
    """Collects what the bot does, from the fake's event stream, until the session prints it."""

    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake
        self.events: list[Seen] = []
        self.arrived = asyncio.Event()

    def __call__(self, event: BotEvent) -> None:
        """The fake's subscriber: remember the event (and whether a tap got an alert)."""
        alert = event.kind == "answer" and bool(self._fake.callback_answers[-1].show_alert)
        self.events.append(Seen(event.kind, event.chat, event.message, event.detail, alert))
        self.arrived.set()

    def drain(self) -> list[Seen]:
        """Everything since the last call, merged per message."""
        events, self.events = self.events, []
        self.arrived.clear()
        return merge_events(events)


@dataclass
class Session:
    """The terminal chat: who speaks where, the meta-commands, and printing the bot's actions."""

    fake: FakeTelegram
    cast: Cast
    out: Output
    recorder: Recorder
    errors: ErrorCollector
    log_file: Path
    speaker: FakeUser = field(init=False)
    in_group: bool = False
    last_links: tuple[FakeChat, list[str]] | None = None

    def __post_init__(self) -> None:
        """Ada starts, in her private chat."""
        self.speaker = self.cast.ada

    @property
    def chat(self) -> FakeChat:
        """The chat the speaker writes in."""
        return self.cast.group if self.in_group else self.fake.private_chat(self.speaker)

    @property
    def prompt(self) -> str:
        """``Ada @ private> ``: who speaks where."""
        return f"{self.speaker.first_name} @ {'group' if self.in_group else 'private'}> "

    def say(self, *lines: str) -> None:
        """Print sandbox lines (not from the bot)."""
        for line in lines:
            self.out(line + "\n")

    def chat_name(self, chat: FakeChat | None) -> str:
        """A chat as the terminal names it."""
        if chat is None:
            return "no chat"
        if chat.is_group:
            return chat.title or str(chat.id)
        return f"{chat.user.first_name if chat.user else chat.id}'s private chat"

    def banner(self, database: Path) -> None:
        """Who is who, where we are, and what to type first."""
        self.say(
            "Plan bot sandbox: the real bot, a fake Telegram on this computer, no token needed.",
            f"  Ada (user {ADA_ID}) is an admin of the bot; Ming (user {MING_ID}) is in no "
            "department yet.",
            f"  Chats: each one's private chat with @{BOT_USERNAME}, and the group "
            f"{GROUP_TITLE} (both in it, Ada its admin).",
            "  You are Ada in her private chat. Try typing:",
            "    /help",
            "    /task 1",
            "    /invite cnipa      (then :as ming and :open to join with the link)",
            "  A supervision round, start to end: in the group, Ada binds it (/bind cnipa) and",
            "  opens one (/round new 12-31 年终报送); Ming answers with :tap 1 (📝 报送) and his",
            "  text, or /submit 1 <text>, or :file 方案.pdf /submit 10; /round shows who has.",
            "  :help lists the sandbox commands (:as, :in, :tap, :reply, :file, :open, :quit).",
            f"  Database: {database} (kept between runs; --fresh starts over). "
            f"Bot log: {self.log_file}",
            "",
        )

    async def settle(self, chat: FakeChat | None) -> None:
        """Wait for the bot's first reply in ``chat`` (if any comes) and until it goes quiet."""
        try:
            if chat is not None:
                with contextlib.suppress(TimeoutError):
                    await self.fake.replies(chat, timeout=FIRST_REPLY_TIMEOUT, quiet=QUIET)
            await self.fake.idle(timeout=BUSY_TIMEOUT, quiet=QUIET)
        except TimeoutError:
            self.say("(the bot is still busy; what it does next shows up before a later prompt)")

    def flush(self, *, silent_ok: bool = True) -> None:
        """Print the bot's actions: the current chat's first, then each other chat by name."""
        events = self.recorder.drain()
        for seen in events:
            if seen.message is not None and seen.kind in ("message", "edit"):
                links = start_links(seen.message)
                if links:
                    self.last_links = (seen.message.chat, links)
        here = [e for e in events if e.chat is self.chat]
        for seen in here:
            self.say(*render_seen(seen))
        others: dict[int, list[Seen]] = {}
        for seen in events:
            if seen.chat is not self.chat:
                others.setdefault(id(seen.chat), []).append(seen)
        for group in others.values():
            self.say(f"--- in {self.chat_name(group[0].chat)} ---")
            for seen in group:
                self.say(*render_seen(seen))
        for error in self.errors.drain():
            self.say(f"(the bot logged an error: {error}; details in {self.log_file})")
        if not events and not silent_ok:
            self.say("(no reply)")

    async def send(self, text: str, *, reply_to: FakeMessage | None = None) -> None:
        """The speaker writes ``text`` here; then show what the bot did."""
        try:
            await self.fake.send(self.speaker, self.chat, text, reply_to=reply_to)
        except ValueError as exc:
            self.say(f"(not sent: {exc})")
            return
        await self.settle(self.chat)
        self.flush(silent_ok=False)

    def forced_reply_target(self) -> FakeMessage | None:
        """The bot's question this chat is answering, as a Telegram client would reply to it."""
        messages = self.fake.messages(self.chat)
        last = messages[-1] if messages else None
        markup = (last.reply_markup or {}) if last is not None else {}
        if last is None or not last.is_bot or not markup.get("force_reply"):
            return None
        asked = last.reply_to.sender if last.reply_to is not None else None
        if markup.get("selective") and asked is not None and asked is not self.speaker:
            return None
        return last

    async def type_line(self, text: str) -> None:
        """A plain line: a message, or the answer to the bot's forced-reply question."""
        target = self.forced_reply_target()
        if target is not None:
            self.say("(sent as a reply to the bot's question)")
        await self.send(text, reply_to=target)

    def switch_person(self, name: str) -> None:
        """``:as ada|ming``: same kind of chat, other person."""
        person = self.cast.person(name.strip())
        if person is None:
            self.say("usage: :as ada|ming")
            return
        self.speaker = person
        self.say(f"(now {person.first_name}, in {self.chat_name(self.chat)})")

    def switch_chat(self, kind: str) -> None:
        """``:in private|group``: same person, other chat."""
        if kind.strip().lower() not in ("private", "group"):
            self.say("usage: :in private|group")
            return
        self.in_group = kind.strip().lower() == "group"
        self.say(f"(now in {self.chat_name(self.chat)})")

    def pick_button(self, argument: str) -> tuple[FakeMessage, Button] | None:
        """The N-th button of the bot's latest message here, or say why there is none."""
        message = self.fake.last_bot_message(self.chat)
        flat = [b for row in buttons_of(message) for b in row] if message is not None else []
        if message is None or not flat:
            self.say("(the bot's latest message here has no buttons)")
            return None
        if not re.fullmatch(r"[0-9]+", argument.strip()) or not 1 <= int(argument) <= len(flat):
            self.say(f"usage: :tap N, with N from 1 to {len(flat)}")
            return None
        return message, flat[int(argument) - 1]

    async def tap(self, argument: str) -> None:
        """``:tap N``: press the button as the speaker and print the toast and the edits."""
        picked = self.pick_button(argument)
        if picked is None:
            return
        message, button = picked
        if button.kind == "text":
            await self.send(button.label)
        elif button.kind == "url":
            match = START_LINK.search(button.value or "")
            if match and match.group(1).lower() == BOT_USERNAME:
                await self.open_payload(match.group(2))
            else:
                self.say(f"(this button opens {button.value}; the sandbox stays in Telegram)")
        elif button.kind != "callback" or button.value is None:
            self.say(f"(the sandbox cannot use a {button.kind} button)")
        else:
            await self.press(message, button.value)

    async def press(self, message: FakeMessage, data: str) -> None:
        """Send the callback query and report a tap the bot left unanswered."""
        try:
            query = await self.fake.tap(self.speaker, message, data)
        except ValueError as exc:
            self.say(f"(cannot tap: {exc})")
            return
        await self.settle(self.chat)
        self.flush()
        if query.answer is None:
            self.say("(the bot did not answer the tap: the phone would show a spinner)")

    async def reply(self, text: str) -> None:
        """``:reply TEXT``: reply to the bot's latest message here."""
        target = self.fake.last_bot_message(self.chat)
        if target is None:
            self.say("(the bot has no message here to reply to)")
        elif not text.strip():
            self.say("usage: :reply TEXT")
        else:
            await self.send(text.strip(), reply_to=target)

    async def send_file(self, argument: str) -> None:
        """``:file NAME [TEXT]``: the speaker sends a small file, captioned TEXT; as the reply
        to the bot's forced-reply question, when it asked one here."""
        name, _, caption = argument.strip().partition(" ")
        if not name:
            self.say("usage: :file NAME [TEXT], e.g. :file 方案.pdf /submit 10 见附件")
            return
        target = self.forced_reply_target()
        try:
            await self.fake.send_document(
                self.speaker, self.chat, name, FILE_SIZE, caption=caption or None, reply_to=target
            )
        except ValueError as exc:
            self.say(f"(not sent: {exc})")
            return
        self.say(f"(sent {name}, {FILE_SIZE:,} bytes{', as the reply' if target else ''})")
        await self.settle(self.chat)
        self.flush(silent_ok=False)

    def links_to_open(self) -> list[str]:
        """Links of the bot's latest message here, else the last ones it showed anywhere."""
        latest = self.fake.last_bot_message(self.chat)
        here = start_links(latest) if latest is not None else []
        if here:
            return here
        if self.last_links is not None:
            chat, links = self.last_links
            self.say(f"(using the link shown in {self.chat_name(chat)}, as if forwarded)")
            return links
        return []

    async def open_link(self, argument: str) -> None:
        """``:open [N]``: act as tapping a ``t.me/<bot>?start=`` link."""
        links = self.links_to_open()
        if not links:
            self.say(f"(no t.me/{BOT_USERNAME}?start=… link to open yet)")
            return
        number = argument.strip() or "1"
        if not re.fullmatch(r"[0-9]+", number) or not 1 <= int(number) <= len(links):
            self.say(f"usage: :open [N], with N from 1 to {len(links)}")
            return
        await self.open_payload(links[int(number) - 1])

    async def open_payload(self, payload: str) -> None:
        """Tapping a deep link opens the speaker's private chat and sends ``/start PAYLOAD``."""
        self.in_group = False
        self.say(f"(opened the link: {self.speaker.first_name} sends /start {payload} here)")
        await self.send(f"/start {payload}")

    async def meta(self, line: str) -> bool:
        """Run one ``:command``; False when the session should end."""
        name, _, argument = line[1:].partition(" ")
        name = name.lower()
        if name in ("quit", "q", "exit"):
            return False
        if name == "help":
            self.say(META_HELP)
        elif name == "as":
            self.switch_person(argument)
        elif name == "in":
            self.switch_chat(argument)
        elif name == "tap":
            await self.tap(argument)
        elif name == "reply":
            await self.reply(argument)
        elif name == "open":
            await self.open_link(argument)
        elif name == "file":
            await self.send_file(argument)
        else:
            self.say(f"(unknown command :{name}; :help lists them)")
        return True

    async def handle(self, line: str) -> bool:
        """One typed line; False when the session should end."""
        line = line.strip()
        if not line:
            return True
        if line.startswith(":"):
            return await self.meta(line)
        await self.type_line(line)
        return True

    async def next_line(self, lines: AsyncIterator[str], echo: bool) -> str | None:
        """Show the prompt and read a line, printing what the bot does meanwhile on its own."""
        self.flush()
        self.out(self.prompt)
        read = asyncio.ensure_future(anext(lines, None))
        try:
            while not read.done():
                arrival = asyncio.ensure_future(self.recorder.arrived.wait())
                await asyncio.wait({read, arrival}, return_when=asyncio.FIRST_COMPLETED)
                arrival.cancel()
                if not read.done():
                    await self.settle(None)
                    self.out("\n")
                    self.flush()
                    self.out(self.prompt)
            line = read.result()
        finally:
            read.cancel()
        if line is None:
            self.out("\n")
        elif echo:
            self.out(line + "\n")
        return line


async def as_async(lines: AsyncIterator[str] | Iterable[str]) -> AsyncIterator[str]:
    """Scripted lines and stdin alike, one line at a time."""
    if isinstance(lines, AsyncIterator):
        async for line in lines:
            yield line
    else:
        for line in lines:
            yield line


async def sandbox_session(
    lines: AsyncIterator[str] | Iterable[str],
    out: Output,
    *,
    database: Path,
    echo: bool = True,
) -> None:
    """Run the sandbox with these input lines; ``out`` gets text exactly as a terminal shows it.

    ``echo`` repeats each input line after the prompt (for scripts and tests; a terminal echoes
    on its own). Ends on ``:quit`` or when the lines run out; everything started is stopped.
    """
    database.parent.mkdir(parents=True, exist_ok=True)
    errors = ErrorCollector()
    async with FakeTelegram(
        bot_username=BOT_USERNAME,
        bot_name="计划协调助手 (sandbox)",
        first_update_id=await next_update_id(database),
    ) as fake:
        settings = sandbox_settings(fake, database)
        with log_to_file(log_path(database), settings.token, errors):
            cast = build_cast(fake)
            recorder = Recorder(fake)
            unsubscribe = fake.subscribe(recorder)
            try:
                async with running_bot(settings):
                    session = Session(fake, cast, out, recorder, errors, log_path(database))
                    session.banner(database)
                    await converse(session, as_async(lines), echo)
            finally:
                unsubscribe()


async def converse(session: Session, lines: AsyncIterator[str], echo: bool) -> None:
    """Read and act until ``:quit`` or the end of input."""
    await session.settle(None)
    while (line := await session.next_line(lines, echo)) is not None:
        if not await session.handle(line):
            break
    session.say("bye")


def read_stdin(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Blocking reads of fd 0 in a daemon thread, so neither the loop nor the exit wait for it."""
    encoding = getattr(sys.stdin, "encoding", None) or "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pending = ""
    while True:
        try:
            chunk = os.read(0, 4096)
        except OSError:
            chunk = b""
        pending += decoder.decode(chunk, final=not chunk)
        *complete, pending = pending.split("\n")
        items: list[str | None] = [line.rstrip("\r") for line in complete]
        if not chunk:
            items += [pending] if pending else []
            items.append(None)
        for item in items:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody listens any more
                return
        if not chunk:
            return


async def stdin_lines() -> AsyncIterator[str]:
    """Lines typed on stdin, without blocking the event loop."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(target=read_stdin, args=(loop, queue), name="stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


def write_stdout(text: str) -> None:
    """Terminal output, flushed at once so the prompt shows before input is read."""
    sys.stdout.write(text)
    sys.stdout.flush()


def run_sandbox(database: Path, fresh: bool) -> int:
    """``python -m bot sandbox``: the terminal chat on real stdin/stdout; returns the exit code."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    if fresh:
        reset_database(database)
    echo = not sys.stdin.isatty()
    try:
        asyncio.run(sandbox_session(stdin_lines(), write_stdout, database=database, echo=echo))
    except KeyboardInterrupt:
        write_stdout("\nbye\n")
    except Exception as exc:  # one line, not a traceback; the details are in the log
        print(
            f"error: the sandbox stopped ({type(exc).__name__}: {exc}); "
            f"details in {log_path(database)}",
            file=sys.stderr,
        )
        return 1
    return 0
