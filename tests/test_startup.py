"""Every failure at start is one line (README: "A missing or wrong setting stops the bot at once
with one line"): the real ``python -m bot run`` against the fake Telegram, each time refused in
another way, must print exactly one line, starting with ``error:``, and exit non-zero.

"Cannot reach" is for a Bot API that did not answer at all; one that answered an error, or a
page that is not the Bot API's JSON, is named as such. Tests run as root in CI, where chmod
changes nothing: the unwritable database runs the bot without root's override of file modes
(the capability dropped from its bounding set), and is skipped where that is not permitted.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from pathlib import Path

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram.error import BadRequest, NetworkError

from bot.config import Settings
from bot.faketelegram import FakeTelegram
from bot.startup import StartLog, explain
from storage import Storage
from storage.migrations import LATEST_VERSION
from tests.botprocess import ADMIN_ID, bot_process, until

OTHER_TOKEN = "123456789:AAH-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
"""Well-formed, and not the token the fake accepts."""
CAP_DAC_OVERRIDE, PR_CAPBSET_DROP = 1, 24


async def start_and_exit(
    fake: FakeTelegram, tmp_path: Path, database: Path | None = None, **env: str
) -> tuple[int, str]:
    """Run the bot until it gives up; its exit code and everything it printed."""
    database = database or tmp_path / "bot.db"
    async with bot_process(fake, database, tmp_path / "bot.log", **env) as bot:
        async with asyncio.timeout(30):
            code = await bot.process.wait()
        return code, bot.text()


def assert_one_line(code: int, output: str, expected: str) -> None:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    assert expected in lines[0], output
    assert "Traceback" not in output
    assert code != 0


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="plan_test_bot") as fake:
        yield fake


async def test_a_token_telegram_refuses(fake: FakeTelegram, tmp_path: Path) -> None:
    code, output = await start_and_exit(fake, tmp_path, TELEGRAM_BOT_TOKEN=OTHER_TOKEN)
    assert_one_line(code, output, "error: Telegram refused the token (Unauthorized): check")
    assert "TELEGRAM_BOT_TOKEN" in output
    assert OTHER_TOKEN.partition(":")[2] not in output


@pytest.mark.parametrize(
    ("error_code", "expected"),
    [
        (401, "Telegram refused the token (Unauthorized)"),
        (404, "Telegram refused the token (Not Found)"),
        (500, "answered with an error (Internal Server Error)"),
        (502, "answered with an error (Bad Gateway)"),
    ],
)
async def test_a_bot_api_that_answers_get_me_with_an_error(
    fake: FakeTelegram, tmp_path: Path, error_code: int, expected: str
) -> None:
    fake.fail_next("getMe", error_code=error_code)
    code, output = await start_and_exit(fake, tmp_path)
    assert_one_line(code, output, expected)
    assert "cannot reach" not in output  # it answered


def closed_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_bot_api_that_cannot_be_reached(fake: FakeTelegram, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    code, output = await start_and_exit(fake, tmp_path, TELEGRAM_API_BASE_URL=url)
    assert_one_line(
        code, output, f"error: cannot reach the Bot API at {url} (connection refused): check"
    )


class HtmlPage(tornado.web.RequestHandler):
    """What a proxy or a web server that is not the Bot API answers."""

    def initialize(self, status: int) -> None:
        self.status = status

    def post(self, *_: str) -> None:
        self.set_status(self.status)
        self.set_header("Content-Type", "text/html")
        self.finish("<html><body><h1>Welcome to nginx!</h1></body></html>")

    get = post


@asynccontextmanager
async def html_server(status: int) -> AsyncIterator[str]:
    server = tornado.httpserver.HTTPServer(
        tornado.web.Application([(r"/.*", HtmlPage, {"status": status})])
    )
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    try:
        yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, "answered with an HTML page"), (502, "answered 502 with an HTML page")],
)
async def test_a_server_that_answers_html(
    fake: FakeTelegram, tmp_path: Path, status: int, expected: str
) -> None:
    async with html_server(status) as url:
        code, output = await start_and_exit(fake, tmp_path, TELEGRAM_API_BASE_URL=url)
    assert_one_line(code, output, f"error: the Bot API at {url} {expected}, not the Bot API's JSON")
    assert "cannot reach" not in output


async def made_database(path: Path) -> None:
    """A real database of the bot, with a few hundred rows (several pages)."""
    storage = Storage(path)
    await storage.open()
    try:
        for chat_id in range(1000, 1300):
            await storage.chats.seen(chat_id, type="private", title="x" * 200)
    finally:
        await storage.close()


def garbage(path: Path) -> None:
    path.write_text("these are my notes, not a database\n" * 100, encoding="utf-8")


def truncated(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def newer(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, 'from_the_future', '2030-01-01')",
            (LATEST_VERSION + 1,),
        )


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (garbage, "the file is not an SQLite database: point DATABASE_URL"),
        (truncated, "the file is truncated"),
        (directory, "it is a directory, not a file: set DATABASE_URL to a file path"),
        (
            newer,
            f"its schema is version {LATEST_VERSION + 1}, made by a newer version of the bot "
            f"(this one knows versions up to {LATEST_VERSION})",
        ),
    ],
)
async def test_a_database_that_cannot_be_used(
    fake: FakeTelegram, tmp_path: Path, damage: Callable[[Path], None], expected: str
) -> None:
    database = tmp_path / "data" / "bot.db"
    database.parent.mkdir()
    await made_database(database)
    damage(database)
    code, output = await start_and_exit(fake, tmp_path, database)
    assert_one_line(code, output, f"error: database {database}: {expected}")


async def test_a_garbage_database_is_said_before_telegram_is_asked(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """With no network at all, the database at fault is still what the line is about: a local
    problem is found before anything is asked of Telegram."""
    database = tmp_path / "data" / "bot.db"
    database.parent.mkdir()
    database.write_text("my notes, not a database", encoding="utf-8")
    url = f"http://127.0.0.1:{closed_port()}"
    code, output = await start_and_exit(fake, tmp_path, database, TELEGRAM_API_BASE_URL=url)
    assert_one_line(code, output, f"error: database {database}: the file is not an SQLite")
    assert fake.requests["getMe"] == 0


def without_override_of_file_modes() -> None:
    """In the child, before exec: root then obeys file modes like anyone (no-op if not root)."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def can_drop_the_override() -> bool:
    if os.geteuid() != 0:
        return True
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(23, CAP_DAC_OVERRIDE, 0, 0, 0) == 1)  # PR_CAPBSET_READ: held


async def test_a_database_the_bot_may_not_write(fake: FakeTelegram, tmp_path: Path) -> None:
    if not can_drop_the_override():
        pytest.skip("cannot run the bot without root's override of file modes here")
    folder = tmp_path / "data"
    database = folder / "bot.db"
    folder.mkdir()
    await made_database(database)
    database.chmod(0o444)
    folder.chmod(0o555)
    try:
        async with bot_process(
            fake, database, tmp_path / "bot.log", preexec_fn=without_override_of_file_modes
        ) as bot:
            async with asyncio.timeout(30):
                code = await bot.process.wait()
        output = bot.text()
    finally:
        folder.chmod(0o755)
    assert_one_line(code, output, f"error: database {database}: it cannot be written")
    assert "writable by the bot's user" in output


async def test_a_command_menu_telegram_refuses_does_not_stop_the_bot(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """setMyCommands is cosmetic: its failure is logged, and the bot answers."""
    fake.fail_next("setMyCommands", error_code=500)
    ada = fake.add_user(ADMIN_ID, "Ada", started=True)
    dm = fake.private_chat(ada)
    async with bot_process(fake, tmp_path / "bot.db", tmp_path / "bot.log") as bot:
        await until(lambda: fake.requests["getUpdates"] > 0, "polling", timeout=20, bot=bot)
        await fake.send(ada, dm, "/start")
        replies = await fake.replies(dm)
        assert replies and replies[-1].text
        assert "WARNING bot.app: command menus not registered" in bot.text()
        code, _ = await bot.terminate()
    assert code == 0


def settings_with(token: str = OTHER_TOKEN) -> Settings:
    return Settings(_env_file=None, telegram_bot_token=token)  # type: ignore[call-arg, arg-type]


def test_the_line_never_carries_the_token_a_server_quoted_back() -> None:
    refused = BadRequest(f"Bad Request: chat not found for {OTHER_TOKEN}")
    line = explain(refused, settings_with())
    assert line is not None and OTHER_TOKEN.partition(":")[2] not in line
    assert "<token>" in line


def test_a_bug_at_start_is_not_dressed_up_as_a_one_line_failure() -> None:
    assert explain(KeyError("plan"), settings_with()) is None
    assert explain(sqlite3.OperationalError("no such column: x"), settings_with()) is None


def test_start_log_drops_only_the_records_about_the_failure_it_explains(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # at DEBUG it would drop nothing
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Collect()
    start_log = StartLog(handler, started=lambda: False)
    handler.addFilter(start_log)
    logger = logging.getLogger("tests.start_log")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        failure = NetworkError("Bad Gateway")
        try:
            raise failure
        except NetworkError:
            logger.exception("retry loop gave up")  # about the failure: dropped
        try:
            raise ValueError("something else")
        except ValueError:
            logger.exception("unrelated")  # not about it: kept
        logger.info("plain line")  # no traceback: never held
        assert seen == ["plain line"]
        start_log.release(failure)
        assert seen == ["plain line", "unrelated"]
    finally:
        logger.removeHandler(handler)
