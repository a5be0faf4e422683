"""A strict fake Telegram Bot API server for end-to-end tests, the sandbox and benchmarks.

Usage, inside an async test:

fake = FakeTelegram(bot_username="plan_test_bot")
await fake.start()
app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
...  # start the Application and its polling
alice = fake.add_user(1001, "Alice")
await fake.send(alice, fake.private_chat(alice), "/start")
(reply,) = await fake.replies(fake.private_chat(alice))
assert not fake.rejections  # nothing the bot sent would have been refused by Telegram
"""

from bot.faketelegram.fake import DEFAULT_TOKEN, FakeTelegram
from bot.faketelegram.html import EntityParseError, parse_html, utf16_len
from bot.faketelegram.limits import RateLimits
from bot.faketelegram.models import (
    CallbackAnswer,
    FakeCallbackQuery,
    FakeChat,
    FakeMessage,
    FakeUser,
    Rejection,
)
from bot.faketelegram.world import BotEvent

__all__ = [
    "DEFAULT_TOKEN",
    "BotEvent",
    "CallbackAnswer",
    "EntityParseError",
    "FakeCallbackQuery",
    "FakeChat",
    "FakeMessage",
    "FakeTelegram",
    "FakeUser",
    "RateLimits",
    "Rejection",
    "parse_html",
    "utf16_len",
]
