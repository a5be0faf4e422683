"""HTTP front of the fake: Bot API routing, token check, faults and request bookkeeping."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, deque
from typing import Any, NamedTuple

import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web
from tornado.iostream import StreamClosedError

from bot.faketelegram import api_bot, api_chats, api_messages  # noqa: F401 - they register methods
from bot.faketelegram.activity import Signal
from bot.faketelegram.api_base import METHODS, MethodSpec
from bot.faketelegram.errors import NOT_FOUND, UNAUTHORIZED, ApiError, bad_request
from bot.faketelegram.limits import FaultInjector
from bot.faketelegram.models import FakeChat, Rejection
from bot.faketelegram.params import Params, Upload
from bot.faketelegram.world import BotEvent, World

_LOG = logging.getLogger(__name__)
_MAX_BODY = 60 * 1024 * 1024


class LoggedRequest(NamedTuple):
    """One entry of the bounded request log."""

    at: float
    method: str
    chat_id: int | None
    status: int


def _chat_ref(value: Any) -> int | str | None:
    """A chat_id parameter as the rejection log shows it."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value if isinstance(value, int | str) else None


class Dispatcher:
    """Runs one Bot API call: token, method lookup, faults, handler, bookkeeping."""

    def __init__(self, world: World, token: str) -> None:
        self.world = world
        self.token = token
        self.faults = FaultInjector()
        self.faults_fired: list[Rejection] = []
        self.requests: Counter[str] = Counter()
        self.request_log: deque[LoggedRequest] = deque(maxlen=1000)
        self.stopping = Signal()
        self.closed = False

    def _touched_chat(self, name: str, params: Params) -> FakeChat | None:
        if name == "answerCallbackQuery":
            query = self.world.queries.get(params.get_str("callback_query_id") or "")
            return query.message.chat if query is not None else None
        return self.world.lookup_chat(params.raw("chat_id"))

    def _reject(self, name: str, chat_ref: int | str | None, error: ApiError) -> None:
        rejection = Rejection(name, chat_ref, error.description)
        self.world.rejections.append(rejection)
        chat = self.world.lookup_chat(chat_ref)
        self.world.emit(BotEvent("rejection", chat, None, error.description))

    async def call(self, token: str, name: str, params: Params) -> tuple[int, dict[str, Any]]:
        """Answer (HTTP status, JSON body) for ``/bot<token>/<name>``."""
        if token != self.token:
            self._reject(name, None, UNAUTHORIZED)
            return 401, UNAUTHORIZED.payload()
        spec = METHODS.get(name.lower())
        if spec is None:
            self._reject(name, None, NOT_FOUND)
            return 404, NOT_FOUND.payload()
        chat = self._touched_chat(spec.name, params)
        chat_ref = chat.id if chat is not None else _chat_ref(params.raw("chat_id"))
        self.requests[spec.name] += 1
        activities = []
        if spec.name != "getUpdates":  # polling is constant; it must not look like bot activity
            activities.append(self.world.activity)
            if chat is not None:
                activities.append(chat.activity)
        for activity in activities:
            activity.begin()
        status = 0
        try:
            status, body = await self._run(spec, params, chat_ref)
            return status, body
        finally:
            for activity in activities:
                activity.end(counts=spec.replies)
            self.request_log.append(
                LoggedRequest(time.monotonic(), spec.name, chat.id if chat else None, status)
            )

    async def _run(
        self, spec: MethodSpec, params: Params, chat_ref: int | str | None
    ) -> tuple[int, dict[str, Any]]:
        name = spec.name
        chat_id = chat_ref if isinstance(chat_ref, int) else None
        delay, injected = self.faults.take(name, chat_id)
        if delay and not self.closed:
            await self.stopping.wait(delay)
        if injected is not None:
            self.faults_fired.append(Rejection(name, chat_ref, injected.description))
            return injected.error_code, injected.payload()
        try:
            return 200, {"ok": True, "result": await spec.handler(self.world, params)}
        except ApiError as exc:
            if exc.error_code != 409:
                self._reject(name, chat_ref, exc)
            return exc.error_code, exc.payload()
        except Exception as exc:
            _LOG.exception("fake Telegram failed on %s", name)
            error = ApiError(500, f"Internal Server Error: fake failed: {exc!r}")
            self._reject(name, chat_ref, error)
            return 500, error.payload()


def json_body(body: object) -> bytes:
    """A response as UTF-8 JSON. A string that is not valid Unicode (a lone surrogate from a
    client's malformed UTF-16) cannot be UTF-8: the response then escapes it (``\\ud800``), as
    JSON allows, and a client's decoder gets it back as it was."""
    try:
        return json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(body).encode()


def parse_params(request: tornado.httputil.HTTPServerRequest) -> Params:
    """Parameters from the query string and a JSON, form or multipart body."""
    values: dict[str, Any] = {
        key: items[-1].decode("utf-8", "replace") for key, items in request.query_arguments.items()
    }
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/json") and request.body:
        try:
            body = json.loads(request.body)
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        values.update(body)
    else:
        values.update(
            {k: v[-1].decode("utf-8", "replace") for k, v in request.body_arguments.items()}
        )
    files = {
        name: Upload(parts[0].filename, parts[0].body, parts[0].content_type)
        for name, parts in request.files.items()
        if parts
    }
    return Params(values, files)


class _TrackedHandler(tornado.web.RequestHandler):
    """Registers its own task so shutdown can wait for in-flight requests."""

    def initialize(self, server: ApiServer) -> None:
        self.server = server

    async def _respond(self, status: int, body: bytes, content_type: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        try:
            await self.finish(body)
        except StreamClosedError:
            return  # the client gave up (e.g. its read timeout); Telegram would not care either


class _BotApiHandler(_TrackedHandler):
    async def get(self, token: str, name: str) -> None:
        await self.post(token, name)

    async def post(self, token: str, name: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.server.tasks.add(task)
        try:
            try:
                params = parse_params(self.request)
            except ApiError as exc:
                status, body = exc.error_code, exc.payload()
            else:
                status, body = await self.server.dispatcher.call(token, name, params)
            await self._respond(status, json_body(body), "application/json")
        finally:
            if task is not None:
                self.server.tasks.discard(task)


class _FileHandler(_TrackedHandler):
    async def get(self, token: str, path: str) -> None:
        dispatcher = self.server.dispatcher
        stored = dispatcher.world.files.by_path(path) if token == dispatcher.token else None
        if stored is None:
            error = UNAUTHORIZED if token != dispatcher.token else NOT_FOUND
            body = json.dumps(error.payload()).encode()
            await self._respond(error.error_code, body, "application/json")
            return
        await self._respond(200, stored.content(), stored.mime_type)


class _NotFoundHandler(tornado.web.RequestHandler):
    """Any other path: Telegram's JSON 404 rather than tornado's HTML page."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(NOT_FOUND.payload()))


class ApiServer:
    """The tornado HTTP server bound to one free localhost port."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.tasks: set[asyncio.Task[Any]] = set()
        self._http: tornado.httpserver.HTTPServer | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Bind and serve; returns the bound port."""
        app = tornado.web.Application(
            [
                (r"/bot([^/]+)/([A-Za-z0-9_]+)/?", _BotApiHandler, {"server": self}),
                (r"/file/bot([^/]+)/(.+)", _FileHandler, {"server": self}),
                (r"/.*", _NotFoundHandler),
            ],
            log_function=lambda handler: None,
        )
        sockets = tornado.netutil.bind_sockets(port, host)
        self._http = tornado.httpserver.HTTPServer(app, max_body_size=_MAX_BODY)
        self._http.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Release long polls and delays, let in-flight requests answer, close every socket."""
        self.dispatcher.closed = True
        self.dispatcher.stopping.notify()
        self.dispatcher.world.updates.close()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=2.0)
        if self._http is not None:
            self._http.stop()
            await self._http.close_all_connections()
            self._http = None
