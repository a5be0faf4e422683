"""Webhook mode: the secret header decides; /healthz follows the database."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.app import build_application
from bot.config import Settings
from bot.faketelegram import FakeTelegram
from bot.health_check import check
from bot.runner import started
from bot.webhook import MAX_UPDATE_BYTES, SECRET_HEADER, WebhookServer, listen, register
from tests.harness import command_update, settings_for

SECRET = "s3cret_token-for-tests"
USER = 5


def task_update(update_id: int, text: str = "/task 1") -> dict[str, object]:
    return command_update(update_id, text, user_id=USER, name="Wu", language="zh-hans")


@pytest.fixture
async def webhook(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, WebhookServer, object]]:
    fake = FakeTelegram(bot_username="plan_test_bot")
    await fake.start()
    fake.add_user(USER, "Wu", language_code="zh-hans", started=True)
    settings = settings_for(
        fake,
        tmp_path,
        webhook_url="https://bot.example.org/telegram/updates",
        webhook_secret=SECRET,
    )
    app = build_application(settings)
    try:
        async with started(app, polling=False):
            await register(app, settings)
            server = listen(app, settings, host="127.0.0.1", port=0)
            try:
                yield fake, server, app
            finally:
                server.stop()
    finally:
        await fake.stop()


async def test_registers_the_webhook_with_its_secret(webhook) -> None:
    fake, server, _ = webhook
    assert fake.webhook_url == "https://bot.example.org/telegram/updates"
    assert server.path == "/telegram/updates"


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}])
async def test_a_request_without_the_right_secret_is_refused_and_changes_nothing(
    webhook, headers: dict[str, str]
) -> None:
    fake, server, app = webhook
    url = f"http://127.0.0.1:{server.port}{server.path}"
    async with httpx.AsyncClient() as client:
        response = await client.post(url, json=task_update(1), headers=headers)
    assert response.status_code == 403
    await fake.idle()
    assert fake.bot_messages(fake.chat(USER)) == []
    assert await app.bot_data.storage.users.get(USER) is None


async def test_the_right_secret_is_served(webhook) -> None:
    fake, server, app = webhook
    url = f"http://127.0.0.1:{server.port}{server.path}"
    async with httpx.AsyncClient() as client:
        response = await client.post(url, json=task_update(2), headers={SECRET_HEADER: SECRET})
        assert response.status_code == 200
        (card,) = await fake.replies(fake.chat(USER), at_least=1)
        assert card.text.startswith("任务 1 ·")
        bad = await client.post(url, content=b"{not json", headers={SECRET_HEADER: SECRET})
        assert bad.status_code == 400
        elsewhere = await client.post(
            f"http://127.0.0.1:{server.port}/other",
            json=task_update(3),
            headers={SECRET_HEADER: SECRET},
        )
        assert elsewhere.status_code == 404
    assert await app.bot_data.storage.users.get(USER) is not None


async def test_healthz_follows_the_database(webhook) -> None:
    _, server, app = webhook
    async with httpx.AsyncClient() as client:
        healthy = await client.get(f"http://127.0.0.1:{server.port}/healthz")
        assert (healthy.status_code, healthy.text) == (200, "ok\n")
        await app.bot_data.storage.db.close()  # the database goes away
        sick = await client.get(f"http://127.0.0.1:{server.port}/healthz")
        assert sick.status_code == 503
        await app.bot_data.storage.db.open()  # so that shutdown can close it


async def test_healthz_fails_once_the_database_file_is_not_the_one_the_bot_writes(
    webhook,
) -> None:
    _, server, app = webhook
    database = app.bot_data.settings.database_path
    copy = database.with_name("copy.db")
    shutil.copyfile(database, copy)
    os.replace(copy, database)  # a backup restored over the live file, say
    async with httpx.AsyncClient() as client:
        sick = await client.get(f"http://127.0.0.1:{server.port}/healthz")
    assert sick.status_code == 503
    assert "bot.db was replaced by another file while the bot ran" in sick.text


async def test_the_containers_healthcheck_passes_against_the_live_server(webhook) -> None:
    _, server, _ = webhook
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webhook_url="https://bot.example.org/telegram/updates",
        webhook_secret=SECRET,
        port=server.port,
    )
    assert await asyncio.to_thread(check, settings) is None


# --- refusing early, and never a 500 --------------------------------------------------------

BIG = 50 * 1024 * 1024
"""A body far larger than any update: the server must refuse it without reading it."""


async def send_head(
    port: int, path: str, headers: dict[str, str]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a connection and send a POST's request line and headers, none of its body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    return reader, writer


async def answer_then_hang_up(reader: asyncio.StreamReader) -> int:
    """The status code of the response, which must come (within a deadline) without the rest of
    the body being sent, and then the end of the connection: the server reads no further."""
    async with asyncio.timeout(5):
        line = await reader.readline()
        await reader.read()  # returns at the end of the connection
    assert line.startswith(b"HTTP/1.1 "), line
    return int(line.split()[1])


@pytest.mark.parametrize(
    "framing",
    [{"Content-Length": str(BIG)}, {"Transfer-Encoding": "chunked"}],
    ids=["content-length", "chunked"],
)
async def test_a_large_post_without_the_secret_is_refused_on_its_headers(
    webhook, framing: dict[str, str]
) -> None:
    """Four 95 MB posts once took the process from 63 MB to 647 MB: each was read whole before
    its secret was looked at. Now each is answered before a byte of its body is sent."""
    fake, server, _ = webhook
    posts = [await send_head(server.port, server.path, framing) for _ in range(4)]
    for reader, writer in posts:
        assert await answer_then_hang_up(reader) == 403
        writer.close()
    await fake.idle()
    assert fake.bot_messages(fake.chat(USER)) == []


async def test_a_body_announced_too_large_is_refused_before_it_is_read(webhook) -> None:
    _, server, _ = webhook
    reader, writer = await send_head(
        server.port, server.path, {SECRET_HEADER: SECRET, "Content-Length": str(BIG)}
    )
    assert await answer_then_hang_up(reader) == 413
    writer.close()


async def test_a_chunked_body_is_cut_off_one_byte_past_the_cap(webhook) -> None:
    """Without a Content-Length the size is known only as the body comes: it is counted, and
    refused as soon as it passes the cap, without waiting for the rest of the 50 MB."""
    fake, server, _ = webhook
    reader, writer = await send_head(
        server.port, server.path, {SECRET_HEADER: SECRET, "Transfer-Encoding": "chunked"}
    )
    piece = b"x" * 65536
    for _ in range(MAX_UPDATE_BYTES // len(piece)):
        writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    writer.write(b"1\r\nx\r\n")  # one byte past the cap, and the body goes on (not sent)
    await writer.drain()
    assert await answer_then_hang_up(reader) == 413
    writer.close()
    async with httpx.AsyncClient() as client:  # the server goes on serving
        url = f"http://127.0.0.1:{server.port}{server.path}"
        served = await client.post(url, json=task_update(8), headers={SECRET_HEADER: SECRET})
    assert served.status_code == 200
    assert await fake.replies(fake.chat(USER), at_least=1)


async def test_a_chunked_update_within_the_cap_is_served(webhook) -> None:
    fake, server, _ = webhook
    body = json.dumps(task_update(9)).encode()
    reader, writer = await send_head(
        server.port, server.path, {SECRET_HEADER: SECRET, "Transfer-Encoding": "chunked"}
    )
    for piece in (body[:10], body[10:]):
        writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    async with asyncio.timeout(5):
        assert (await reader.readline()).split()[1] == b"200"
    writer.close()
    (card,) = await fake.replies(fake.chat(USER), at_least=1)
    assert card.text.startswith("任务 1 ·")


NOT_UPDATES = [
    pytest.param(b"null", id="null"),
    pytest.param(b"[]", id="array"),
    pytest.param(b"1", id="number"),
    pytest.param(b'"update"', id="string"),
    pytest.param(b"{}", id="no update_id"),
    pytest.param(b'{"update_id": "1"}', id="update_id a string"),
    pytest.param(b'{"update_id": true}', id="update_id a boolean"),
    pytest.param(b'{"update_id": 1.5}', id="update_id a float"),
    pytest.param(b'{"update_id": 1e999}', id="update_id infinite"),
    pytest.param(b'{"update_id": 100000000000000000000000000000}', id="update_id too large"),
    pytest.param(b'{"update_id": ' + b"9" * 5000 + b"}", id="a 5000-digit number"),
    pytest.param(b'{"update_id": 1, "message": 5}', id="message a number"),
    pytest.param(b'{"update_id": 1, "message": {}}', id="message empty"),
    pytest.param(
        b'{"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": 5}}', id="chat a number"
    ),
    pytest.param(
        b'{"update_id": 1, "message": {"message_id": 1, "date": 1e300, '
        b'"chat": {"id": 5, "type": "private"}}}',
        id="date out of range",
    ),
    pytest.param(
        b'{"update_id": 1, "message": {"message_id": 1, "date": NaN, '
        b'"chat": {"id": 5, "type": "private"}}}',
        id="date NaN",
    ),
    pytest.param(b'{"update_id": 1, "callback_query": {"id": "1"}}', id="callback incomplete"),
    pytest.param(b"[" * 100_000, id="100,000 ["),
    pytest.param(
        b'{"update_id": 1, "message": ' + b'{"reply_to_message": ' * 5000 + b"{}" + b"}" * 5001,
        id="nested 5,000 deep",
    ),
    pytest.param(b'{"update_id": 1, "message": {"text": "\xff\xfe"}}', id="invalid UTF-8"),
    pytest.param('{"update_id": 1}'.encode("utf-16"), id="UTF-16"),
    pytest.param(b"{not json", id="not JSON"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.parametrize("body", NOT_UPDATES)
async def test_a_body_that_is_not_an_update_is_400_and_the_bot_goes_on(
    webhook, body: bytes
) -> None:
    fake, server, _ = webhook
    url = f"http://127.0.0.1:{server.port}{server.path}"
    async with httpx.AsyncClient() as client:
        refused = await client.post(url, content=body, headers={SECRET_HEADER: SECRET})
        assert refused.status_code == 400
        assert "Traceback" not in refused.text
        served = await client.post(url, json=task_update(7), headers={SECRET_HEADER: SECRET})
        assert served.status_code == 200
    (card,) = await fake.replies(fake.chat(USER), at_least=1)
    assert card.text.startswith("任务 1 ·")


async def test_a_lone_surrogate_in_a_posted_update_arrives_as_a_replacement_character(
    webhook,
) -> None:
    """JSON may carry half a surrogate pair (``\\ud800``); it reaches no handler as such."""
    fake, server, _ = webhook
    body = json.dumps(task_update(11, "/find 商标\ud800"))  # json escapes it: ASCII
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"http://127.0.0.1:{server.port}{server.path}",
            content=body.encode(),
            headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
        )
    assert answer.status_code == 200
    (found,) = await fake.replies(fake.chat(USER), at_least=1)
    assert found.text.startswith("包含“商标\ufffd”的任务：0 项")
    assert fake.rejections == []
