"""``FakeTelegram``: the test-facing handle on the fake Bot API server.

Tests build the world (users, groups), act as users (``send``, ``tap``), and wait for the bot's
reaction with ``replies``/``idle``, which watch the bot's requests instead of sleeping.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

from bot.faketelegram import actions
from bot.faketelegram.api_bot import scope_key
from bot.faketelegram.errors import ApiError
from bot.faketelegram.limits import LOST, Fault, RateLimiter, RateLimits, make_error
from bot.faketelegram.models import (
    CallbackAnswer,
    FakeCallbackQuery,
    FakeChat,
    FakeMessage,
    FakeUser,
    Rejection,
)
from bot.faketelegram.server import ApiServer, Dispatcher, LoggedRequest
from bot.faketelegram.world import BotEvent, World

DEFAULT_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
_TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")


class FakeTelegram:
    """A strict fake Telegram Bot API on 127.0.0.1 plus the controls tests need."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "test_bot",
        bot_name: str = "Test Bot",
        privacy_mode: bool = False,
        rate_limits: RateLimits | None = None,
        callback_ttl: float = 15.0,
        host: str = "127.0.0.1",
        port: int = 0,
        first_update_id: int = 1,
    ) -> None:
        """``first_update_id``: where this bot's update ids go on from. Telegram keeps counting
        across restarts of a bot; a new fake starts again unless told where it got to."""
        match = _TOKEN_RE.match(token)
        if match is None:
            raise ValueError("token must look like '123456:ABC-def_ghi'")
        bot = FakeUser(int(match.group(1)), bot_name, username=bot_username, is_bot=True)
        self._world = World(
            bot, privacy_mode=privacy_mode, callback_ttl=callback_ttl,
            first_update_id=first_update_id,
        )  # fmt: skip
        self._dispatcher = Dispatcher(self._world, token)
        self._server = ApiServer(self._dispatcher)
        self._host = host
        self._port = port
        if rate_limits is not None:
            self.enable_rate_limits(rate_limits)

    async def start(self) -> None:
        """Bind ``host:port`` (port 0 picks a free one) and start serving."""
        self._port = await self._server.start(self._host, self._port)

    async def stop(self) -> None:
        """End long polls, answer in-flight requests and close every socket."""
        await self._server.stop()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def token(self) -> str:
        """The only token the fake accepts."""
        return self._dispatcher.token

    @property
    def bot(self) -> FakeUser:
        """The bot's own user (``from`` of its messages)."""
        return self._world.bot

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        return self._port

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``; PTB appends the token."""
        return f"http://{self._host}:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"http://{self._host}:{self._port}/file/bot"

    # --- building the world -------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = False,
    ) -> FakeUser:
        """A user; the bot can only write to them once they wrote to it (or ``started``)."""
        user = FakeUser(user_id, first_name, last_name, username, language_code, started=started)
        return actions.add_user(self._world, user)

    def user(self, user_id: int) -> FakeUser | None:
        """A user added earlier (the bot itself is not one), or ``None``."""
        return self._world.users.get(user_id)

    def private_chat(self, user: FakeUser) -> FakeChat:
        """The user's private chat with the bot (its id is the user id)."""
        return self._world.chats[user.id]

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        members: Iterable[FakeUser] = (),
        type: str = "group",
        admins: Iterable[FakeUser] = (),
        owner: FakeUser | None = None,
        username: str | None = None,
        bot_admin: bool = False,
    ) -> FakeChat:
        """A group (negative id) or supergroup (-100… id) the bot is a member of."""
        chat = FakeChat(
            chat_id,
            type,
            title=title,
            username=username,
            bot_status="administrator" if bot_admin else "member",
        )
        return actions.add_group(self._world, chat, members, admins, owner)

    def chat(self, chat_id: int) -> FakeChat:
        """Any known chat by id."""
        return self._world.chats[chat_id]

    def block(self, user: FakeUser, *, notify: bool = True) -> None:
        """The user blocks the bot: sends to them answer 403; ``notify=False`` withholds the
        my_chat_member update, so the bot learns of it only from a refused send."""
        actions.set_blocked(self._world, user, True, notify=notify)

    def unblock(self, user: FakeUser) -> None:
        """The user unblocks the bot."""
        actions.set_blocked(self._world, user, False)

    def kick(self, group: FakeChat, *, by: FakeUser | None = None) -> None:
        """The bot is removed from the group: sends answer 403."""
        actions.kick(self._world, group, by)

    def upgrade(self, group: FakeChat, *, new_id: int | None = None) -> FakeChat:
        """The group becomes a supergroup; sends to the old id answer 400 with migrate_to."""
        return actions.upgrade(self._world, group, new_id)

    # --- acting as users -------------------------------------------------------------------

    async def send(
        self, user: FakeUser, chat: FakeChat, text: str, *, reply_to: FakeMessage | None = None
    ) -> FakeMessage:
        """The user writes ``text`` in ``chat``; returns the user's message."""
        message = actions.user_message(self._world, user, chat, text, reply_to)
        await asyncio.sleep(0)
        return message

    async def send_document(
        self,
        user: FakeUser,
        chat: FakeChat,
        file_name: str,
        size: int,
        *,
        caption: str | None = None,
        reply_to: FakeMessage | None = None,
    ) -> FakeMessage:
        """The user sends a file of ``size`` bytes named ``file_name`` (with a caption, and as
        a reply, if given); returns the user's message."""
        message = actions.user_document(self._world, user, chat, file_name, size, caption, reply_to)
        await asyncio.sleep(0)
        return message

    async def tap(
        self,
        user: FakeUser,
        message: FakeMessage,
        data: str | None = None,
        *,
        text: str | None = None,
        forged: bool = False,
    ) -> FakeCallbackQuery:
        """The user presses the button with this callback ``data`` (or label ``text``)."""
        query = actions.tap(self._world, user, message, data, text, forged)
        await asyncio.sleep(0)
        return query

    # --- waiting for the bot ---------------------------------------------------------------

    async def replies(
        self,
        chat: FakeChat,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is the point of this test API
        quiet: float = 0.1,
        at_least: int = 1,
    ) -> list[FakeMessage]:
        """Messages the bot sent or edited in ``chat`` since the last user action there (or
        the last ``replies`` call), once the bot fetched every queued update, made at least
        ``at_least`` replies there (sends, edits, deletes, toasts, refusals count), and then
        stayed silent in the chat for ``quiet`` seconds. Raises TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        updates = self._world.updates
        fetched = await updates.wait_processed(updates.last_enqueued, deadline)
        done = fetched and await chat.activity.wait_quiet(
            deadline=deadline, quiet=quiet, at_least=at_least, since=chat.mark
        )
        if not done:
            raise TimeoutError(self._explain(chat, fetched, at_least))
        seen: set[int] = set()
        result = []
        for message in chat.outbox:
            if id(message) not in seen and not message.deleted:
                seen.add(id(message))
                result.append(message)
        chat.reset_replies()
        return result

    def _not_fetched(self) -> str:
        updates = self._world.updates
        return (
            f"the bot did not fetch update {updates.last_enqueued} "
            f"(fetched up to {updates.processed_upto}); is it polling?"
        )

    def _explain(self, chat: FakeChat, fetched: bool, at_least: int) -> str:
        if not fetched:
            return self._not_fetched()
        refused = [r for r in self._world.rejections[-50:] if r.chat_id == chat.id]
        got = chat.activity.finished - chat.mark
        return (
            f"chat {chat.id}: expected {at_least} bot replies and then quiet, got {got}, "
            f"{chat.activity.in_flight} in flight; recent refusals here: {refused}"
        )

    async def idle(
        self,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is the point of this test API
        quiet: float = 0.1,
    ) -> None:
        """Wait until the bot fetched every update and made no request for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        updates = self._world.updates
        if not await updates.wait_processed(updates.last_enqueued, deadline):
            raise TimeoutError(self._not_fetched())
        if not await self._world.activity.wait_quiet(deadline=deadline, quiet=quiet):
            raise TimeoutError(f"the bot kept making requests for {timeout} s")

    async def callback_answer(
        self,
        query: FakeCallbackQuery | str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is the point of this test API
    ) -> CallbackAnswer:
        """Wait for the bot's answerCallbackQuery for this tap (or query id)."""
        found = query if isinstance(query, FakeCallbackQuery) else self._world.queries.get(query)
        if found is None:
            raise ValueError(f"unknown callback query {query!r}")
        if found.answer is None:
            try:
                async with asyncio.timeout(timeout):
                    await found.answered.wait()
            except TimeoutError:
                raise TimeoutError(f"the bot did not answer the tap on {found.data!r}") from None
        assert found.answer is not None  # set together with the event
        return found.answer

    # --- observing ---------------------------------------------------------------------------

    def messages(self, chat: FakeChat) -> list[FakeMessage]:
        """Every live message of the chat, oldest first, in its current (edited) state."""
        return [message for message in chat.messages.values() if not message.deleted]

    def bot_messages(self, chat: FakeChat) -> list[FakeMessage]:
        """The bot's live messages in the chat, oldest first."""
        return [m for m in chat.messages.values() if m.is_bot and not m.deleted]

    def last_bot_message(self, chat: FakeChat) -> FakeMessage | None:
        """The bot's newest live message in the chat."""
        for message in reversed(chat.messages.values()):
            if message.is_bot and not message.deleted:
                return message
        return None

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Every answerCallbackQuery, in order."""
        return self._world.callback_answers

    @property
    def rejections(self) -> list[Rejection]:
        """Every request refused by Telegram's rules (injected faults are in ``faults``)."""
        return self._world.rejections

    @property
    def faults(self) -> list[Rejection]:
        """Every request answered with an injected failure."""
        return self._dispatcher.faults_fired

    @property
    def requests(self) -> Counter[str]:
        """Number of calls per Bot API method (canonical names, e.g. ``sendMessage``)."""
        return self._dispatcher.requests

    @property
    def request_log(self) -> deque[LoggedRequest]:
        """The last 1000 calls."""
        return self._dispatcher.request_log

    @property
    def webhook_url(self) -> str:
        """What setWebhook stored ("" when none)."""
        return self._world.webhook_url

    def commands(self, scope: Any = None, language_code: str = "") -> list[tuple[str, str]]:
        """(command, description) pairs set for a scope (dict, type name or PTB scope)."""
        if hasattr(scope, "to_dict"):
            scope = scope.to_dict()
        elif isinstance(scope, str):
            scope = {"type": scope}
        try:
            key = (scope_key(self._world, scope), language_code)
        except ApiError as exc:
            raise ValueError(exc.description) from None
        return [(c["command"], c["description"]) for c in self._world.commands.get(key, [])]

    def menu_button(self, chat: FakeChat | None = None) -> dict[str, Any] | None:
        """What setChatMenuButton stored for the chat (None: the default for all chats)."""
        return self._world.menu_buttons.get(chat.id if chat is not None else None)

    def subscribe(self, listener: Callable[[BotEvent], object]) -> Callable[[], None]:
        """Call ``listener`` for every bot message, edit, delete, toast and refusal."""
        self._world.listeners.append(listener)
        return lambda: self._world.listeners.remove(listener)

    # --- faults and limits --------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` (to ``chat_id`` if given) fail like this."""
        error = make_error(error_code, description, retry_after)
        self._dispatcher.faults.add(Fault(method, chat_id, count, error=error))

    def delay(
        self,
        method: str,
        seconds: float,
        *,
        count: int | None = None,
        chat_id: int | None = None,
        process: bool = True,
    ) -> None:
        """Calls of ``method`` wait ``seconds`` before being carried out and answered.

        A client that gives up first cannot tell whether the call took effect: by default it
        did (a retry repeats it); with ``process=False`` it was lost and never carried out
        (answered with a 504 if anyone still waits).
        """
        error = None if process else LOST
        self._dispatcher.faults.add(Fault(method, chat_id, count, error=error, seconds=seconds))

    def clear_faults(self) -> None:
        """Disarm every ``fail_next`` and ``delay``."""
        self._dispatcher.faults.clear()

    def enable_rate_limits(self, limits: RateLimits | None = None) -> None:
        """Answer 429 beyond Telegram's flood limits (fresh buckets each call)."""
        self._world.limiter = RateLimiter(limits or RateLimits())

    def disable_rate_limits(self) -> None:
        """No flood limits (the default)."""
        self._world.limiter = None
