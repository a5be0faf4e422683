"""One owner for each thing, checked on the source: one writer of the outbox, no string-keyed
shared state, and no import cycle between the bot's packages."""

from __future__ import annotations

import ast
import itertools
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("bot", "handlers", "storage")

OUTBOX_WRITE = re.compile(
    r"\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)"
    r"\s+outbox\b",
    re.IGNORECASE,
)
OUTBOX_OWNER = Path("storage/outbox.py")

STRING_KEYED = re.compile(r"\b(?:bot_data|chat_data|user_data)(?:\[|\.get\()|\.extra\[")
"""Shared state under string keys: ``BotData`` has typed fields instead (bot/context.py)."""


def sources(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO outbox (chat_id) VALUES (1)",
        "insert or ignore into outbox (chat_id) values (1)",
        "UPDATE outbox SET state = 'sent'",
        "UPDATE OR IGNORE outbox SET chat_id = 2",
        "DELETE FROM outbox WHERE id = 1",
        "REPLACE INTO\n    outbox (id) VALUES (1)",
    ],
)
def test_the_outbox_pattern_sees_every_kind_of_write(sql: str) -> None:
    assert OUTBOX_WRITE.search(sql)


def test_only_storage_outbox_writes_the_outbox_table() -> None:
    writers = [
        f"{path.relative_to(ROOT)}:{text[: match.start()].count(chr(10)) + 1}: {match.group(0)}"
        for path in sources(*PACKAGES)
        if path.relative_to(ROOT) != OUTBOX_OWNER
        for text in [path.read_text(encoding="utf-8")]
        for match in OUTBOX_WRITE.finditer(text)
    ]
    assert not writers, (
        f"outbox written outside {OUTBOX_OWNER} (use its owe_* functions): {writers}"
    )
    assert OUTBOX_WRITE.search((ROOT / OUTBOX_OWNER).read_text(encoding="utf-8"))


def test_no_shared_state_under_string_keys() -> None:
    assert STRING_KEYED.search('context.bot_data["storage"]')
    assert STRING_KEYED.search("app.bot_data.get('plan')")
    assert STRING_KEYED.search("record.extra['chat']")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources("bot", "handlers")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if STRING_KEYED.search(line)
    ]
    assert not found, f"use a typed field of BotData (bot/context.py): {found}"


# --- the import graph -----------------------------------------------------------------------


def module_names(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """``bot.app`` → ``bot/app.py``; a package is its ``__init__.py``."""
    names: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names[".".join(parts)] = path
    return names


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class Imports(ast.NodeVisitor):
    """The modules one file imports, at module level and inside functions alike; what an
    ``if TYPE_CHECKING:`` block imports is never run, so it does not count."""

    def __init__(self, module: str, is_package: bool, known: dict[str, Path]) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.known = known
        self.found: set[str] = set()

    def add(self, name: str) -> None:
        """The longest known module that ``name`` is or lies in (``bot.i18n.t`` → ``bot.i18n``)."""
        while name not in self.known and "." in name:
            name = name.rpartition(".")[0]
        if name in self.known:
            self.found.add(name)

    def visit_If(self, node: ast.If) -> None:
        if is_type_checking(node.test):
            for statement in node.orelse:
                self.visit(statement)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            origin = f"{base}.{node.module}" if node.module else base
        else:
            origin = node.module or ""
        for alias in node.names:
            # `from storage import outbox` imports the module storage.outbox.
            submodule = f"{origin}.{alias.name}"
            self.add(submodule if submodule in self.known else origin)


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Each module of ``packages`` → the modules of ``packages`` it imports.

    Importing ``storage.db`` also runs ``storage/__init__.py``; that implicit edge to a parent
    package is not counted (a package re-exporting its modules would otherwise be a cycle)."""
    known = module_names(root, packages)
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        visitor = Imports(module, path.name == "__init__.py", known)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        graph[module] = visitor.found - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the path ``a → b → … → a``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (cycle := visit(imported)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_import_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "from pkg import a\n",
        "pkg/a.py": "from pkg.b import thing\n",
        "pkg/b.py": "def f():\n    from . import c\n",
        "pkg/c.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    import pkg.a\nelse:\n    import pkg.d\n"
        ),
        "pkg/d.py": "import pkg.a as again\n",
        "pkg/sub/__init__.py": "from .. import d\nfrom .leaf import x\n",
        "pkg/sub/leaf.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path, ("pkg",))
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.c"},
        "pkg.c": {"pkg.d"},
        "pkg.d": {"pkg.a"},
        "pkg.sub": {"pkg.d", "pkg.sub.leaf"},
        "pkg.sub.leaf": set(),
    }
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.a"]
    assert find_cycle({**graph, "pkg.d": set()}) is None


def test_no_import_cycle_between_bot_handlers_and_storage() -> None:
    graph = import_graph(ROOT, PACKAGES)
    assert "bot.app" in graph and "handlers.tasks" in graph["bot.registry"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


# --- the README's layout ----------------------------------------------------------------------

NAMED = re.compile(r"`([^`\s]+)`")
PLACED = ("bot", "handlers", "storage", "bench", "tests")
"""Folders whose every module (and sub-package) the layout table must name."""


def layout_table(text: str) -> list[tuple[str, str]]:
    """The rows of the table under ``## Layout``: (folder, what is in it)."""
    lines = text.split("\n## Layout\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| folder |"))
    rows = []
    for line in itertools.takewhile(lambda x: x.startswith("|"), lines[start + 2 :]):
        folder, what = (cell.strip() for cell in line.strip().strip("|").split(" | ", 1))
        rows.append((folder.strip("`"), what))
    return rows


def named_paths(rows: list[tuple[str, str]]) -> set[str]:
    """Every module (``x.py``), file or folder (``x/``) a row names, as a path from the root."""
    paths = set()
    for folder, what in rows:
        for name in NAMED.findall(what):
            if name.endswith(("/", ".py")) or name == "run":
                paths.add(folder + name)
    return paths


def tracked_files() -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"not a git checkout: {done.stderr.strip()}")
    return done.stdout.splitlines()


def test_the_layout_table_names_exactly_the_tree() -> None:
    rows = layout_table((ROOT / "README.md").read_text(encoding="utf-8"))
    files = tracked_files()
    folders = {f"{path.split('/')[0]}/" for path in files if "/" in path}
    assert {folder for folder, _ in rows} == folders, (
        "a top-level folder without a row, or a row without its folder"
    )
    named = named_paths(rows)
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"the README's layout names what is not there: {missing}"
    expected = set()
    for path in files:
        parts = path.split("/")
        if parts[0] in PLACED and len(parts) == 2 and parts[1].endswith(".py"):
            expected.add(path)
        elif parts[0] in PLACED and len(parts) > 2:
            expected.add(f"{parts[0]}/{parts[1]}/")  # a sub-package is named as a folder
    expected -= {f"{top}/__init__.py" for top in PLACED} | {"bench/__main__.py"}
    expected -= {path for path in expected if path.startswith("tests/test_")}
    expected -= {"tests/conftest.py"}
    unnamed = sorted(expected - named)
    assert not unnamed, f"modules the README's layout does not place: {unnamed}"


def test_the_layout_check_sees_a_module_left_out() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = layout_table(text.replace("`registry.py` (the one table of commands) and ", ""))
    assert "bot/registry.py" not in named_paths(rows)
    assert "bot/commands.py" in named_paths(rows)
    assert "data/" in {folder for folder, _ in rows} and "storage/outbox.py" in named_paths(rows)
