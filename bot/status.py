"""``python -m bot status``: what is inside the bot, from its database, without a token.

One fact per line for a person (times in ``BOT_TIMEZONE``), or ``--json`` for a machine. The
database is only read (``storage/status.py``): never created, migrated or written.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.plan import Plan
from storage import status as db
from storage.migrations import LATEST_VERSION
from storage.people import WHOLE_PLAN

NEEDS = {
    "chats": ("chats",),
    "departments": ("memberships", "users"),
    "outbox": ("outbox",),
    "inbox": ("inbox",),
    "plans": ("plans", "status_updates"),
    "last_digest": ("digest_log", "chats", "outbox"),
}
"""The tables each part of the report reads: a database of an older schema may lack some."""


class StatusError(Exception):
    """The database cannot be looked into; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class Status:
    database: Path
    now: datetime
    version: int
    plan: Plan
    plan_file: Path
    plans: list[db.KeptPlan] | None
    chats: db.ChatCounts | None
    departments: list[db.DepartmentPeople] | None
    outbox: db.Queue | None
    inbox: db.Queue | None
    last_digest: db.DigestRun | None
    has_digest_log: bool
    reminders: list[db.ReminderRuns]


def read_status(database: Path, plan: Plan, plan_file: Path, now: datetime) -> Status:
    """Everything the report shows, read in one read-only transaction."""
    if not database.exists():
        raise StatusError(
            f"no database at {database} (DATABASE_URL): the bot creates it when it first starts"
        )
    try:
        conn = db.open_read_only(database)
    except sqlite3.Error as exc:
        raise StatusError(f"cannot open {database}: {exc}") from None
    try:
        with conn:
            conn.execute("BEGIN")  # one snapshot, even while the bot writes
            tables = db.table_names(conn)
            version = db.schema_version(conn)
            if version == 0:
                raise StatusError(
                    f"{database} holds no plan bot data (no schema_migrations table): "
                    "is DATABASE_URL right?"
                )
            has = {part: set(needed) <= tables for part, needed in NEEDS.items()}
            return Status(
                database=database,
                now=now,
                version=version,
                plan=plan,
                plan_file=plan_file,
                plans=db.kept_plans(conn) if has["plans"] else None,
                chats=db.chat_counts(conn) if has["chats"] else None,
                departments=db.department_people(conn) if has["departments"] else None,
                outbox=db.outbox_queue(conn) if has["outbox"] else None,
                inbox=db.inbox_queue(conn) if has["inbox"] else None,
                last_digest=db.last_digest(conn) if has["last_digest"] else None,
                has_digest_log=has["last_digest"],
                reminders=db.reminder_runs(conn),
            )
    except sqlite3.DatabaseError as exc:
        raise StatusError(f"cannot read {database}: {exc}") from None
    finally:
        conn.close()


def age(since: datetime, now: datetime) -> str:
    """``40 s``, ``12 min``, ``5 h``, ``3 days``: how long ago, rounded down."""
    seconds = max(0.0, (now - since).total_seconds())
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"


def schema_line(version: int) -> str:
    if version == LATEST_VERSION:
        return f"schema: version {version}, as this bot expects"
    if version < LATEST_VERSION:
        return (
            f"schema: version {version}; this bot expects version {LATEST_VERSION} "
            "and migrates the database when it starts"
        )
    return (
        f"schema: version {version}, newer than this bot knows (version {LATEST_VERSION}): "
        "run the newer bot that set it up"
    )


def missing(part: str, version: int) -> str:
    return f"{part}: not in this database yet (schema version {version})"


def dept_name(plan: Plan, code: str) -> str:
    """``cnipa 国家知识产权局``; a code the plan no longer has stays a code."""
    if code == WHOLE_PLAN:
        return "the whole plan"
    department = plan.department_by_code.get(code)
    return f"{code} {department.name}" if department else f"{code} (not in the plan)"


def render_text(status: Status, zone: ZoneInfo) -> str:
    """The report a person reads: one fact per line."""

    def at(moment: datetime) -> str:
        return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({age(moment, status.now)} ago)"

    plan = status.plan
    lines = [
        f"database: {status.database}",
        f"now: {status.now.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})",
        schema_line(status.version),
        f"plan: {plan.title}, {plan.year}, {len(plan.tasks)} tasks ({status.plan_file})",
    ]
    if status.plans is None:
        lines.append(missing("plans", status.version))
    elif not status.plans:
        lines.append("plan years kept: none yet (recorded when the bot next starts)")
    for kept in status.plans or ():
        role = "current" if kept.is_current else "earlier, read-only"
        noun = "update" if kept.updates == 1 else "updates"
        lines.append(f"plan year {kept.year} ({role}): {kept.title}, {kept.updates} {noun}")
    if status.chats is None:
        lines.append(missing("chats", status.version))
    else:
        lines.append(f"chats active: {status.chats.active}")
        lines.append(f"chats inactive: {status.chats.inactive}")
        if not status.chats.bindings:
            lines.append("groups bound: none")
        for bound in status.chats.bindings:
            inactive = f" ({bound.inactive} inactive)" if bound.inactive else ""
            lines.append(
                f"groups bound to {dept_name(plan, bound.binding)}: {bound.groups}{inactive}"
            )
    if status.departments is None:
        lines.append(missing("departments", status.version))
    elif not status.departments:
        lines.append("people: nobody has joined a department yet")
    for people in status.departments or []:
        managers = ", ".join(people.managers) if people.managers else "none"
        lines.append(
            f"people in {dept_name(plan, people.dept)}: {people.people}; managers: {managers}"
        )
    lines += queue_lines(
        "outbox", status.outbox, status.version, waiting="queued", also=("sending", "failed"),
        at=at,
    )  # fmt: skip
    lines += queue_lines(
        "inbox", status.inbox, status.version, waiting="pending", also=("failed",), at=at
    )
    lines.append(digest_line(status, at))
    for runs in status.reminders:
        name = runs.table.replace("_", " ")
        latest = f", the latest {at(runs.latest)}" if runs.latest else ""
        lines.append(f"{name}: {runs.rows}{latest}")
    return "\n".join(lines)


Moment = Callable[[datetime], str]
"""How the text report shows a moment: local time and how long ago."""


def queue_lines(
    name: str,
    queue: db.Queue | None,
    version: int,
    *,
    waiting: str,
    also: tuple[str, ...],
    at: Moment,
) -> list[str]:
    """``outbox queued: 3, the oldest since …`` and a line for each other state shown; both
    tables call a row still to be dealt with ``pending``, which ``waiting`` names."""
    if queue is None:
        return [missing(name, version)]
    count = queue.states.get("pending", 0)
    oldest = f", the oldest since {at(queue.oldest_waiting)}" if queue.oldest_waiting else ""
    lines = [f"{name} {waiting}: {count}{oldest}"]
    lines += [f"{name} {other}: {queue.states.get(other, 0)}" for other in also]
    return lines


def digest_line(status: Status, at: Moment) -> str:
    if not status.has_digest_log:
        return missing("last digest", status.version)
    run = status.last_digest
    if run is None:
        return "last digest: none yet"
    chat = f"chat {run.chat_id}" + (f" {run.chat_title}" if run.chat_title else "")
    state = run.state or "nothing owed"
    return (
        f"last digest: week {run.iso_week}, {chat}, {at(run.at)}, {state}; "
        f"{run.chats_that_week} chat(s) that week"
    )


def render_json(status: Status) -> str:
    """The same facts for a machine: times in UTC ISO 8601, ages in seconds."""

    def when(moment: datetime | None) -> dict[str, Any] | None:
        if moment is None:
            return None
        return {"at": moment.isoformat(), "seconds_ago": (status.now - moment).total_seconds()}

    def queue(q: db.Queue | None) -> dict[str, Any] | None:
        return None if q is None else {"states": q.states, "oldest_waiting": when(q.oldest_waiting)}

    run = status.last_digest
    report = {
        "database": str(status.database),
        "now": status.now.isoformat(),
        "schema": {"version": status.version, "expected": LATEST_VERSION},
        "plan": {
            "title": status.plan.title,
            "year": status.plan.year,
            "tasks": len(status.plan.tasks),
            "file": str(status.plan_file),
        },
        "plan_years": None
        if status.plans is None
        else [
            {"year": k.year, "title": k.title, "current": k.is_current, "updates": k.updates}
            for k in status.plans
        ],
        "chats": None
        if status.chats is None
        else {
            "active": status.chats.active,
            "inactive": status.chats.inactive,
            "bound": [
                {"binding": b.binding, "groups": b.groups, "inactive": b.inactive}
                for b in status.chats.bindings
            ],
        },
        "departments": None
        if status.departments is None
        else [
            {"dept": d.dept, "people": d.people, "managers": d.managers} for d in status.departments
        ],
        "outbox": queue(status.outbox),
        "inbox": queue(status.inbox),
        "last_digest": None
        if run is None
        else {
            "chat_id": run.chat_id,
            "chat_title": run.chat_title,
            "iso_week": run.iso_week,
            "owed": when(run.at),
            "state": run.state,
            "chats_that_week": run.chats_that_week,
        },
        "reminders": [
            {"table": r.table, "rows": r.rows, "latest": when(r.latest)} for r in status.reminders
        ],
    }
    return json.dumps(report, ensure_ascii=False, indent=2)
