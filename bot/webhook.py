"""Webhook mode: Telegram posts updates to us; ``GET /healthz`` answers the container's check.

python-telegram-bot's own webhook server cannot serve a health check, so this is a small tornado
server (tornado comes with PTB's webhooks extra) in front of the same Application. A request is
judged on its headers before any of its body is read (the body is streamed, never buffered by
tornado): without the right ``X-Telegram-Bot-Api-Secret-Token`` it is 403, announcing more than
:data:`MAX_UPDATE_BYTES` it is 413, and a chunked body is counted as it comes and cut off at that
size. A body that is not an update is 400; a good one is written to the
durable inbox (``bot/inbox.py``) before Telegram gets its 200.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import tornado.netutil
import tornado.web
from telegram import Bot, Update
from tornado.httpserver import HTTPServer

from bot.config import Settings
from bot.context import BotApplication
from bot.inbox import ALLOWED_UPDATES
from bot.runner import inbox_of, started, until_stopped
from bot.telegram_json import may_hold_surrogates, valid_unicode

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024
"""The largest body read. An update is one message, button tap or membership change: a text of
4,096 characters with its entities and the message it replies to is tens of KB of JSON, a few
hundred KB at the very worst (every character escaped, a long quoted reply). 1 MiB is a few times
that, and what four concurrent hostile posts can cost is then a few MiB, not hundreds."""
UPDATE_ID_LIMIT = 2**63
"""Update ids are positive and fit SQLite's integer, where the bot will keep them."""


def parse_update(body: bytes, bot: Bot) -> dict[str, Any] | None:
    """The update in ``body`` as Telegram sent it, or ``None`` when it is not one: not UTF-8
    JSON, not an object with an integer ``update_id``, or not something python-telegram-bot can
    read (what the inbox keeps must be what the handlers can handle)."""
    try:
        data = json.loads(body.decode("utf-8"))
        if may_hold_surrogates(body):
            data = valid_unicode(data)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, a 5,000-digit number, too deep
        return None
    if not isinstance(data, dict):
        return None
    update_id = data.get("update_id")
    if type(update_id) is not int or not 0 <= update_id < UPDATE_ID_LIMIT:
        return None
    try:
        Update.de_json(data, bot)
        return data
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError, RecursionError):
        # What de_json raises for a wrong shape: a field that is not an object, one missing, a
        # date out of range or NaN, nesting deeper than the interpreter's stack.
        return None


@tornado.web.stream_request_body
class UpdateRequest(tornado.web.RequestHandler):
    """POST <path>: one update from Telegram."""

    def initialize(self, app: BotApplication, secret: str) -> None:
        self.app = app
        self.secret = secret
        self.body = bytearray()

    def prepare(self) -> None:
        """On the headers alone, before any of the body is read: the secret, then the size."""
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning(
                "webhook request from %s refused: wrong or missing secret", self.request.remote_ip
            )
            self.refuse(403)
            return
        length = self.request.headers.get("Content-Length", "")
        # Compared as text first: int() of a 5,000-digit header would itself raise.
        if re.fullmatch(r"[0-9]+", length) and (len(length) > 9 or int(length) > MAX_UPDATE_BYTES):
            log.warning("webhook request refused: %s bytes announced", length[:12])
            self.refuse(413)

    def data_received(self, chunk: bytes) -> None:
        """Keep the body as it comes, up to the cap (a chunked body announces no size)."""
        if len(self.body) + len(chunk) > MAX_UPDATE_BYTES:
            log.warning("webhook request refused: the body passed %d bytes", MAX_UPDATE_BYTES)
            self.refuse(413)
            return
        self.body += chunk

    def refuse(self, status: int) -> None:
        """Answer now. Tornado passes nothing more of the body to a finished handler and closes
        the connection once the answer is out, rather than read the rest."""
        self.set_status(status)
        self.finish()

    async def post(self) -> None:
        update = parse_update(bytes(self.body), self.app.bot)
        if update is None:
            log.warning("webhook request refused: the body is not an update")
            self.set_status(400)
            return
        await self.hand_over(update)
        self.set_status(200)

    async def hand_over(self, update: dict[str, Any]) -> None:
        """Write the update to the inbox; Telegram is answered 200 once this returns, so it is
        on disk before Telegram is told it arrived."""
        await inbox_of(self.app).receive([update])


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
    async with started(app, polling=False):
        await register(app, settings)
        server = listen(app, settings)
        log.info("webhook mode: listening on port %d at %s", server.port, server.path)
        try:
            await until_stopped(app)
        finally:
            server.stop()
