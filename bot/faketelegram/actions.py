"""What tests do as users and as "the world": create chats, write, tap, block, kick, upgrade.

Test misuse (a user writing in a group they are not in, tapping a button that is not there)
raises ValueError at once, so a broken test does not look like a silent bot.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from bot.faketelegram.entities import detect_entities, utf16_slice
from bot.faketelegram.html import utf16_len
from bot.faketelegram.models import FakeCallbackQuery, FakeChat, FakeMessage, FakeUser
from bot.faketelegram.world import World

_FIRST_SUPERGROUP_ID = -1_000_000_000_000


def add_user(world: World, user: FakeUser) -> FakeUser:
    """Register a user and their private chat with the bot (chat id == user id)."""
    if user.id <= 0 or user.id in world.chats or user.id == world.bot.id:
        raise ValueError(f"user id {user.id} must be positive and unused")
    world.users[user.id] = user
    world.chats[user.id] = FakeChat(user.id, "private", user=user)
    return user


def add_group(
    world: World,
    chat: FakeChat,
    members: Iterable[FakeUser],
    admins: Iterable[FakeUser],
    owner: FakeUser | None,
) -> FakeChat:
    """Register a group or supergroup with its members; admins and the owner are members too."""
    if chat.type not in ("group", "supergroup"):
        raise ValueError(f"group type must be 'group' or 'supergroup', not {chat.type!r}")
    supergroup_id = str(chat.id).startswith("-100")
    if chat.id >= 0 or (chat.type == "supergroup" and not supergroup_id):
        raise ValueError("group ids are negative; supergroup ids start with -100")
    if chat.type == "group" and chat.id <= _FIRST_SUPERGROUP_ID:
        raise ValueError(f"{chat.id} is a supergroup id (-100 and ten digits), not a group id")
    if chat.id in world.chats:
        raise ValueError(f"chat {chat.id} already exists")
    admin_list = list(admins)
    owner = owner or (admin_list[0] if admin_list else None)
    for user in [*members, *admin_list, *([owner] if owner else [])]:
        chat.members[user.id] = user
    chat.admins = {user.id for user in admin_list}
    chat.owner_id = owner.id if owner else None
    world.chats[chat.id] = chat
    if chat.username:
        world.chat_usernames[chat.username.lower()] = chat
    return chat


def _bot_receives(world: World, chat: FakeChat, message: FakeMessage) -> bool:
    """Group privacy mode: only commands, replies to the bot and mentions reach it."""
    if not chat.is_group:
        return True
    if chat.bot_status not in ("member", "administrator"):
        return False
    if not world.privacy_mode or chat.bot_status == "administrator":
        return True
    if message.reply_to is not None and message.reply_to.is_bot:
        return True
    me = (world.bot.username or "").lower()
    text, entities = (
        (message.text, message.entities)
        if message.text is not None
        else (message.caption, message.caption_entities)
    )
    for entity in entities:
        piece = utf16_slice(text or "", entity["offset"], entity["length"]).lower()
        if entity["type"] == "bot_command" and ("@" not in piece or piece.endswith("@" + me)):
            return True
        if entity["type"] == "mention" and piece == "@" + me:
            return True
    return False


def set_blocked(world: World, user: FakeUser, blocked: bool, *, notify: bool = True) -> None:
    """Block or unblock the bot, with the my_chat_member update Telegram sends (unless
    ``notify`` is off: the update lost or not yet delivered, so only a send finds out)."""
    if user.blocked == blocked:
        return
    user.blocked = blocked
    if user.started and notify:
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        world.enqueue_member_change(world.chats[user.id], user, old, new)


def _may_write(world: World, user: FakeUser, chat: FakeChat, reply_to: FakeMessage | None) -> None:
    """What a user can write in, and reply to; writing to the bot starts (and unblocks) it."""
    if chat.is_group:
        if user.id not in chat.members:
            raise ValueError(f"{user.first_name} is not a member of {chat.title!r}")
        if chat.migrated_to is not None:
            raise ValueError(f"{chat.title!r} became supergroup {chat.migrated_to}; write there")
    elif chat.user is not user:
        raise ValueError(f"chat {chat.id} is not {user.first_name}'s private chat")
    if reply_to is not None and (reply_to.chat is not chat or reply_to.deleted):
        raise ValueError("reply_to must be a live message of the same chat")
    if not chat.is_group:
        set_blocked(world, user, False)  # the client's "Restart" unblocks before sending
        user.started = True


def _deliver(world: World, chat: FakeChat, message: FakeMessage) -> None:
    chat.reset_replies()
    if _bot_receives(world, chat, message):
        world.enqueue("message", message.to_api(), chat)


def user_message(
    world: World, user: FakeUser, chat: FakeChat, text: str, reply_to: FakeMessage | None
) -> FakeMessage:
    """A user writes; the update is queued unless the bot cannot see the message."""
    text = text.strip()
    if not text or utf16_len(text) > 4096:
        raise ValueError("a user message must have 1..4096 characters")
    _may_write(world, user, chat, reply_to)
    message = world.new_message(
        chat, user, text=text, entities=detect_entities(text), reply_to=reply_to
    )
    _deliver(world, chat, message)
    return message


USER_UPLOAD_LIMIT = 2000 * 1024 * 1024
"""The largest file a user can send (2,000 MB without Telegram Premium)."""


def user_document(
    world: World,
    user: FakeUser,
    chat: FakeChat,
    file_name: str,
    size: int,
    caption: str | None,
    reply_to: FakeMessage | None,
) -> FakeMessage:
    """A user sends a file, with a caption if given; the update carries ``message.document``
    (file_id, file_unique_id, file_name, mime_type, file_size) and the caption's entities."""
    if not file_name.strip() or "/" in file_name:
        raise ValueError(f"a file name must be a plain, non-empty name, not {file_name!r}")
    if not 1 <= size <= USER_UPLOAD_LIMIT:
        raise ValueError(f"a user sends files of 1 byte to 2,000 MB, not {size} bytes")
    caption = caption.strip() if caption is not None else None
    if caption is not None and utf16_len(caption) > 1024:
        raise ValueError("a caption has at most 1,024 characters")
    _may_write(world, user, chat, reply_to)
    message = world.new_message(
        chat,
        user,
        caption=caption or None,
        caption_entities=detect_entities(caption) if caption else [],
        reply_to=reply_to,
        attachment=world.files.put_upload(file_name, size),
        attachment_kind="document",
    )
    _deliver(world, chat, message)
    return message


def _callback_button_data(message: FakeMessage) -> dict[str, str | None]:
    """Button text -> callback_data (None for non-callback buttons) of an inline keyboard."""
    markup = message.reply_markup or {}
    return {
        button["text"]: button.get("callback_data")
        for row in markup.get("inline_keyboard", [])
        for button in row
    }


def tap(
    world: World,
    user: FakeUser,
    message: FakeMessage,
    data: str | None,
    text: str | None,
    forged: bool,
) -> FakeCallbackQuery:
    """A user presses an inline button; the callback_query update is queued."""
    chat = message.chat
    if message.deleted or not message.is_bot:
        raise ValueError("only live bot messages carry inline buttons")
    if (chat.is_group and user.id not in chat.members) or (
        not chat.is_group and chat.user is not user
    ):
        raise ValueError(f"{user.first_name} cannot see chat {chat.id}")
    buttons = _callback_button_data(message)
    if text is not None:
        if buttons.get(text) is None:
            raise ValueError(f"no callback button {text!r} on the message; buttons: {buttons}")
        data = buttons[text]
    elif not forged and (data is None or data not in buttons.values()):
        raise ValueError(f"no button with callback_data {data!r}; buttons: {buttons}")
    query = FakeCallbackQuery(world.new_query_id(), user, message, data, time.monotonic())
    world.queries[query.id] = query
    chat.reset_replies()
    world.enqueue("callback_query", query.to_api(world.chat_instance(chat)), chat)
    return query


def _actor(chat: FakeChat, by: FakeUser | None) -> FakeUser:
    candidates = [by, chat.members.get(chat.owner_id or 0)]
    candidates += [chat.members[i] for i in sorted(chat.admins)] + list(chat.members.values())
    actor = next((user for user in candidates if user is not None), None)
    if actor is None:
        raise ValueError(f"group {chat.id} has no member who could do this")
    return actor


def kick(world: World, chat: FakeChat, by: FakeUser | None) -> None:
    """An admin removes the bot from a group."""
    if not chat.is_group:
        raise ValueError("only groups can kick the bot; block() a private chat instead")
    old = chat.bot_status
    chat.bot_status = "kicked"
    world.enqueue_member_change(chat, _actor(chat, by), old, "kicked")


def upgrade(world: World, chat: FakeChat, new_id: int | None) -> FakeChat:
    """A basic group becomes a supergroup; both migrate service messages are delivered."""
    if chat.type != "group" or chat.migrated_to is not None:
        raise ValueError("only a basic group that was not upgraded yet can be upgraded")
    new_id = new_id if new_id is not None else int(f"-100{abs(chat.id)}")
    supergroup = FakeChat(new_id, "supergroup", title=chat.title, bot_status=chat.bot_status)
    owner = chat.members.get(chat.owner_id or 0)
    admins = [chat.members[i] for i in chat.admins]
    add_group(world, supergroup, chat.members.values(), admins, owner)
    actor = _actor(chat, None)
    chat.migrated_to = new_id
    for where, service in (
        (chat, {"migrate_to_chat_id": new_id}),
        (supergroup, {"migrate_from_chat_id": chat.id}),
    ):
        message = world.new_message(where, actor, service=service)
        if where.bot_status in ("member", "administrator"):
            world.enqueue("message", message.to_api(), where)
    return supergroup
