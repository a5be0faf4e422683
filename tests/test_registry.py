"""One table of commands: the README's command table, ``bot/registry.py``, the catalogue and the
handlers the application registers all name the same commands, each once."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path

import pytest
from telegram.ext import CommandHandler

from bot.app import build_application
from bot.config import Settings
from bot.i18n import CATALOGUE
from bot.registry import COMMANDS
from tests.conftest import DATA, ROOT

COMMAND_IN_CELL = re.compile(r"`/([a-z_]+)")
"""A command as the README's first column writes it: `/name …`, several per cell allowed."""


def readme_commands(text: str) -> list[str]:
    """The commands named in the first column of the table whose header is ``| command | does |``,
    in order, repeats kept (a command listed twice is a mistake the test should see)."""
    lines = text.splitlines()
    start = next(
        i for i, line in enumerate(lines) if re.match(r"\|\s*command\s*\|\s*does\s*\|", line)
    )
    names: list[str] = []
    for line in itertools.takewhile(lambda x: x.startswith("|"), lines[start + 2 :]):
        first = line.strip().strip("|").split(" | ")[0]
        found = COMMAND_IN_CELL.findall(first)
        assert found, f"a row of the README's command table names no command: {line}"
        names += found
    return names


README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_table_is_parsed_as_a_reader_sees_it() -> None:
    sample = (
        "| command | does |\n|---|---|\n"
        "| `/start [join-<code>\\|task-<n>]` | welcome |\n"
        "| `/bind <dept\\|all>` / `/unbind` | tie |\n"
        "| `/depts`, `/find <words>`, `/overview` | lists |\n"
        "\nafter the table: `/nothing`\n"
    )
    assert readme_commands(sample) == ["start", "bind", "unbind", "depts", "find", "overview"]


def test_the_readme_lists_every_command_of_the_registry_and_no_other() -> None:
    listed = readme_commands(README)
    twice = [name for name, n in Counter(listed).items() if n > 1]
    assert not twice, f"listed more than once in the README's command table: {twice}"
    registry = [command.name for command in COMMANDS]
    assert len(set(registry)) == len(registry), "a command has two rows in bot/registry.py"
    missing = sorted(set(registry) - set(listed))
    unknown = sorted(set(listed) - set(registry))
    assert not missing, f"in bot/registry.py but not in the README's command table: {missing}"
    assert not unknown, f"in the README's command table but not in bot/registry.py: {unknown}"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_row_has_its_menu_and_help_texts(lang: str) -> None:
    for command in COMMANDS:
        assert command.menu_key in CATALOGUE[lang], f"{lang}: no {command.menu_key}"
        assert command.help_key in CATALOGUE[lang], f"{lang}: no {command.help_key}"
        assert CATALOGUE[lang][command.help_key].startswith(f"/{command.name}"), command.help_key


def test_the_application_registers_one_command_handler_per_row(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token="123456789:" + "A" * 35,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        tasks_file=DATA / "tasks.json",
    )
    app = build_application(settings)
    handled = Counter(
        name
        for handlers in app.handlers.values()
        for handler in handlers
        if isinstance(handler, CommandHandler)
        for name in handler.commands
    )
    expected = Counter(command.name for command in COMMANDS)
    assert handled == expected, (
        f"not registered: {sorted(expected - handled)}; extra: {sorted(handled - expected)}"
    )
    assert not (tmp_path / "bot.db").exists(), "building the application touched the disk"
