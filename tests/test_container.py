"""The container, as far as a machine without a Docker engine can check it: the Dockerfile,
docker-compose.yml, the README and the project agree with each other."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from bot.cli import parser
from bot.config import Settings
from tests.conftest import PLAN_YEAR, ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
VOLUME = "/var/lib/plan-bot"


def final_stage() -> str:
    return DOCKERFILE.split("\nFROM ")[-1]


def test_runs_the_python_the_project_requires_as_a_non_root_user() -> None:
    stage = final_stage()
    assert stage.startswith("python:3.11-slim")
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    users = re.findall(r"^USER (\S+)", stage, re.M)
    assert users and users[-1] not in ("root", "0")
    assert 'CMD ["python", "-m", "bot", "run"]' in stage


def test_installs_the_project_as_make_does_and_the_font_the_readme_names() -> None:
    assert "pip wheel --no-cache-dir --wheel-dir /wheels ." in DOCKERFILE  # from pyproject.toml
    assert "pip install --no-index --find-links=/wheels plan-bot" in DOCKERFILE
    assert "pip install --quiet -e '.[test]'" in MAKEFILE  # the same project, plus tests
    assert "apt-get install -y --no-install-recommends fonts-noto-cjk" in DOCKERFILE
    assert "fonts-noto-cjk" in README and "fonts-noto-cjk" in (ROOT / ".ci/run").read_text()
    for line in re.findall(r"^COPY (?!--)(.+)$", DOCKERFILE, re.M):
        for copied in line.split()[:-1]:
            assert (ROOT / copied).exists(), f"the Dockerfile copies {copied}, which is missing"


def test_the_plan_comes_inside_the_installed_package() -> None:
    """The wheel carries data/ as bot.data: the image copies nothing else from the checkout and
    sets no TASKS_FILE, so the bot runs the plan installed with it."""
    assert re.findall(r"^COPY (?!--from=build)(.+)$", final_stage(), re.M) == []
    assert "TASKS_FILE" not in DOCKERFILE and "TASKS_FILE" not in COMPOSE
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    shipped = config["setuptools"]["package-data"]["bot.data"]
    assert config["setuptools"]["package-dir"]["bot.data"] == "data"
    (line,) = [ln for ln in re.findall(r"^COPY (data/.+)$", DOCKERFILE, re.M)]
    assert sorted(line.split()[:-1]) == sorted(
        ["data/__init__.py", *(f"data/{f}" for f in shipped)]
    )


def test_database_volume_agrees_everywhere() -> None:
    assert f'VOLUME ["{VOLUME}"]' in DOCKERFILE
    assert f"DATABASE_URL=sqlite:///{VOLUME}/bot.db" in DOCKERFILE
    assert f"DATABASE_URL: sqlite:///{VOLUME}/bot.db" in COMPOSE
    assert f"bot-data:{VOLUME}" in COMPOSE
    assert f"-v plan-bot-data:{VOLUME}" in README


def test_healthcheck_runs_a_command_the_bot_has() -> None:
    match = re.search(r'HEALTHCHECK .*\n?.*CMD \["python", "-m", "bot", "(\w+)"\]', DOCKERFILE)
    assert match is not None
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert match.group(1) in commands


def test_every_setting_named_in_the_deployment_files_exists() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    named = set(re.findall(r"^\s+([A-Z_]+):", COMPOSE, re.M))
    named |= set(re.findall(r"\b([A-Z][A-Z_]+)=", final_stage()))
    not_ours = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR"}
    not_ours |= {"PIP_DISABLE_PIP_VERSION_CHECK", "MPLCONFIGDIR"}
    assert named - not_ours <= fields, named - not_ours - fields
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    # Every setting, set or (when its default is what most want) shown commented out.
    assert set(re.findall(r"^(?:# )?([A-Z_]+)=", example, re.M)) == fields


def healthcheck(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "healthcheck"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_healthcheck_in_polling_mode_reads_the_bots_report(tmp_path: Path) -> None:
    missing = healthcheck(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/none.db")
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"error: unhealthy: no database at {tmp_path}/none.db"
    import asyncio

    from bot.health_check import report_path, write_report
    from storage import Storage

    async def create() -> None:
        store = Storage(tmp_path / "bot.db")
        await store.open(plan_year=PLAN_YEAR)
        await store.close()

    asyncio.run(create())
    database = tmp_path / "bot.db"
    url = f"sqlite:///{database}"
    no_report = healthcheck(tmp_path, DATABASE_URL=url)
    assert no_report.returncode == 1
    assert "the bot is not running, or has not started" in no_report.stderr

    write_report(database, None)  # what the running bot writes every 15 s
    assert healthcheck(tmp_path, DATABASE_URL=url).returncode == 0

    write_report(database, "database bot.db: bot.db was deleted while the bot ran: …")
    sick = healthcheck(tmp_path, DATABASE_URL=url)
    assert sick.returncode == 1
    assert (
        sick.stderr.strip()
        == "error: unhealthy: database bot.db: bot.db was deleted while the bot ran: …"
    )

    write_report(database, None)
    long_ago = time.time() - 120
    os.utime(report_path(database), (long_ago, long_ago))  # a bot that stopped reporting
    stale = healthcheck(tmp_path, DATABASE_URL=url)
    assert stale.returncode == 1
    assert "s old: it is stuck, or cannot write" in stale.stderr


@pytest.mark.parametrize("port", ["1"])
def test_healthcheck_in_webhook_mode_asks_healthz(tmp_path: Path, port: str) -> None:
    down = healthcheck(
        tmp_path, WEBHOOK_URL="https://bot.example.org/hook", WEBHOOK_SECRET="x", PORT=port
    )
    assert down.returncode == 1
    assert down.stderr.startswith(f"error: unhealthy: http://127.0.0.1:{port}/healthz")
