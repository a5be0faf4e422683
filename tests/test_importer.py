"""The plan importer: the committed tasks file, the repairs it makes, and what it refuses."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from bot.importer import PlanImportError, import_plan, normalise_punctuation
from bot.plan import Department, Plan
from tests.conftest import DATA, ROOT


@pytest.fixture(scope="module")
def source() -> str:
    return (DATA / "plan-2024.txt").read_text(encoding="utf-8")


def test_committed_tasks_file_equals_a_fresh_import(source: str, departments) -> None:
    fresh = import_plan(source, departments).plan.to_json()
    assert (DATA / "tasks.json").read_text(encoding="utf-8") == fresh


def test_plan_shape(plan: Plan) -> None:
    assert plan.title == "2024 年知识产权强国建设推进计划"
    assert plan.year == 2024
    assert [t.number for t in plan.tasks] == list(range(1, 111))
    assert [s.title for s in plan.sections] == [
        "完善知识产权制度",
        "强化知识产权保护",
        "完善知识产权市场运行机制",
        "提高知识产权公共服务水平",
        "营造良好的知识产权人文社会环境",
        "深度参与全球知识产权治理",
        "加强组织保障",
    ]
    assert [len(s.subsections) for s in plan.sections] == [3, 3, 3, 2, 2, 0, 0]
    assert plan.section(2).subsections[2].title == "健全知识产权协同保护格局"
    first_of_section = {t.section: t.number for t in reversed(plan.tasks)}
    assert first_of_section == {1: 1, 2: 22, 3: 54, 4: 78, 5: 87, 6: 95, 7: 105}
    assert (plan.task(44).section, plan.task(44).subsection) == (2, 3)
    assert plan.task(95).subsection is None
    assert plan.note.startswith("上述各项任务分工中")


def test_departments_and_owners(plan: Plan) -> None:
    assert len(plan.departments) == 43
    assert all(t.lead and t.lead not in t.participants for t in plan.tasks)
    named = Counter(code for t in plan.tasks for code in t.departments)
    led = Counter(t.lead for t in plan.tasks)
    assert (named["cnipa"], led["cnipa"]) == (48, 23)
    assert (named["cpd"], led["cpd"]) == (29, 23)
    assert led["jco"] == 5
    assert set(named) == {d.code for d in plan.departments}, "every registered department is named"
    assert sum(led.values()) == 110


@pytest.mark.parametrize(
    ("number", "lead", "participants", "by_duty", "and_others"),
    [
        (1, "cnipa", (), False, False),
        (4, "mara", ("nfga",), False, False),
        (9, "mof", ("cnipa", "cpd"), False, True),
        (16, "mara", ("nfga",), True, False),
        (
            45,
            "cpd",
            ("spc", "spp", "mps", "mara", "mct", "gacc", "samr", "cnipa", "nfga"),
            True,
            False,
        ),
        (53, "cpd", ("most", "mara", "mofcom", "cnipa", "nfga"), True, False),
        (58, "most", ("cnipa", "cas"), True, False),
        (105, "jco", ("members",), False, False),
        (108, "mof", ("sta",), True, False),
    ],
)
def test_owner_lines(plan: Plan, number, lead, participants, by_duty, and_others) -> None:
    task = plan.task(number)
    assert task is not None
    assert (task.lead, task.participants, task.by_duty, task.and_others) == (
        lead,
        participants,
        by_duty,
        and_others,
    )


@pytest.mark.parametrize(
    ("number", "expected_text"),
    [
        # a department name split over a page break, in mixed-width parentheses
        (5, "研究起草生物遗传资源获取和惠益分享管理条例。"),
        # the owner line in a paragraph of its own
        (14, "修订《国家自然科学基金资助项目研究成果管理办法》。"),
        (71, "稳步推进中国科学院院属单位开展知识产权贯标工作。"),
        # a word split over a page break
        (
            31,
            "组织开展“昆仑 2024”专项行动，依法严厉打击各类侵犯知识产权犯罪，强化对重点领域的打击整治，挂牌督办一批重特大案件。",
        ),
        (
            109,
            "按照国家有关规定，对在知识产权强国建设方面作出突出贡献的先进集体和个人给予表彰奖励。",
        ),
        # a character printed on both sides of a page break
        (
            64,
            "深入开展科技成果评价改革试点和赋予科研人员职务科技成果所有权或长期使用权试点。推进实施科技成果转化年度报告制度。",
        ),
        # the traditional 見
        (47, "研究制定《关于强化版权协同保护的意见》。"),
        # half-width parentheses and commas written full-width
        (15, "更新发布《中国生物多样性保护战略与行动计划（2023—2030年）》。"),
        (16, "加快推动实质性派生品种制度实施，做好制度实施相关准备工作。"),
    ],
)
def test_repaired_tasks(plan: Plan, number: int, expected_text: str) -> None:
    assert plan.task(number).text == expected_text


def test_no_artefacts_left(plan: Plan) -> None:
    for task in plan.tasks:
        assert "見" not in task.text
        assert not any(c in task.text for c in "(),"), task.number
        assert "负责" not in task.text[-6:], f"owner line left in task {task.number}"
    assert "科科" not in plan.task(64).text
    assert "国家知识产权局" not in plan.task(45).text  # the split name went to the owners


def test_repairs_are_reported_with_lines(source: str, departments) -> None:
    repairs = import_plan(source, departments).repairs
    assert "line 171: removed '科' printed on both sides of a page break" in repairs
    assert "line 43: owner line of task 14 joined to its text" in repairs
    assert "line 21: task 5 continued across a page break" in repairs
    assert sum("traditional 見" in r for r in repairs) == 3
    lines = [int(r.split()[1].rstrip(":")) for r in repairs]
    assert lines == sorted(lines)


def damaged(source: str, old: str, new: str) -> str:
    assert old in source, "the damage must apply to the real text"
    return source.replace(old, new, 1)


def problems_of(text: str, departments) -> list[str]:
    with pytest.raises(PlanImportError) as info:
        import_plan(text, departments)
    return info.value.problems


def test_removed_owner_line_is_reported_with_its_line(source: str, departments) -> None:
    text = damaged(source, "（市场监管总局负责）\n\n4.", "\n\n4.")
    assert problems_of(text, departments) == [
        "line 15: task 3 has no owner line (a closing （…负责） naming the departments)"
    ]


def test_unknown_department_is_reported_not_guessed(source: str, departments) -> None:
    text = damaged(source, "（海关总署负责）\n\n42.", "（海关总局负责）\n\n42.")
    problems = problems_of(text, departments)
    assert problems == [
        "line 109: task 41 names an unknown department '海关总局'; "
        "add it (or an alias) to the department registry"
    ]


def test_missing_task_number_is_reported(source: str, departments) -> None:
    start = source.index("\n\n12. ")
    end = source.index("\n\n13. ")
    text = source[:start] + source[end:]
    assert problems_of(text, departments) == ["line 37: task 12 missing before task 13"]


def test_stray_paragraph_between_tasks_is_refused(source: str, departments) -> None:
    text = damaged(source, "\n\n11. ", "\n\n某段无法归属的文字。\n\n11. ")
    assert problems_of(text, departments) == [
        "line 35: cannot place this paragraph: '某段无法归属的文字。'"
    ]


def test_every_problem_is_listed_at_once(source: str, departments) -> None:
    text = damaged(source, "（市场监管总局负责）\n\n4.", "\n\n4.")
    text = damaged(text, "（海关总署负责）\n\n42.", "（海关总局负责）\n\n42.")
    assert len(problems_of(text, departments)) == 2


NEXT_YEAR = """
2025 年知识产权强国建设推进计划

为落实《纲要》，制定本计划。

一、完善知识产权制度

(一) 完善法律法规

1. 推进《专利法》配套规章修改。(国家知识产权局负责)

2. 研究制定数据知识产权规则,开展试点。(国家知识产权局、中央宣传部、工业和信息化部等部门负责)

二、加强组织保障

3. 编制年度报告。

（联席会议办公室负责）
"""


def test_next_years_plan_of_the_same_format(departments) -> None:
    plan = import_plan(NEXT_YEAR, departments).plan
    assert (plan.year, len(plan.tasks), len(plan.sections)) == (2025, 3, 2)
    second = plan.task(2)
    assert second.text == "研究制定数据知识产权规则，开展试点。"
    assert (second.lead, second.participants, second.and_others) == ("cnipa", ("cpd", "miit"), True)
    assert (plan.task(3).section, plan.task(3).subsection, plan.task(3).lead) == (2, None, "jco")


def test_punctuation_keeps_numbers_and_latin() -> None:
    assert normalise_punctuation("共1,000件,其中(AI)") == "共1,000件，其中（AI）"
    assert normalise_punctuation("see a, b") == "see a, b"


def test_cli_reports_problems_and_writes_nothing(tmp_path, source: str) -> None:
    broken = tmp_path / "plan.txt"
    broken.write_text(damaged(source, "（市场监管总局负责）\n\n4.", "\n\n4."), encoding="utf-8")
    out = tmp_path / "tasks.json"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "import-plan", str(broken), "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "line 15: task 3 has no owner line" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_writes_the_tasks_file(tmp_path) -> None:
    out = tmp_path / "tasks.json"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "import-plan", str(DATA / "plan-2024.txt"), "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote" in result.stdout and "110 tasks, 7 sections, 43 departments" in result.stdout
    assert out.read_text(encoding="utf-8") == (DATA / "tasks.json").read_text(encoding="utf-8")


def test_group_department_is_marked(plan: Plan) -> None:
    members: Department = plan.department("members")
    assert members.group and not plan.department("jco").group
