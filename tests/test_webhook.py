"""Webhook mode: the secret header decides; /healthz follows the database."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.app import build_application
from bot.config import Settings
from bot.faketelegram import FakeTelegram
from bot.health_check import check
from bot.webhook import SECRET_HEADER, WebhookServer, listen, register
from tests.harness import settings_for

SECRET = "s3cret_token-for-tests"
USER = 5


def task_update(update_id: int, text: str = "/task 1") -> dict[str, object]:
    command = text.split()[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": USER, "type": "private", "first_name": "Wu"},
            "from": {"id": USER, "is_bot": False, "first_name": "Wu", "language_code": "zh-hans"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


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
    await app.initialize()
    assert app.post_init is not None and app.post_shutdown is not None
    await app.post_init(app)
    await register(app, settings)
    server = listen(app, settings, host="127.0.0.1", port=0)
    await app.start()
    try:
        yield fake, server, app
    finally:
        server.stop()
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)
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
