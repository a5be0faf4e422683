"""``python -m bot healthcheck``: what the container's HEALTHCHECK runs (no curl in a slim image).

In webhook mode it asks the bot's ``GET /healthz``. In polling mode the bot serves nothing, so
it leaves a report beside the database instead: ``<database>.health`` holds ``ok`` or why the
database can no longer be trusted, rewritten every ``HEARTBEAT`` seconds and at once when that
changes. A report that is missing or older than ``STALE`` seconds is a failure too, so a bot
that cannot write there any more (a read-only disk, a stuck process) fails the check as well.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.config import Settings

HEARTBEAT = 15.0
STALE = 60.0
HEALTHY = "ok"


def report_path(database: Path) -> Path:
    return database.with_name(f"{database.name}.health")


def write_report(database: Path, problem: str | None) -> None:
    """Replace the report in one step, so that the check never reads half of one."""
    path = report_path(database)
    fresh = path.with_name(f"{path.name}.tmp")
    fresh.write_text(f"{problem or HEALTHY}\n", encoding="utf-8")
    os.replace(fresh, path)


def check(settings: Settings, *, now: float | None = None) -> str | None:
    """``None`` when healthy, else what is wrong, in a few words."""
    if settings.webhook_url is not None:
        url = f"http://127.0.0.1:{settings.port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return None if response.status == 200 else f"{url} answered {response.status}"
        except urllib.error.HTTPError as exc:
            return f"{url} answered {exc.code}: {exc.read().decode(errors='replace').strip()}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return f"{url}: {getattr(exc, 'reason', exc)}"
    path = settings.database_path
    if not path.exists():
        return f"no database at {path}"
    report = report_path(path)
    try:
        said = report.read_text(encoding="utf-8").strip()
        age = (time.time() if now is None else now) - report.stat().st_mtime
    except FileNotFoundError:
        return f"no health report at {report}: the bot is not running, or has not started"
    except OSError as exc:
        return f"cannot read {report}: {exc.strerror or exc}"
    if said != HEALTHY:
        return said
    if age > STALE:
        return f"the bot's health report {report} is {age:.0f} s old: it is stuck, or cannot write"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=3) as conn:
            conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    except sqlite3.Error as exc:
        return f"database {path}: {exc}"
    return None
