"""Settings: names and defaults of the README, and one clear line for each wrong value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import MissingToken, Settings, describe_error
from tests.conftest import DATA, ROOT

TOKEN = "123456789:AAHfakefakefakefakefakefakefake12345"
SETTING_NAMES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_BASE_URL",
    "DATABASE_URL",
    "TASKS_FILE",
    "BOT_ADMINS",
    "BOT_TIMEZONE",
    "BOT_LANGUAGE",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "PORT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def error_line(**env: str) -> str:
    with pytest.raises(ValidationError) as info:
        Settings(**{k.lower(): v for k, v in env.items()})
    return describe_error(info.value)


def test_the_token_is_needed_only_to_talk_to_telegram() -> None:
    settings = Settings()  # previews, exports and backups work without one
    with pytest.raises(MissingToken, match="TELEGRAM_BOT_TOKEN is not set: set it to the token"):
        _ = settings.token


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = Settings()
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert settings.database_path == Path("data/bot.db")
    # The plan installed with the bot, whatever the working directory (this test runs in an
    # empty one); in this editable install, the checkout's own file.
    assert settings.tasks_file == DATA / "tasks.json" and settings.tasks_file.is_file()
    assert settings.bot_admins == frozenset()
    assert settings.bot_timezone == "Asia/Shanghai"
    assert settings.bot_language == "zh"
    assert settings.webhook_url is None
    assert TOKEN not in repr(settings)


def test_values_from_environment_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={TOKEN}\nBOT_ADMINS=12345, 67890\n", encoding="utf-8"
    )
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/bot/bot.db")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081")
    settings = Settings()
    assert settings.token == TOKEN
    assert settings.bot_admins == {12345, 67890}
    assert settings.is_admin(67890) and not settings.is_admin(1)
    assert settings.database_path == Path("/srv/bot/bot.db")
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TELEGRAM_BOT_TOKEN": "abc"}, "TELEGRAM_BOT_TOKEN is invalid (malformed token)"),
        # \d matches full-width and other scripts' digits: a token's id is ASCII digits only.
        (
            {"TELEGRAM_BOT_TOKEN": "１２３４５６７８９" + TOKEN[9:]},
            "TELEGRAM_BOT_TOKEN is invalid (malformed token)",
        ),
        (
            {"TELEGRAM_BOT_TOKEN": "١٢٣٤٥٦٧٨٩" + TOKEN[9:]},
            "TELEGRAM_BOT_TOKEN is invalid (malformed token)",
        ),
        ({"BOT_ADMINS": "１２３４５"}, "BOT_ADMINS is invalid (not a list of numeric user ids)"),
        ({"BOT_ADMINS": "alice"}, "BOT_ADMINS is invalid (not a list of numeric user ids)"),
        ({"BOT_TIMEZONE": "Mars/Base"}, "BOT_TIMEZONE is invalid (unknown time zone)"),
        ({"BOT_LANGUAGE": "fr"}, "BOT_LANGUAGE is invalid"),
        ({"DATABASE_URL": "postgres://x"}, "DATABASE_URL is invalid (only sqlite:/// URLs"),
        ({"PORT": "99999"}, "PORT is invalid"),
        (
            {"WEBHOOK_URL": "https://bot.example/hook"},
            "WEBHOOK_SECRET is required when WEBHOOK_URL",
        ),
        ({"WEBHOOK_SECRET": "has space"}, "WEBHOOK_SECRET is invalid"),
    ],
)
def test_each_bad_setting_gets_one_line(env: dict[str, str], expected: str) -> None:
    if "TELEGRAM_BOT_TOKEN" not in env and env:
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, **env}
    line = error_line(**env)
    assert expected in line
    assert "\n" not in line


def run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "error: TELEGRAM_BOT_TOKEN is not set"),
        ({"TELEGRAM_BOT_TOKEN": "123:short"}, "error: TELEGRAM_BOT_TOKEN is invalid"),
        (
            # Refused at start, before any connection (the closed port would say otherwise).
            {
                "TELEGRAM_BOT_TOKEN": "１２３４５６７８９" + TOKEN[9:-5] + "short",
                "TELEGRAM_API_BASE_URL": "http://127.0.0.1:1",
            },
            "error: TELEGRAM_BOT_TOKEN is invalid (malformed token)",
        ),
        (
            {"TELEGRAM_BOT_TOKEN": TOKEN, "TASKS_FILE": "missing.json"},
            "error: TASKS_FILE: cannot read tasks file missing.json: No such file or directory",
        ),
    ],
)
def test_run_stops_with_one_line(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    result = run_bot(tmp_path, **env)
    assert result.returncode == 2
    assert result.stderr.strip() == expected or result.stderr.startswith(expected)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert "short" not in result.stderr  # a token is never echoed


def test_run_names_the_broken_field_of_the_tasks_file(tmp_path: Path) -> None:
    (tmp_path / "tasks.json").write_text('{"title": "x", "year": 2024}', encoding="utf-8")
    result = run_bot(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TASKS_FILE="tasks.json")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: TASKS_FILE: tasks.json: sections: Field required (and 2 more)"
    )
