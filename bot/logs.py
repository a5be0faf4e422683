"""Logging: one line per event with time, level and logger, and never a secret.

The token is in every Bot API URL (``…/bot<token>/getUpdates``), which httpx logs for each
request and PTB may put in an error; PTB logs ``setWebhook``'s parameters at DEBUG, the webhook
secret among them. Rather than trust every library to leave them out, the one root handler
redacts every secret from every record, whatever logged it and at whatever level: the message,
a formatted exception and a stack. Uncaught exceptions and warnings are routed through that
handler too, so nothing the process prints about itself bypasses the redaction.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from types import TracebackType
from typing import Literal

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "<token>"
CHATTY = ("httpx", "httpcore")
"""Libraries that log every request (httpx: its URL, with the token) at INFO or DEBUG."""
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

Level = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class LogSettings(BaseSettings):
    """``LOG_LEVEL``, read like the other settings (environment, then ``.env``)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    log_level: Level = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        """``debug`` means ``DEBUG``: operators should not have to shout."""
        return value.strip().upper() if isinstance(value, str) else value


class BadLogLevel(ValueError):
    """``LOG_LEVEL`` is set to something that is not a level."""


def log_level() -> Level:
    """The configured level (default INFO); a wrong value raises with a one-line message."""
    try:
        return LogSettings().log_level
    except ValidationError as exc:
        given = exc.errors()[0].get("input")
        raise BadLogLevel(
            f"LOG_LEVEL is invalid ({given!r}): use one of {', '.join(LEVELS)}"
        ) from None


def secret_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """What to hide: each secret, and a token's secret part alone (the colon may be split off or
    encoded), in any case (PTB capitalizes error texts, which lowercases a token in them)."""
    pieces = {piece for secret in secrets for piece in (secret, secret.partition(":")[2]) if piece}
    # Longest first, so that a whole token is replaced as one piece rather than in parts.
    parts = [re.escape(piece) for piece in sorted(pieces, key=len, reverse=True)]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


class RedactSecrets(logging.Filter):
    """Replace every secret wherever it appears in a record, whatever logged it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._pattern = secret_pattern(secrets)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced wherever it appears."""
        return text if self._pattern is None else self._pattern.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place and keep the record: a log line is never dropped, only cleaned."""
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # bad arguments: the formatter reports it through handleError
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatted here, once, so that every handler uses the redacted text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(level: str = "INFO", *, secrets: Iterable[str] = ()) -> None:
    """One handler on the root logger, for every logger of the process, hiding ``secrets``:
    the bot token and the webhook secret.

    At INFO and above httpx and httpcore are held at WARNING (a line per long poll is noise);
    at DEBUG they speak too, since the operator asked for everything and the handler redacts.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    chatty = logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
    for name in CHATTY:
        logging.getLogger(name).setLevel(chatty)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """A crash's traceback goes through the redacting handler instead of straight to stderr."""
    logging.getLogger("bot").critical("uncaught exception", exc_info=(kind, exc, tb))
