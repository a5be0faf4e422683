"""Why the bot could not start, in one line, for ``python -m bot run``.

Whatever the start path raises (python-telegram-bot's errors from ``getMe`` and the other first
calls, the storage's :class:`DatabaseUnusable`, a port already taken) is worded here, in one
place: what is wrong and what to do. "Cannot reach" is said only when no answer came back (a
refused connection, a name that does not resolve, a connect timeout); an answer that is an
error or not the Bot API's JSON is called what it is. An exception not listed here is a bug and
keeps its traceback.

While the bot starts, log records that carry a traceback are held back (:class:`StartLog`): the
libraries log the failure they are about to raise, and a failure that has its one line needs no
forty more. The rest is emitted as usual once the bot is up, or at ``LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import errno
import json
import logging
import re
from collections.abc import Callable, Iterator

import httpx
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut

from bot.config import Settings
from bot.logs import REDACTED, secret_pattern
from bot.plan_years import PlanRefused
from bot.runner import Stopped
from storage.db import DatabaseUnusable

CANNOT_CONNECT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
"""httpx's errors for a request that never reached a server that answers."""
STATUS = re.compile(r"\((\d{3})\)")
"""PTB puts the HTTP status in brackets when the body was not Telegram's JSON."""


def causes(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and what it was raised from, innermost last."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def explain(exc: BaseException, settings: Settings) -> str | None:
    """The one line for a failure at start, or ``None`` for one that is a bug."""
    line = _explain(exc, settings)
    if line is None:
        return None
    line = " ".join(line.split())  # one line, whatever a server put in its description
    pattern = secret_pattern([settings.token]) if settings.telegram_bot_token else None
    return pattern.sub(REDACTED, line) if pattern else line


def _explain(exc: BaseException, settings: Settings) -> str | None:
    chain = list(causes(exc))
    for error in chain:
        if isinstance(error, DatabaseUnusable | PlanRefused | Stopped):
            return str(error)
    api = f"the Bot API at {settings.telegram_api_base_url.removesuffix('/bot')}"
    setting = "TELEGRAM_API_BASE_URL (leave it unset for Telegram's own)"
    if not_json := _not_json(chain):
        status = STATUS.search(str(exc))
        answered = f"answered {status.group(1)} with" if status else "answered with"
        return f"{api} {answered} {not_json}, not the Bot API's JSON: check {setting}"
    if isinstance(exc, InvalidToken):
        reason = _short(chain[-1])
        return (
            f"Telegram refused the token ({reason}): check TELEGRAM_BOT_TOKEN, the token "
            "@BotFather gave you (a revoked or mistyped token is refused like this)"
        )
    if isinstance(exc, NetworkError):
        transport = next((e for e in chain if isinstance(e, httpx.TransportError)), None)
        if isinstance(transport, CANNOT_CONNECT):
            return (
                f"cannot reach {api} ({_why_unreachable(chain)}): check the network, or {setting}"
            )
        if isinstance(exc, TimedOut) or isinstance(transport, httpx.TimeoutException):
            return f"{api} did not answer in time: try again later, or check {setting}"
        if transport is not None:
            return f"{api} broke off the connection ({_short(transport)}): try again later"
        return (
            f"{api} answered with an error ({_short(exc)}): Telegram, or the server at "
            "TELEGRAM_API_BASE_URL, is failing; try again later"
        )
    if isinstance(exc, TelegramError):
        if exc.message.lower().startswith("bad webhook"):
            return f"Telegram refused the webhook ({_short(exc)}): check WEBHOOK_URL"
        return f"{api} refused to start the bot ({_short(exc)}): check {setting}"
    if isinstance(exc, OSError) and exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
        return f"cannot listen on port {settings.port} ({exc.strerror}): set PORT to a free port"
    return None


def _not_json(chain: list[BaseException]) -> str | None:
    """What came back instead of JSON, when that is what failed."""
    for error in chain:
        if isinstance(error, json.JSONDecodeError):
            body = error.doc.strip()
            if not body:
                return "an empty body"
            return "an HTML page" if body.startswith("<") else "something else"
    return None


def _why_unreachable(chain: list[BaseException]) -> str:
    for error in reversed(chain):  # the innermost cause says it best
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, OSError) and error.errno is not None and error.errno < 0:
            return "its name does not resolve"  # socket.gaierror: negative EAI_* codes
        if isinstance(error, (httpx.ConnectTimeout, TimeoutError)):
            return "no connection within the timeout"
    return _short(chain[-1])


def _short(exc: BaseException, limit: int = 120) -> str:
    text = exc.message if isinstance(exc, TelegramError) else str(exc)
    text = text or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StartLog(logging.Filter):
    """On the root handler while the bot starts: records with a traceback wait for the outcome.

    The wait ends when ``started()`` turns true (what was held is emitted with the next record)
    or at ``release(failure)``: the records about ``failure`` (its exception or one it was
    raised from) are dropped, since the failure gets its one line; the others are emitted.
    At DEBUG nothing is dropped: the operator asked for everything.
    """

    def __init__(self, handler: logging.Handler, started: Callable[[], bool]) -> None:
        super().__init__()
        self._handler = handler
        self._started = started
        self._held: list[logging.LogRecord] = []
        self._holding = True

    @classmethod
    def install(cls, started: Callable[[], bool]) -> StartLog:
        """On the handler ``configure_logging`` put on the root logger, after its redaction."""
        handler = logging.getLogger().handlers[0]
        start_log = cls(handler, started)
        handler.addFilter(start_log)
        return start_log

    def filter(self, record: logging.LogRecord) -> bool:
        if self._holding and self._started():
            self.release()
        if self._holding and record.exc_info:
            self._held.append(record)
            return False
        return True

    def release(self, failure: BaseException | None = None) -> None:
        """The start is over (``failure`` is what ended it, with its one line); idempotent."""
        self._holding = False
        explained = {id(e) for e in causes(failure)}
        if logging.getLogger().level <= logging.DEBUG:
            explained = set()
        held, self._held = self._held, []
        for record in held:
            error = record.exc_info[1] if record.exc_info else None
            if id(error) not in explained:
                self._handler.handle(record)
        self._handler.removeFilter(self)
