"""A supervision round compiled: the plain data the office's document is written from.

The round's storage builds a :class:`CompiledRound` from the database; ``bot/render/round_docx.py``
and ``bot/render/round_xlsx.py`` turn it into the document the office reports upward. Keeping
the two apart lets the document be rendered in a test, or at the terminal, from made-up data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Statement:
    """One department's statement for one task, as it stands (its latest submission)."""

    dept: str
    """Department code."""
    author: str
    """Who submitted it, as Telegram named them."""
    submitted_at: datetime
    """When, aware (local time is the renderer's business)."""
    text: str
    """Up to 3,000 characters; may be empty when only a document was sent."""
    file_name: str | None
    """The document's file name, when one was sent (the file stays with Telegram)."""
    late: bool
    """Submitted after the round's due date."""


@dataclass(frozen=True)
class TaskStatements:
    """A task of the plan, its departments, and what each of them stated in the round."""

    number: int
    section: int
    subsection: int | None
    text: str
    lead: str
    participants: tuple[str, ...]
    statements: dict[str, Statement]
    """Department code → its statement; a department named on the task but absent here owes
    one that is missing ("未报送")."""


@dataclass(frozen=True)
class DepartmentTally:
    """One row of the summary table: what a department owed, and how it answered."""

    dept: str
    owed: int
    on_time: int
    late: int
    missing: int


@dataclass(frozen=True)
class CompiledRound:
    round_id: int
    title: str
    plan_year: int
    plan_title: str
    opened_at: datetime
    due: date
    closed_at: datetime | None
    tasks: tuple[TaskStatements, ...]
    """Every task of the round's plan, in plan order."""
    tally: tuple[DepartmentTally, ...]
    """Every department that owed a statement, worst first (most missing, then most late)."""
