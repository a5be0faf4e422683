"""Logs keep the token secret: at every level, from every logger, in messages and tracebacks."""

from __future__ import annotations

import io
import logging
import re
import secrets
import socket
import string
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.faketelegram import FakeTelegram
from bot.logs import REDACTED, RedactSecrets, configure_logging
from bot.webhook import SECRET_HEADER
from tests.botprocess import ADMIN_ID, bot_process, until

RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: "
)
TRACEBACK = re.compile(
    r"^(Traceback \(most recent call last\):$|\s|The above exception|During handling|[A-Za-z_][\w.]*: )"
)
"""The lines a logged traceback continues its record with: header, frames, the exception."""


def planted_token() -> str:
    """A token shaped like @BotFather's, different each run, so that no fixture text matches."""
    alphabet = string.ascii_letters + string.digits + "_-"
    secret = "AAH" + "".join(secrets.choice(alphabet) for _ in range(32))
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:{secret}"


async def test_the_running_bot_never_logs_its_token_even_at_debug(tmp_path: Path) -> None:
    token = planted_token()
    secret = token.partition(":")[2]
    database, output = tmp_path / "bot.db", tmp_path / "bot.log"
    async with FakeTelegram(token, bot_username="plan_test_bot") as fake:
        admin = fake.add_user(ADMIN_ID, "Ada", started=True)
        ming = fake.add_user(2, "Ming", started=True)
        admin_dm, ming_dm = fake.private_chat(admin), fake.private_chat(ming)
        async with bot_process(fake, database, output, LOG_LEVEL="debug") as bot:
            await until(lambda: fake.requests["getUpdates"] > 0, "polling", timeout=15, bot=bot)
            await fake.send(ming, ming_dm, "/start")
            assert await fake.replies(ming_dm, timeout=10)
            await fake.send(ming, ming_dm, "/task 1")
            assert await fake.replies(ming_dm)
            await fake.send(admin, admin_dm, "/update 1 进行中 30% 已启动")
            assert await fake.replies(admin_dm)
            # Someone pastes the token into a chat, and Telegram's refusal quotes it back: the
            # error handler logs the update and a traceback, both carrying it.
            fake.fail_next("sendMessage", error_code=400, description=f"Bad Request: {token}")
            await fake.send(ming, ming_dm, f"/task 2 {token}")
            assert await fake.replies(ming_dm)
            code, _ = await bot.terminate()
    text = output.read_text(encoding="utf-8")

    assert code == 0, text[-3000:]
    # In any case: PTB capitalizes error texts, which lowercases a token quoted in one.
    assert token.lower() not in text.lower() and secret.lower() not in text.lower()
    # The test would have seen a leak: the places the token would be are in the output.
    assert re.search(r"DEBUG telegram\.\S+: Calling Bot API endpoint `getUpdates`", text)
    assert re.search(rf"httpx: HTTP Request: POST \S+/bot{REDACTED}/getUpdates", text)
    assert re.search(r"DEBUG httpcore\.\S+: ", text)
    assert re.search(
        rf"ERROR handlers\.errors: error \w+ handling update .*/task 2 {REDACTED}", text
    )
    assert re.search(rf"^telegram\.error\.BadRequest: {REDACTED}$", text, re.MULTILINE)
    # One line per event (a traceback continues the event it belongs to).
    lines = text.splitlines()
    assert RECORD.match(lines[0])
    strays = [line for line in lines if not RECORD.match(line) and not TRACEBACK.match(line)]

    assert strays == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_in_webhook_mode_at_debug_neither_the_token_nor_the_webhook_secret_is_logged(
    tmp_path: Path,
) -> None:
    """PTB logs setWebhook's parameters at DEBUG, ``secret_token`` among them: the webhook
    secret is hidden like the token, whatever logged it."""
    token = planted_token()
    webhook_secret = "wh_" + secrets.token_urlsafe(24)
    port = free_port()
    database, output = tmp_path / "bot.db", tmp_path / "bot.log"
    async with FakeTelegram(token, bot_username="plan_test_bot") as fake:
        ming = fake.add_user(2, "Ming", started=True)
        env = {
            "LOG_LEVEL": "debug",
            "WEBHOOK_URL": "https://bot.example.org/telegram/updates",
            "WEBHOOK_SECRET": webhook_secret,
            "PORT": str(port),
        }
        async with bot_process(fake, database, output, **env) as bot:
            await until(lambda: "webhook mode: listening" in bot.text(), "listening", bot=bot)
            assert fake.webhook_url == env["WEBHOOK_URL"]
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": ming.id, "type": "private", "first_name": "Ming"},
                    "from": {"id": ming.id, "is_bot": False, "first_name": "Ming"},
                    "text": f"/task 1 {webhook_secret}",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                },
            }
            async with httpx.AsyncClient() as client:
                answer = await client.post(
                    f"http://127.0.0.1:{port}/telegram/updates",
                    json=update,
                    headers={SECRET_HEADER: webhook_secret},
                )
            assert answer.status_code == 200
            assert await fake.replies(fake.private_chat(ming), timeout=10)
            code, _ = await bot.terminate()
    text = output.read_text(encoding="utf-8")

    assert code == 0, text[-3000:]
    for secret in (token, token.partition(":")[2], webhook_secret):
        assert secret.lower() not in text.lower()
    # The places they would be are in the output: setWebhook's parameters, the update logged.
    assert re.search(rf"DEBUG telegram\.\S+: .*setWebhook.*'secret_token': '{REDACTED}'", text)
    assert re.search(rf"/task 1 {REDACTED}", text)


@pytest.fixture
def root_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Put the root logger back as pytest had it after ``configure_logging`` replaced it."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    logging.captureWarnings(False)


@pytest.mark.usefixtures("root_logging")
def test_every_logger_at_every_level_goes_through_the_redaction() -> None:
    token, webhook_secret = planted_token(), "wh_" + secrets.token_urlsafe(24)
    configure_logging("DEBUG", secrets=[token, webhook_secret])
    stream = io.StringIO()
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)

    logging.getLogger("httpx").debug("POST https://api.telegram.org/bot%s/getMe", token)
    logging.getLogger("some.library").info("secret part alone: %s", token.partition(":")[2])
    logging.getLogger("telegram.ext.ExtBot").debug(
        "setWebhook {'secret_token': %r}", webhook_secret
    )
    try:
        raise RuntimeError(f"request to /bot{token}/sendMessage failed")
    except RuntimeError:
        logging.getLogger("telegram.ext").exception("failed")
    try:
        raise ValueError(f"crashed with {token.upper()}")
    except ValueError as exc:  # what the interpreter does with an exception nobody caught
        sys.excepthook(ValueError, exc, exc.__traceback__)
    text = stream.getvalue()

    assert token.lower() not in text.lower() and token.partition(":")[2] not in text
    assert webhook_secret not in text and f"'secret_token': '{REDACTED}'" in text
    assert text.count(REDACTED) == 5
    assert "CRITICAL bot: uncaught exception\nTraceback" in text
    assert "RuntimeError: request to /bot<token>/sendMessage failed" in text


@pytest.mark.usefixtures("root_logging")
def test_below_debug_httpx_is_held_at_warning() -> None:
    configure_logging("INFO", secrets=[planted_token()])
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
    configure_logging("DEBUG", secrets=[planted_token()])
    assert logging.getLogger("httpcore").isEnabledFor(logging.DEBUG)


def test_a_formatted_exception_is_redacted_for_every_handler() -> None:
    """The filter formats the traceback once, redacted, so a second handler reuses that text."""
    token = planted_token()
    try:
        raise ValueError(token)
    except ValueError as exc:
        record = logging.LogRecord(
            "x", logging.ERROR, "f", 1, "boom", None, (ValueError, exc, None)
        )
    assert RedactSecrets([token]).filter(record)
    assert logging.Formatter().format(record).endswith(f"ValueError: {REDACTED}")


def test_a_wrong_log_level_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", planted_token())
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    assert main(["run"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "error: LOG_LEVEL is invalid ('LOUD'): use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ]
