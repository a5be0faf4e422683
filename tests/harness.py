"""The real application, built by ``build_application``, polling the fake Telegram on loopback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.app import build_application
from bot.config import Settings
from bot.context import BotApplication
from bot.faketelegram import FakeChat, FakeMessage, FakeTelegram, FakeUser
from bot.inbox import InboxOptions
from bot.runner import started
from storage.db import Clock
from tests.conftest import DATA

ADMIN_ID = 1
BOT_USERNAME = "plan_test_bot"
TEST_INBOX = InboxOptions(long_poll=1, stop_grace=5)
"""Short long polls, so that a test's bot stops at once."""


@dataclass
class Harness:
    fake: FakeTelegram
    app: BotApplication
    settings: Settings
    people: dict[int, FakeUser] = field(default_factory=dict)

    async def say(
        self, user: FakeUser, chat: FakeChat, text: str, **kw: object
    ) -> list[FakeMessage]:
        """Send as ``user`` and return what the bot sent back to that chat."""
        await self.fake.send(user, chat, text, **kw)  # type: ignore[arg-type]
        return await self.fake.replies(chat)

    async def ask(self, user: FakeUser, chat: FakeChat, text: str) -> str:
        """Send and return the text of the bot's single answer."""
        replies = await self.say(user, chat, text)
        assert replies, f"no answer to {text!r}"
        return replies[-1].text

    def user(
        self, user_id: int, name: str, language: str = "zh-hans", username: str | None = None
    ) -> tuple[FakeUser, FakeChat]:
        """A person who has opened a private chat with the bot (the same one if asked again)."""
        person = self.people.get(user_id) or self.fake.user(user_id)  # from an earlier run
        if person is None:
            person = self.fake.add_user(
                user_id, name, language_code=language, username=username, started=True
            )
            self.people[user_id] = person
        return person, self.fake.private_chat(person)


def command_update(
    update_id: int, text: str, *, user_id: int, name: str, language: str | None = None
) -> dict[str, object]:
    """An update with ``text`` typed by a person in their private chat, as Telegram sends it
    (for tests that post updates themselves, as a webhook or a stored inbox row)."""
    command = text.split()[0]
    sender: dict[str, object] = {"id": user_id, "is_bot": False, "first_name": name}
    if language is not None:
        sender["language_code"] = language
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": name},
            "from": sender,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


def settings_for(fake: FakeTelegram, tmp_path: Path, **overrides: object) -> Settings:
    """Settings of a bot talking to ``fake``, its database in ``tmp_path``, no ``.env`` read."""
    values: dict[str, object] = {
        "telegram_bot_token": fake.token,
        "telegram_api_base_url": fake.base_url,
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "tasks_file": DATA / "tasks.json",
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg, arg-type]


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    admins: tuple[int, ...] = (ADMIN_ID,),
    clock: Clock | None = None,
    privacy_mode: bool = False,
    fake: FakeTelegram | None = None,
    settings: dict[str, object] | None = None,
) -> AsyncIterator[Harness]:
    """The bot on a database in ``tmp_path``; given a running ``fake``, on that Telegram (which
    outlives it: a second run is the same bot restarted, its chats and update ids going on).
    ``settings``: more settings, as ``settings_for`` takes them."""
    own = fake is None
    if fake is None:
        fake = FakeTelegram(bot_username=BOT_USERNAME, privacy_mode=privacy_mode)
        await fake.start()
    try:
        async with bot_on(
            fake, tmp_path, admins=admins, clock=clock, **(settings or {})
        ) as harness:
            yield harness
    finally:
        if own:
            await fake.stop()


@asynccontextmanager
async def bot_on(
    fake: FakeTelegram,
    tmp_path: Path,
    *,
    admins: tuple[int, ...] = (ADMIN_ID,),
    clock: Clock | None = None,
    people: dict[int, FakeUser] | None = None,
    **settings: object,
) -> AsyncIterator[Harness]:
    """The real application on a fake and a database that outlive it (to start it again, on
    another tasks file, say); ``people`` carries the cast over from an earlier run."""
    configured = settings_for(fake, tmp_path, bot_admins=frozenset(admins), **settings)
    app = build_application(configured, clock=clock)
    app.bot_data.inbox_options = TEST_INBOX
    async with started(app):
        yield Harness(fake, app, configured, people if people is not None else {})
