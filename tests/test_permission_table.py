"""The README's permission table is the rule: `decide` is checked against every one of its cells,
for every role, in private chats and in groups bound to nothing, to D, elsewhere and to all."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bot.i18n import CATALOGUE
from bot.permissions import Action, Actor, Decision, decide
from bot.plan import Plan, Task
from storage.people import WHOLE_PLAN, Chat, Role
from tests.conftest import ROOT

D, OTHER, TARGET = "cnipa", "cpd", "mof"
"""The department concerned, another department, and where a rebind goes."""

ROLES = ("admin", "manager of D", "member of D", "member of another department", "anyone")
BINDINGS = {"none": None, "D": D, "another department": OTHER, "all": WHOLE_PLAN}
KINDS = ("private", "group")


def readme_table() -> dict[str, dict[str, str]]:
    """The table whose header starts ``| action |``: action → column → cell."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| action |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows: dict[str, dict[str, str]] = {}
    for line in itertools.takewhile(lambda x: x.startswith("|"), lines[start + 2 :]):
        cells = [cell.strip().strip("`*") for cell in line.strip().strip("|").split("|")]
        assert len(cells) == len(header), f"a README row has the wrong number of cells: {line}"
        row = dict(zip(header, cells, strict=True))
        assert row["action"] not in rows, f"action {row['action']!r} has two rows"
        rows[row["action"]] = row
    return rows


WHERE: dict[str, Callable[[str], bool]] = {
    "any chat": lambda kind: True,
    "groups": lambda kind: kind == "group",
    "private chats": lambda kind: kind == "private",
}
CELLS: dict[str, Callable[[str, str], bool]] = {
    "✓": lambda kind, binding: True,
    "—": lambda kind, binding: False,
    "unless bound elsewhere": lambda kind, binding: binding in ("none", "D"),
    "if bound to D": lambda kind, binding: kind == "group" and binding == "D",
    "private": lambda kind, binding: kind == "private",
    "private, or if bound to D": lambda kind, binding: kind == "private" or binding == "D",
    "if bound to all": lambda kind, binding: kind == "group" and binding == "all",
}


def actor(role: str, extra: dict[str, Role] | None = None) -> Actor:
    roles = {
        "admin": {},
        "manager of D": {D: Role.MANAGER},
        "member of D": {D: Role.MEMBER},
        "member of another department": {OTHER: Role.MEMBER},
        "anyone": {},
    }[role]
    return Actor(user_id=7, is_admin=role == "admin", roles=roles | (extra or {}))


def chat(kind: str, binding: str) -> Chat:
    chat_id = 7 if kind == "private" else -100
    return Chat(chat_id, kind, "", None, BINDINGS[binding], True)


def task_where(plan: Plan, wanted: Callable[[Task], bool]) -> Task:
    return next(task for task in plan.tasks if wanted(task) and OTHER not in task.departments)


@dataclass(frozen=True)
class Scenario:
    """How a README row is asked of `decide`: one or more calls that must all agree."""

    action: Action
    calls: Callable[[Plan, str, Chat], list[Decision]]


def ask(action: Action, **kwargs: object) -> Callable[[Plan, str, Chat], list[Decision]]:
    return lambda plan, role, where: [decide(actor(role), action, chat=where, **kwargs)]  # type: ignore[arg-type]


def on_tasks(
    action: Action, *, closed: bool = False
) -> Callable[[Plan, str, Chat], list[Decision]]:
    """D leads the task, and (for notes) D takes part in it; the other department is not named.
    ``closed``: the office has closed the task."""

    def calls(plan: Plan, role: str, where: Chat) -> list[Decision]:
        tasks = [task_where(plan, lambda task: task.lead == D)]
        if action is Action.ADD_NOTE:
            tasks.append(task_where(plan, lambda task: D in task.participants))
        return [decide(actor(role), action, task=task, chat=where, closed=closed) for task in tasks]

    return calls


def rebind(plan: Plan, role: str, where: Chat) -> list[Decision]:
    extra = {TARGET: Role.MANAGER} if role == "manager of D" else None
    return [decide(actor(role, extra), Action.BIND, dept=TARGET, chat=where)]


def invites(plan: Plan, role: str, where: Chat) -> list[Decision]:
    """D's links, and (``/invites`` alone) those of whichever department the person manages."""
    return [decide(actor(role), Action.MANAGE_INVITES, dept=dept, chat=where) for dept in (D, None)]


def statements(plan: Plan, role: str, where: Chat) -> list[Decision]:
    """A task D leads and one it takes part in; D named, and (``/submit`` alone) not."""
    tasks = [
        task_where(plan, lambda task: task.lead == D),
        task_where(plan, lambda task: D in task.participants),
    ]
    return [
        decide(actor(role), Action.SUBMIT_STATEMENT, task=task, dept=dept, chat=where)
        for task in tasks
        for dept in (D, None)
    ]


SCENARIOS: dict[str, Scenario] = {
    "change status": Scenario(Action.CHANGE_STATUS, on_tasks(Action.CHANGE_STATUS)),
    "add note": Scenario(Action.ADD_NOTE, on_tasks(Action.ADD_NOTE)),
    "invite member": Scenario(Action.INVITE, ask(Action.INVITE, dept=D)),
    "invite manager": Scenario(Action.INVITE, ask(Action.INVITE, dept=D, manager_invite=True)),
    "bind": Scenario(Action.BIND, ask(Action.BIND, dept=D)),
    "rebind": Scenario(Action.BIND, rebind),
    "bind to all": Scenario(Action.BIND, ask(Action.BIND, dept=WHOLE_PLAN)),
    "unbind": Scenario(Action.UNBIND, ask(Action.UNBIND)),
    "chat settings": Scenario(Action.CHAT_SETTINGS, ask(Action.CHAT_SETTINGS)),
    "export": Scenario(Action.EXPORT, ask(Action.EXPORT)),
    "list members": Scenario(Action.LIST_MEMBERS, ask(Action.LIST_MEMBERS, dept=D)),
    "remove member": Scenario(Action.REMOVE_MEMBER, ask(Action.REMOVE_MEMBER, dept=D)),
    "remove manager": Scenario(Action.REMOVE_MANAGER, ask(Action.REMOVE_MANAGER, dept=D)),
    "leave": Scenario(Action.LEAVE, ask(Action.LEAVE, dept=D)),
    "list/revoke invites": Scenario(Action.MANAGE_INVITES, invites),
    "list/revoke manager invites": Scenario(
        Action.MANAGE_INVITES, ask(Action.MANAGE_INVITES, dept=D, manager_invite=True)
    ),
    "open, close or export a round": Scenario(Action.MANAGE_ROUND, ask(Action.MANAGE_ROUND)),
    "submit a statement": Scenario(Action.SUBMIT_STATEMENT, statements),
    "see a department's round list": Scenario(Action.VIEW_ROUND, ask(Action.VIEW_ROUND, dept=D)),
    "see the office's round summary": Scenario(
        Action.VIEW_ROUND, ask(Action.VIEW_ROUND, dept=WHOLE_PLAN)
    ),
    "change a closed task's status": Scenario(
        Action.CHANGE_STATUS, on_tasks(Action.CHANGE_STATUS, closed=True)
    ),
    "set due dates": Scenario(Action.SET_DUE, ask(Action.SET_DUE)),
    "close tasks": Scenario(Action.CLOSE_TASK, ask(Action.CLOSE_TASK)),
    "see a department's scorecard row": Scenario(
        Action.SEE_SCORECARD, ask(Action.SEE_SCORECARD, dept=D)
    ),
    "see every department's scorecard": Scenario(
        Action.SEE_SCORECARD, ask(Action.SEE_SCORECARD, dept=WHOLE_PLAN)
    ),
}

TABLE = readme_table()


def test_the_table_and_the_scenarios_cover_the_same_actions() -> None:
    assert set(TABLE) == set(SCENARIOS), "a README row without a scenario, or the reverse"
    assert {s.action for s in SCENARIOS.values()} == set(Action), "an action missing in README"
    for name, row in TABLE.items():
        assert row["where"] in WHERE, f"{name}: unknown where {row['where']!r}"
        for role in ROLES:
            assert row[role] in CELLS, f"{name}, {role}: unknown cell {row[role]!r}"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("role", ROLES)
def test_decide_follows_the_readme(plan: Plan, name: str, role: str) -> None:
    row, scenario = TABLE[name], SCENARIOS[name]
    for kind, binding in itertools.product(KINDS, BINDINGS):
        expected = WHERE[row["where"]](kind) and CELLS[row[role]](kind, binding)
        for decision in scenario.calls(plan, role, chat(kind, binding)):
            where = f"{name} by {role} in a {kind} chat bound to {binding}"
            assert decision.allowed is expected, f"{where}: expected {expected}, {decision}"
            if not decision.allowed:
                reason = CATALOGUE["zh"].get(decision.reason)
                assert reason, f"{where}: no reason to show"
                assert "{dept}" not in reason or decision.dept is not None, where
