"""Settings, read once at start from the environment and an optional ``.env``.

A missing or malformed value stops the bot with one line that names the setting and says how to
fix it (:func:`describe_error`), never a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, HttpUrl, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.plan import PLAN_FILE, data_file

TELEGRAM_API = "https://api.telegram.org/bot"
TOKEN_RE = re.compile(r"^[0-9]{3,20}:[A-Za-z0-9_-]{30,64}$")
"""ASCII digits: a Unicode digit class would take full-width or Arabic-Indic ones for a bot id."""
WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

HINTS = {
    "TELEGRAM_BOT_TOKEN": "set it to the token @BotFather gave you, like 123456789:AAH…",
    "TELEGRAM_API_BASE_URL": "an http(s) URL such as https://api.telegram.org/bot",
    "DATABASE_URL": "use sqlite:///relative/path.db or sqlite:////absolute/path.db",
    "TASKS_FILE": "generate it with: python -m bot import-plan data/plan-2024.txt",
    "BOT_ADMINS": "a comma-separated list of numeric Telegram user ids, like 12345,67890",
    "BOT_TIMEZONE": "an IANA zone name such as Asia/Shanghai",
    "BOT_LANGUAGE": "zh or en",
    "WEBHOOK_URL": "the public https URL Telegram should post updates to",
    "WEBHOOK_SECRET": "1–256 characters of A–Z, a–z, 0–9, _ and -",
    "PORT": "a TCP port number between 1 and 65535",
    "ALLOW_EARLIER_PLAN": "true or false",
    "CLOSE_NEEDS_CONFIRMATION": "true or false",
}


class MissingToken(Exception):
    """The bot was asked to talk to Telegram without a token."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = None
    """Required to run the bot (checked there); previews, exports and backups do without."""
    telegram_api_base_url: str = TELEGRAM_API
    database_url: str = "sqlite:///data/bot.db"
    tasks_file: Path = Field(default_factory=lambda: data_file(PLAN_FILE))
    """The plan shipped with the bot unless set."""
    bot_admins: Annotated[frozenset[int], NoDecode] = frozenset()
    bot_timezone: str = "Asia/Shanghai"
    bot_language: Literal["zh", "en"] = "zh"
    webhook_url: HttpUrl | None = None
    webhook_secret: SecretStr | None = None
    port: int = Field(default=8080, ge=1, le=65535)
    allow_earlier_plan: bool = False
    """Let TASKS_FILE hold an earlier year than the database's current plan (going back)."""
    close_needs_confirmation: bool = True
    """A department's done awaits the office's confirmation (销号); off, done closes the task."""

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        if not TOKEN_RE.match(value.get_secret_value().strip()):
            raise ValueError("malformed token")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("telegram_api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("not an http(s) URL")
        # python-telegram-bot appends the token to this prefix; accept the server root too.
        return value if value.endswith("/bot") else f"{value}/bot"

    @field_validator("database_url")
    @classmethod
    def _sqlite_url(cls, value: str) -> str:
        if not value.startswith("sqlite:///") or len(value) <= len("sqlite:///"):
            raise ValueError("only sqlite:/// URLs are supported")
        return value

    @field_validator("bot_admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            if not all(re.fullmatch(r"-?[0-9]+", p) for p in parts):
                raise ValueError("not a list of numeric user ids")
            return frozenset(int(p) for p in parts)
        return value

    @field_validator("bot_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET_RE.match(value.get_secret_value()):
            raise ValueError("Telegram accepts only A-Z, a-z, 0-9, _ and - (1-256 characters)")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
        return self

    @property
    def token(self) -> str:
        if self.telegram_bot_token is None:
            raise MissingToken(f"TELEGRAM_BOT_TOKEN is not set: {HINTS['TELEGRAM_BOT_TOKEN']}")
        return self.telegram_bot_token.get_secret_value()

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.bot_timezone)

    @property
    def database_path(self) -> Path:
        """``sqlite:///data/bot.db`` → ``data/bot.db``; ``sqlite:////srv/bot.db`` → ``/srv/bot.db``."""
        return Path(self.database_url.removeprefix("sqlite:///"))

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.bot_admins


def describe_error(exc: ValidationError) -> str:
    """One line naming the first wrong setting and how to fix it; never echoes a secret."""
    first = exc.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else ""
    if first["type"] == "missing":
        return f"{name} is not set: {HINTS.get(name, 'set it in the environment or .env')}"
    reason = first["msg"].removeprefix("Value error, ")
    if not name:  # a check across settings
        return f"{reason}: {HINTS['WEBHOOK_SECRET']}"
    return f"{name} is invalid ({reason}): {HINTS.get(name, 'see .env.example')}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings; tests pass overrides instead of touching the environment."""
    return Settings(**overrides)  # type: ignore[arg-type]
