"""The plan as the bot knows it: pydantic models of ``data/tasks.json`` and its loader.

The file is produced by the importer (``python -m bot import-plan``), never by hand; these
models make a broken file fail at start with the exact field that is wrong.
"""

from __future__ import annotations

import json
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

DeptCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,15}$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Department(_Frozen):
    """A department as the registry names it; ``group`` marks a collective (all member units)."""

    code: DeptCode
    name: NonEmpty
    full: NonEmpty
    en: NonEmpty
    aliases: tuple[NonEmpty, ...] = ()
    group: bool = False

    def display(self, language: str) -> str:
        return self.en if language == "en" else self.name


class Subsection(_Frozen):
    number: int = Field(ge=1)
    title: NonEmpty


class Section(_Frozen):
    number: int = Field(ge=1)
    numeral: NonEmpty
    title: NonEmpty
    subsections: tuple[Subsection, ...] = ()

    @model_validator(mode="after")
    def _subsections_numbered(self) -> Self:
        numbers = [s.number for s in self.subsections]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"subsections must be numbered 1..{len(numbers)}, got {numbers}")
        return self


class Task(_Frozen):
    number: int = Field(ge=1)
    section: int = Field(ge=1)
    subsection: int | None = Field(default=None, ge=1)
    text: NonEmpty
    lead: DeptCode
    participants: tuple[DeptCode, ...] = ()
    by_duty: bool = False
    """The plan says 按职责分工负责: each department acts within its own remit."""
    and_others: bool = False
    """The department list ends in 等部门: others may join."""

    @property
    def departments(self) -> tuple[str, ...]:
        """Lead first, then participants in the plan's order."""
        return (self.lead, *self.participants)

    @model_validator(mode="after")
    def _lead_not_participant(self) -> Self:
        if self.lead in self.participants:
            raise ValueError(f"lead {self.lead!r} is also listed as a participant")
        if len(set(self.participants)) != len(self.participants):
            raise ValueError("participants contain a duplicate")
        return self


class Plan(_Frozen):
    title: NonEmpty
    year: int = Field(ge=2000, le=2100)
    preamble: str = ""
    note: str = ""
    sections: tuple[Section, ...]
    departments: tuple[Department, ...]
    tasks: tuple[Task, ...]

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        codes = [d.code for d in self.departments]
        if len(set(codes)) != len(codes):
            raise ValueError("departments: duplicate code")
        numbers = [t.number for t in self.tasks]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("tasks: numbers must run 1..N in order without gaps")
        sections = {s.number: s for s in self.sections}
        known = set(codes)
        for i, task in enumerate(self.tasks):
            where = f"tasks.{i} (task {task.number})"
            section = sections.get(task.section)
            if section is None:
                raise ValueError(f"{where}: unknown section {task.section}")
            if task.subsection is not None and task.subsection > len(section.subsections):
                raise ValueError(
                    f"{where}: section {task.section} has no subsection {task.subsection}"
                )
            for code in task.departments:
                if code not in known:
                    raise ValueError(f"{where}: unknown department {code!r}")
        return self

    @cached_property
    def task_by_number(self) -> dict[int, Task]:
        return {t.number: t for t in self.tasks}

    @cached_property
    def department_by_code(self) -> dict[str, Department]:
        return {d.code: d for d in self.departments}

    def task(self, number: int) -> Task | None:
        return self.task_by_number.get(number)

    def department(self, code: str) -> Department:
        return self.department_by_code[code]

    def section(self, number: int) -> Section:
        return next(s for s in self.sections if s.number == number)

    def tasks_of(self, code: str, *, lead_only: bool = False) -> list[Task]:
        """Tasks naming the department, led ones first, each group in plan order."""
        led, named = self._tasks_by_department.get(code, ((), ()))
        return list(led if lead_only else named)

    @cached_property
    def named_departments(self) -> frozenset[str]:
        """The departments some task names, as lead or taking part (the scorecard's rows)."""
        return frozenset(code for code, (_, named) in self._tasks_by_department.items() if named)

    @cached_property
    def _tasks_by_department(self) -> dict[str, tuple[tuple[Task, ...], tuple[Task, ...]]]:
        """Each department's led tasks and all its tasks, worked out once: /mytasks and the
        digest ask on every call, and a scan of a large plan costs milliseconds each time."""
        led: dict[str, list[Task]] = {d.code: [] for d in self.departments}
        taking_part: dict[str, list[Task]] = {d.code: [] for d in self.departments}
        for task in self.tasks:
            led.setdefault(task.lead, []).append(task)
            for code in task.participants:
                taking_part.setdefault(code, []).append(task)
        return {
            code: (tuple(tasks), tuple(tasks + taking_part.get(code, [])))
            for code, tasks in led.items()
        } | {code: ((), tuple(tasks)) for code, tasks in taking_part.items() if code not in led}

    def to_json(self) -> str:
        """The canonical text of ``tasks.json``: stable key order, readable Chinese, newline at end."""
        data = self.model_dump(
            mode="json",
            exclude={"task_by_number", "department_by_code", "_tasks_by_department"},
        )
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


DATA_PACKAGE = "bot.data"
"""The repository's ``data/``, installed with the bot under this name (see pyproject.toml)."""
PLAN_FILE = "tasks.json"
REGISTRY_FILE = "departments.json"


def data_file(name: str) -> Path:
    """A file of ``data/`` as installed with the bot, so that an installed bot runs from any
    folder; an editable install (``make install``) and a plain checkout give the checkout's own."""
    try:
        return Path(str(files(DATA_PACKAGE).joinpath(name)))
    except ModuleNotFoundError:  # run from a checkout that was never installed
        return Path(__file__).resolve().parent.parent / "data" / name


class PlanFileError(Exception):
    """The tasks file cannot be used; the message names the file and the field."""


def load_plan(path: Path) -> Plan:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"cannot read tasks file {path}: {exc.strerror or exc}") from exc
    try:
        return Plan.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PlanFileError(f"{path}: {field}: {first['msg']}{more}") from exc


class DepartmentRegistry(BaseModel):
    """The registry file (``data/departments.json``): every department a plan may name."""

    model_config = ConfigDict(extra="ignore")

    departments: tuple[Department, ...]


def load_departments(path: Path) -> tuple[Department, ...]:
    try:
        return DepartmentRegistry.model_validate_json(path.read_text(encoding="utf-8")).departments
    except OSError as exc:
        raise PlanFileError(
            f"cannot read department registry {path}: {exc.strerror or exc}"
        ) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise PlanFileError(f"{path}: {field}: {first['msg']}") from exc
