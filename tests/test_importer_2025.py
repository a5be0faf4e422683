"""The importer on a second year: a 2025 plan in the 2024 layout, with other tasks, other owners,
a department new to the registry and the same kinds of page-break artefacts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.importer import ImportResult, PlanImportError, import_plan
from bot.plan import Department, Plan, load_departments, load_plan
from tests.conftest import DATA, ROOT

TEST_DATA = ROOT / "tests" / "data"
SOURCE = TEST_DATA / "plan-2025.txt"
REGISTRY = TEST_DATA / "departments-2025.json"
TASKS = TEST_DATA / "tasks-2025.json"


@pytest.fixture(scope="module")
def source() -> str:
    return SOURCE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def registry() -> tuple[Department, ...]:
    return load_departments(REGISTRY)


@pytest.fixture(scope="module")
def result(source: str, registry: tuple[Department, ...]) -> ImportResult:
    return import_plan(source, registry)


@pytest.fixture(scope="module")
def plan(result: ImportResult) -> Plan:
    return result.plan


def test_committed_tasks_file_equals_a_fresh_import(plan: Plan) -> None:
    assert TASKS.read_text(encoding="utf-8") == plan.to_json()


def test_the_registry_is_2024s_plus_the_new_department(registry, departments) -> None:
    assert registry[: len(departments) - 2] == departments[:-2]
    assert registry[-2:] == departments[-2:]  # the joint conference's two entries stay last
    added = [d for d in registry if d not in departments]
    assert [(d.code, d.name, d.en) for d in added] == [
        ("nda", "国家数据局", "National Data Administration")
    ]


def test_plan_shape(plan: Plan) -> None:
    assert plan.title == "2025 年知识产权强国建设推进计划"
    assert plan.year == 2025
    assert plan.preamble.endswith("明确 2025 年度重点任务和工作措施，制定本计划。")
    assert [t.number for t in plan.tasks] == list(range(1, 76))
    assert [s.title for s in plan.sections] == [
        "完善知识产权制度",
        "强化知识产权保护",
        "完善知识产权市场运行机制",
        "提高知识产权公共服务水平",
        "营造良好的知识产权人文社会环境",
        "深度参与全球知识产权治理",
        "加强组织保障",
    ]
    assert [len(s.subsections) for s in plan.sections] == [3, 3, 3, 3, 2, 0, 0]
    assert plan.section(4).subsections[1].title == "推进知识产权数据资源开发利用"
    first_of_section = {t.section: t.number for t in reversed(plan.tasks)}
    assert first_of_section == {1: 1, 2: 16, 3: 37, 4: 52, 5: 59, 6: 65, 7: 72}
    assert (plan.task(55).section, plan.task(55).subsection) == (4, 2)
    assert plan.task(65).subsection is None
    assert (
        plan.note
        == "上述各项任务分工中，由多个部门负责的，列第一位的部门为牵头部门，其他为参与部门。"
    )
    assert len(plan.departments) == 44


def test_the_new_department_leads_and_takes_part(plan: Plan) -> None:
    assert plan.department("nda").en == "National Data Administration"
    assert [t.number for t in plan.tasks_of("nda", lead_only=True)] == [11, 46]
    assert [t.number for t in plan.tasks_of("nda")] == [11, 46, 12]


@pytest.mark.parametrize(
    ("number", "lead", "participants", "by_duty", "and_others"),
    [
        (1, "cnipa", (), False, False),
        (2, "cpd", ("moj",), False, False),
        # the new department, its name cut by a page break
        (11, "nda", (), False, False),
        (12, "cnipa", ("nda", "cpd"), True, False),
        # the new department leading, on an owner line in a paragraph of its own
        (46, "nda", ("cnipa", "mof"), True, False),
        (9, "cnipa", ("ndrc", "most", "miit"), False, True),
        (36, "most", ("mofcom", "cnipa"), True, True),
        (32, "spc", ("spp", "mps", "samr", "cnipa"), True, False),
        (43, "nbs", ("cnipa", "cpd"), False, False),
        (59, "cpd", ("cnipa", "mfa", "nrta"), True, False),
        (72, "jco", ("members",), False, False),
        (74, "sta", ("mof",), True, False),
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
        (
            1,
            "配合做好《中华人民共和国商标法》修订草案审议工作。推进《专利代理条例》修改。完成《集成电路布图设计保护条例》修订草案起草。",
        ),
        # a page break between two titles: no space comes between 》 and 《
        (
            2,
            "推进《中华人民共和国著作权法实施条例》《著作权集体管理条例》修改。推动《民间文学艺术作品著作权保护条例》出台。",
        ),
        # the new department's name cut by a page break
        (
            11,
            "研究构建数据产权制度，推动出台数据产权登记相关规则，探索数据资源持有权、数据加工使用权、数据产品经营权分置运行机制。",
        ),
        # a word cut by a page break
        (
            20,
            "组织开展“昆仑 2025”专项行动，严厉打击侵犯知识产权犯罪，依法严惩侵犯商业秘密、制售假冒伪劣商品等违法犯罪活动。",
        ),
        # a page break after 、 and before “: no space between them
        (
            23,
            "组织开展打击网络侵权盗版“剑网 2025”专项行动、“青少年版权保护季”行动和院线电影盗录传播专项整治，强化短视频、网络直播、体育赛事转播等领域版权监管。",
        ),
        # a character printed on both sides of a page break
        (42, "深入实施专利转化运用专项行动，推进高校和科研机构存量专利盘活，推动专利产业化。"),
        # the owner line in a paragraph of its own
        (46, "推动公共数据资源开发利用，探索数据资产登记、评估和交易中的知识产权保护规则。"),
        (64, "推进知识产权强省、强市、强县建设，开展知识产权强国建设示范工作。"),
        # the traditional 見 and 據
        (19, "联合出台《关于办理侵犯知识产权刑事案件若干问题的意见》。"),
        (55, "扩大知识产权基础数据开放范围，推动专利、商标、地理标志数据规范化供给。"),
        # half-width commas, semicolon and parentheses written full-width; numbers keep spaces
        (
            37,
            "持续提升专利商标审查质量和效率，发明专利平均审查周期稳定在 15 个月左右；商标注册平均审查周期稳定在 4 个月以内。",
        ),
        (51, "推动全国版权交易中心（贸易基地）规范化建设，促进版权授权交易规范发展。"),
    ],
)
def test_repaired_tasks(plan: Plan, number: int, expected_text: str) -> None:
    assert plan.task(number).text == expected_text


def test_no_artefacts_left(plan: Plan) -> None:
    for task in plan.tasks:
        assert not any(c in task.text for c in "見據"), task.number
        assert not any(c in task.text for c in "(),;"), task.number
        assert "负责" not in task.text[-6:], f"owner line left in task {task.number}"
        spaced = [
            task.text[i - 1 : i + 2]
            for i, c in enumerate(task.text)
            if c == " " and not (task.text[i - 1].isascii() or task.text[i + 1].isascii())
        ]
        assert not spaced, f"task {task.number}: a space between Chinese characters: {spaced}"
    assert "专专" not in plan.task(42).text
    assert "国家数据局" not in plan.task(11).text  # the split name went to the owners


def test_repairs_are_reported_with_lines(result: ImportResult) -> None:
    assert result.repairs == [
        "line 15: task 2 continued across a page break",
        "line 39: task 11 continued across a page break",
        "line 55: traditional 見 written simplified",
        "line 59: traditional 見 written simplified",
        "line 63: task 20 continued across a page break",
        "line 73: task 23 continued across a page break",
        "line 95: task 32 continued across a page break",
        "line 123: removed '专' printed on both sides of a page break",
        "line 123: task 42 continued across a page break",
        "line 133: owner line of task 46 joined to its text",
        "line 159: traditional 據 written simplified",
        "line 175: removed '电' printed on both sides of a page break",
        "line 175: task 59 continued across a page break",
        "line 189: owner line of task 64 joined to its text",
    ]


def test_a_space_between_latin_words_cut_by_a_page_break_is_kept(source: str, registry) -> None:
    old = "积极参与世界知识产权组织框架下"
    assert old in source
    text = source.replace(
        old, "积极参与世界知识产权组织（World Intellectual\n\nProperty Organization）框架下"
    )
    plan = import_plan(text, registry).plan
    assert plan.task(65).text.startswith(
        "积极参与世界知识产权组织（World Intellectual Property Organization）框架下"
    )


UNKNOWN_DEPARTMENT = [
    "line 37: task 11 names an unknown department '国家数据局'; "
    "add it (or an alias) to the department registry",
    "line 41: task 12 names an unknown department '国家数据局'; "
    "add it (or an alias) to the department registry",
    "line 133: task 46 names an unknown department '国家数据局'; "
    "add it (or an alias) to the department registry",
]


def test_the_2024_registry_refuses_it_naming_the_new_department(source: str, departments) -> None:
    assert "国家数据局" not in {name for d in departments for name in (d.name, d.full, *d.aliases)}
    with pytest.raises(PlanImportError) as info:
        import_plan(source, departments)
    assert info.value.problems == UNKNOWN_DEPARTMENT


def run_import(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "import-plan", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_with_the_2024_registry_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "tasks-2025.json"
    result = run_import("tests/data/plan-2025.txt", "-o", out)  # the default registry: 2024's
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        *(f"tests/data/plan-2025.txt: {problem}" for problem in UNKNOWN_DEPARTMENT),
        "error: tests/data/plan-2025.txt: 3 problem(s); nothing written",
    ]
    assert not out.exists()


def test_cli_writes_a_tasks_file_the_bot_loads(tmp_path: Path) -> None:
    out = tmp_path / "tasks-2025.json"
    result = run_import(
        "tests/data/plan-2025.txt", "--departments", "tests/data/departments-2025.json", "-o", out
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {out}: 75 tasks, 7 sections, 44 departments, 14 repairs\n"
    assert "tests/data/plan-2025.txt: repaired: line 39: task 11 continued across a page break" in (
        result.stderr.splitlines()
    )
    loaded = load_plan(out)
    assert (loaded.year, len(loaded.tasks), loaded.task(11).lead) == (2025, 75, "nda")
    assert out.read_text(encoding="utf-8") == TASKS.read_text(encoding="utf-8")
    assert (DATA / "tasks.json").read_text(encoding="utf-8") != out.read_text(encoding="utf-8")
