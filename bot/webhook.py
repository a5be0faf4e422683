"""Webhook mode: Telegram posts updates to us; ``GET /healthz`` answers the container's check.

python-telegram-bot's own webhook server cannot serve a health check, so this is a small tornado
server (tornado comes with PTB's webhooks extra) in front of the same Application: a request
without the right ``X-Telegram-Bot-Api-Secret-Token`` is refused before its body is read, and a
good one is handed to the application's update queue like any other update.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import tornado.netutil
import tornado.web
from telegram import Update
from tornado.httpserver import HTTPServer

from bot.config import Settings
from bot.context import BotApplication

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


class UpdateRequest(tornado.web.RequestHandler):
    """POST <path>: one update from Telegram."""

    def initialize(self, app: BotApplication, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning(
                "webhook request from %s refused: wrong or missing secret", self.request.remote_ip
            )
            self.set_status(403)
            return
        try:
            update = Update.de_json(json.loads(self.request.body), self.app.bot)
        except (ValueError, TypeError, KeyError):
            self.set_status(400)
            return
        await self.app.update_queue.put(update)
        self.set_status(200)


class Health(tornado.web.RequestHandler):
    """GET /healthz: 200 when the database answers and can be trusted with writes, else 503
    with the reason (a write that failed, files deleted or replaced under the bot)."""

    def initialize(self, app: BotApplication) -> None:
        self.app = app

    async def get(self) -> None:
        storage = self.app.bot_data.storage
        problem = "not started" if storage is None else storage.db.health()
        if storage is not None and problem is None:
            try:
                if await storage.db.fetchvalue("SELECT 1") != 1:
                    problem = "the database did not answer"
            except Exception as exc:  # any failure to answer is 'unhealthy', never a crash
                log.exception("health check: the database did not answer")
                problem = f"the database did not answer: {exc}"
        self.set_status(200 if problem is None else 503)
        self.write("ok\n" if problem is None else f"unavailable: {problem}\n")


@dataclass
class WebhookServer:
    server: HTTPServer
    port: int
    path: str

    def stop(self) -> None:
        self.server.stop()


def webhook_path(settings: Settings) -> str:
    """The path Telegram posts to: the path of ``WEBHOOK_URL`` (``/`` if it has none)."""
    assert settings.webhook_url is not None
    return urlsplit(str(settings.webhook_url)).path or "/"


def listen(
    app: BotApplication, settings: Settings, *, host: str = "", port: int | None = None
) -> WebhookServer:
    """Start serving on every interface (a container's port is mapped from outside), or on
    ``host``; port 0 picks any free port, for tests."""
    assert settings.webhook_secret is not None
    path = webhook_path(settings)
    routes: list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]] = [
        (r"/healthz", Health, {"app": app}),
        (path, UpdateRequest, {"app": app, "secret": settings.webhook_secret.get_secret_value()}),
    ]
    server = HTTPServer(tornado.web.Application(routes))
    sockets = tornado.netutil.bind_sockets(settings.port if port is None else port, address=host)
    server.add_sockets(sockets)
    return WebhookServer(server, sockets[0].getsockname()[1], path)


async def register(app: BotApplication, settings: Settings) -> None:
    """Tell Telegram where to post, with the secret it must send back."""
    assert settings.webhook_secret is not None
    await app.bot.set_webhook(
        url=str(settings.webhook_url),
        secret_token=settings.webhook_secret.get_secret_value(),
        allowed_updates=ALLOWED_UPDATES,
    )


async def serve(app: BotApplication, settings: Settings) -> None:
    """Run in webhook mode until SIGTERM or SIGINT, then stop gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await register(app, settings)
        server = listen(app, settings)
        await app.start()
        log.info("webhook mode: listening on port %d at %s", server.port, server.path)
        await stop.wait()
        server.stop()
        await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
