"""A scope's task list is made once per plan and kept: a plan read anew is listed anew."""

from __future__ import annotations

from bot.plan import Plan
from handlers.tasks import MINE, _scope


def test_a_list_is_made_once_per_plan_and_language(plan: Plan) -> None:
    first = _scope(plan, MINE, ["cnipa", "cpd"], "zh")
    assert _scope(plan, MINE, ["cnipa", "cpd"], "zh") is first, "kept, not made again"
    assert [i.task.number for i in first.items] == [
        *[t.number for t in plan.tasks_of("cnipa")],
        *[
            t.number
            for t in plan.tasks_of("cpd")
            if t.number not in {x.number for x in plan.tasks_of("cnipa")}
        ],
    ]
    assert first.led == sum(1 for t in plan.tasks if t.lead in {"cnipa", "cpd"})
    english = _scope(plan, MINE, ["cnipa", "cpd"], "en")
    assert english.items[0].group != first.items[0].group, "headings in the asker's language"


def test_a_plan_read_anew_is_listed_anew(plan: Plan) -> None:
    kept = _scope(plan, "cnipa", [], "zh")
    data = plan.model_dump()
    tasks = list(data["tasks"])
    tasks[12] = tasks[12] | {"lead": "most", "participants": ("mof",)}  # 13 leaves cnipa
    data["tasks"] = tasks
    anew = _scope(Plan.model_validate(data), "cnipa", [], "zh")
    assert 13 in [i.task.number for i in kept.items]
    assert 13 not in [i.task.number for i in anew.items], "the kept list is not shown"
    assert len(anew.items) == len(kept.items) - 1
