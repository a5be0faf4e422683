"""``python -m bot healthcheck``: what the container's HEALTHCHECK runs (no curl in a slim image)."""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.request

from bot.config import Settings


def check(settings: Settings) -> str | None:
    """``None`` when healthy, else what is wrong, in a few words."""
    if settings.webhook_url is not None:
        url = f"http://127.0.0.1:{settings.port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return None if response.status == 200 else f"{url} answered {response.status}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return f"{url}: {getattr(exc, 'reason', exc)}"
    path = settings.database_path
    if not path.exists():
        return f"no database at {path}"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=3) as conn:
            conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    except sqlite3.Error as exc:
        return f"database {path}: {exc}"
    return None
