"""Loading ``tasks.json``: a broken file fails at start, naming the field that is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.plan import PlanFileError, load_plan
from tests.conftest import DATA


def broken_copy(tmp_path: Path, damage) -> Path:
    data = json.loads((DATA / "tasks.json").read_text(encoding="utf-8"))
    damage(data)
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(PlanFileError) as info:
        load_plan(path)
    return str(info.value)


def test_loads_the_committed_file() -> None:
    plan = load_plan(DATA / "tasks.json")
    assert len(plan.tasks) == 110
    assert plan.task(1) is plan.task_by_number[1]
    assert plan.task(111) is None


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (
            lambda d: d["tasks"][3].update(lead="Nobody"),
            "tasks.3.lead: String should match pattern",
        ),
        (lambda d: d["tasks"][3].update(lead="xyz"), "unknown department 'xyz'"),
        (lambda d: d["tasks"][5].pop("text"), "tasks.5.text: Field required"),
        (
            lambda d: d["tasks"][0].update(number=0),
            "tasks.0.number: Input should be greater than or equal to 1",
        ),
        (lambda d: d["tasks"].pop(10), "numbers must run 1..N"),
        (lambda d: d["tasks"][7].update(section=9), "task 8): unknown section 9"),
        (lambda d: d["tasks"][0].update(participants=["cnipa"]), "lead 'cnipa' is also listed"),
        (lambda d: d.update(year="soon"), "year: Input should be a valid integer"),
        (lambda d: d["departments"][0].update(colour="red"), "departments.0.colour: Extra inputs"),
    ],
)
def test_broken_field_is_named(tmp_path: Path, damage, expected: str) -> None:
    message = load_error(broken_copy(tmp_path, damage))
    assert message.startswith(str(tmp_path / "tasks.json"))
    assert expected in message


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    assert "cannot read tasks file" in load_error(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert "Invalid JSON" in load_error(bad)


def test_tasks_of_lists_led_tasks_first(plan) -> None:
    tasks = plan.tasks_of("cnipa")
    assert len(tasks) == 48
    assert all(t.lead == "cnipa" for t in tasks[:23])
    assert all(t.lead != "cnipa" for t in tasks[23:])
    assert [t.number for t in tasks[:3]] == [1, 10, 13]
