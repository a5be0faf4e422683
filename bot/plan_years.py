"""Plan years: the plan in TASKS_FILE is the current one; the database keeps every earlier year.

At start :func:`reconcile` compares TASKS_FILE with the plans the database knows and decides:

- a year it has not seen, later than the current one: added as the current plan, the earlier
  years kept as they were, task subscriptions of earlier years ended (one log line says so);
- the current year with changed text (a corrected import): the history stays by task number and
  the log names the tasks that changed, unless a task with history would be lost (refused);
- an earlier year than the current one: refused, naming both years, unless the operator says
  going back is intended (``ALLOW_EARLIER_PLAN``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.plan import Department, Plan
from storage import Storage

log = logging.getLogger(__name__)


class PlanRefused(Exception):
    """TASKS_FILE cannot become the current plan; the message says why and what to do."""


def fingerprint(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


@dataclass
class PlanYears:
    """Every year's plan the bot keeps; ``current`` is the one commands and taps change."""

    current: Plan
    earlier: dict[int, Plan] = field(default_factory=dict)

    def get(self, year: int) -> Plan | None:
        return self.current if year == self.current.year else self.earlier.get(year)

    def years(self) -> list[int]:
        """Newest first."""
        return sorted({self.current.year, *self.earlier}, reverse=True)

    def department(self, code: str) -> Department:
        """A department by code, as the newest plan that names it describes it (a membership
        or a binding may name one that this year's plan no longer has)."""
        for year in self.years():
            plan = self.get(year)
            if plan is not None and code in plan.department_by_code:
                return plan.department_by_code[code]
        raise KeyError(code)


def changed_tasks(old: Plan, new: Plan) -> list[int]:
    """Numbers whose task differs between two imports of one year (added and removed too)."""
    numbers = {t.number for t in old.tasks} | {t.number for t in new.tasks}
    return sorted(n for n in numbers if old.task(n) != new.task(n))


def _numbers(numbers: Iterable[int]) -> str:
    return ", ".join(str(n) for n in sorted(numbers))


async def reconcile(
    storage: Storage, plan: Plan, *, source: str, allow_earlier: bool = False
) -> PlanYears:
    """Make ``plan`` (from the file ``source``) the current plan, as the module's rules say,
    and return every year's plan. Raises :class:`PlanRefused` when it may not."""
    content = plan.to_json()
    stored = {p.year: p for p in await storage.plans.all()}
    current = next((p for p in stored.values() if p.is_current), None)
    earlier = {
        year: Plan.model_validate_json(p.content) for year, p in stored.items() if year != plan.year
    }
    if current is not None and plan.year < current.year and not allow_earlier:
        raise PlanRefused(
            f"TASKS_FILE {source} holds the {plan.year} plan, but the database's current plan is "
            f"{current.year}: going back a year is refused; set ALLOW_EARLIER_PLAN=true if that "
            "is intended"
        )
    known = stored.get(plan.year)
    if known is not None and known.fingerprint != fingerprint(content):
        before = Plan.model_validate_json(known.content)
        kept = await storage.updates.tasks_with_history(plan.year)
        lost = kept - {t.number for t in plan.tasks}
        if lost:
            raise PlanRefused(
                f"TASKS_FILE {source}: the {plan.year} plan has no task {_numbers(lost)}, which "
                "the database holds history for; re-import the full plan text"
            )
        await storage.plans.replace(plan.year, plan.title, content, fingerprint(content))
        log.info(
            "plan %d re-imported from %s: tasks %s changed; their history is kept",
            plan.year,
            source,
            _numbers(changed_tasks(before, plan)) or "none",
        )
    if current is None or current.year != plan.year:
        ended = await storage.plans.add_current(
            plan.year, plan.title, content, fingerprint(content)
        )
        storage.db.plan_year = plan.year
        if current is None and known is None:
            log.info("plan %d (%d tasks) recorded as the current plan", plan.year, len(plan.tasks))
        else:
            log.info(
                "plan %d (%d tasks) is now the current plan; %s kept as they were; "
                "%d task subscriptions of earlier years ended",
                plan.year,
                len(plan.tasks),
                _numbers(earlier) or "no earlier year",
                len(ended),
            )
    await index_plan(storage, plan)
    return PlanYears(plan, earlier)


async def index_plan(storage: Storage, plan: Plan) -> None:
    """Let SQL count the plan's tasks by section and department (``storage/counting.py``):
    written once per version of the plan."""
    if await storage.plans.index(plan.year, fingerprint(plan.to_json()), plan.tasks):
        log.debug("plan %d indexed for counting: %d tasks", plan.year, len(plan.tasks))


async def stored_years(storage: Storage, fallback: Plan) -> PlanYears:
    """Every year's plan as the database keeps them, without changing anything (for the
    operator's tools); ``fallback`` (TASKS_FILE) stands for a database with no plan yet."""
    plans = {p.year: p for p in await storage.plans.all()}
    current = next((p for p in plans.values() if p.is_current), None)
    if current is None:
        earlier = {y: Plan.model_validate_json(p.content) for y, p in plans.items()}
        return PlanYears(fallback, {y: p for y, p in earlier.items() if y != fallback.year})
    return PlanYears(
        Plan.model_validate_json(current.content),
        {y: Plan.model_validate_json(p.content) for y, p in plans.items() if y != current.year},
    )
