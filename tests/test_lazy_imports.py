"""Start-up stays fast: the heavy libraries the bot uses now and then (matplotlib for the
digest's chart, openpyxl for /export, python-docx) are imported where first used, never when
the bot starts (README: Benchmarks, start-up)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import DATA, ROOT

HEAVY = ("matplotlib", "openpyxl", "docx")
START = f"""
import sys
from bot.app import build_application
from bot.config import Settings
from bot import cli, runner, startup, logs

settings = Settings(
    _env_file=None, telegram_bot_token="123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
    tasks_file={str(DATA / "tasks.json")!r},
)
build_application(settings)
EXTRA
print(" ".join(sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))))
"""
"""What ``python -m bot run`` imports and builds before it polls, then the heavy packages
found in ``sys.modules``."""


def heavy_after(extra: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-c", START.replace("EXTRA", extra)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_starting_the_bot_imports_no_heavy_library() -> None:
    assert heavy_after() == ""


def test_the_check_sees_a_heavy_library_imported() -> None:
    assert heavy_after("import bot.export") == "openpyxl"
    assert heavy_after("import bot.render.chart") == "matplotlib"
