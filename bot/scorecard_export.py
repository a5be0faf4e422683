"""``python -m bot scorecard``: the current plan's scorecard from the database, as a CSV or
XLSX file (apart from :mod:`bot.scorecard`, which the chat and the digest use without openpyxl)."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.i18n import Language
from bot.plan import Plan
from bot.plan_years import index_plan, stored_years
from bot.render.scorecard_file import scorecard_file
from bot.rounds import local_date
from bot.scorecard import Format, Scorecard, scorecard
from storage import Storage
from storage.files import unreadable


class ScorecardError(Exception):
    """The database cannot give a scorecard; the message says which and why, in one line."""


@dataclass(frozen=True)
class ScorecardFile:
    data: bytes
    fmt: Format
    card: Scorecard
    made_at: datetime
    """Local time in the bot's zone, when the database was read."""

    @property
    def filename(self) -> str:
        """'scorecard-2024-20261123.xlsx': the plan's year and the local day it was made."""
        return f"scorecard-{self.card.plan_year}-{self.made_at:%Y%m%d}.{self.fmt}"


async def scorecard_database(
    settings: Settings, plan: Plan, *, fmt: Format, lang: Language
) -> ScorecardFile:
    """The current plan's scorecard from the database at DATABASE_URL, as a file; never
    creates a database (as ``python -m bot export``)."""
    path = settings.database_path
    if (problem := unreadable(path)) is not None:
        raise ScorecardError(problem)
    storage = Storage(path)
    try:
        await storage.open(plan_year=plan.year)
        current = (await stored_years(storage, plan)).current
        await index_plan(storage, current)  # what SQL counts by, as the bot's start writes it
        zone = settings.timezone
        now = storage.db.clock()
        card = await scorecard(storage, current, today=local_date(now, zone))
    except sqlite3.Error as exc:
        raise ScorecardError(f"cannot read the database at {path} (DATABASE_URL): {exc}") from None
    finally:
        await storage.close()
    data = await asyncio.to_thread(
        scorecard_file, card, current, fmt=fmt, lang=lang, now=now, zone=zone
    )
    return ScorecardFile(data, fmt, card, now.astimezone(zone))
