"""The bot installed without ``-e``, as ``pip install .`` or the Docker image installs it: the
wheel carries every package and the plan's files (never a database), and the installed bot
finds its plan from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.plan import DATA_PACKAGE, PLAN_FILE, data_file
from tests.conftest import DATA, ROOT

SHIPPED = ("tasks.json", "departments.json", "plan-2024.txt")
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.db*", ".env"
)


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = ""):
    return subprocess.run(
        args, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, encoding="utf-8",
        timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of a copy of the checkout (with a stray database in data/), built offline."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    (source / "data" / "bot.db").write_bytes(b"SQLite format 3\x00 a live database")
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", str(base / "dist"), str(source), cwd=base,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = (base / "dist").glob("plan_bot-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Path:
    """The wheel installed on its own into a folder (its dependencies come from this venv)."""
    target = wheel.parent / "site"
    done = run(
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
        str(target), str(wheel), cwd=wheel.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def test_the_wheel_holds_every_package_and_the_plan_but_no_database(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in SHIPPED:
        assert f"bot/data/{shipped}" in names
    assert not [name for name in names if ".db" in name], "a database went into the wheel"
    packages = {
        str(init.parent.relative_to(ROOT)).replace(os.sep, "/") + "/__init__.py"
        for top in ("bot", "handlers", "storage")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert packages - names == set(), "pyproject.toml's package list misses these"
    modules = {
        str(path.relative_to(ROOT)).replace(os.sep, "/")
        for top in ("bot", "handlers", "storage")
        for path in (ROOT / top).rglob("*.py")
    }
    assert modules - names == set()
    assert not [name for name in names if name.startswith(("tests/", "bench/", "data/"))]


def installed_env(site: Path) -> dict[str, str]:
    """The installed copy first on the path, and no setting of the test runner's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TASKS_FILE"))}
    env["PYTHONPATH"] = str(site)
    return env


def test_the_installed_bot_reads_its_own_copy_of_the_plan(installed: Path, tmp_path: Path) -> None:
    where = run(
        sys.executable, "-c", "from bot.plan import data_file; print(data_file('tasks.json'))",
        cwd=tmp_path, env=installed_env(installed),
    )  # fmt: skip
    assert where.stdout.strip() == str(installed / "bot" / "data" / "tasks.json"), where.stderr
    assert (installed / "bot" / "data" / "tasks.json").read_bytes() == (
        DATA / "tasks.json"
    ).read_bytes()


def test_the_installed_sandbox_runs_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    done = run(
        sys.executable, "-m", "bot", "sandbox", "--database", "s.db",
        cwd=tmp_path, env=installed_env(installed), stdin="/task 1\n:quit\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "bot: 任务 1 · 一、完善知识产权制度" in done.stdout
    assert done.stdout.endswith("bye\n")


def test_the_installed_importer_checks_against_its_own_registry(
    installed: Path, tmp_path: Path
) -> None:
    done = run(
        sys.executable, "-m", "bot", "import-plan", str(DATA / "plan-2024.txt"), "--check",
        "-o", str(installed / "bot" / "data" / "tasks.json"),
        cwd=tmp_path, env=installed_env(installed),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{installed / 'bot' / 'data' / 'tasks.json'} is up to date")


def test_a_checkout_that_was_never_installed_reads_its_own_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert data_file(PLAN_FILE) == DATA / PLAN_FILE  # the editable install of this checkout

    def not_installed(package: str) -> None:
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr("bot.plan.files", not_installed)
    assert data_file(PLAN_FILE) == DATA / PLAN_FILE
    assert DATA_PACKAGE == "bot.data"
