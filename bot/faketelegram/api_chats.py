"""Bot API methods about chats and their members."""

from __future__ import annotations

from typing import Any

from bot.faketelegram.api_base import method
from bot.faketelegram.errors import bad_request
from bot.faketelegram.models import member_json
from bot.faketelegram.params import Params
from bot.faketelegram.world import World

_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}


@method("getChat")
async def get_chat(world: World, params: Params) -> Any:
    chat = world.find_chat(params.raw("chat_id"))
    world.check_access(chat, write=False)
    info = chat.to_api()
    info.update({"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": _NO_GIFTS})
    return info


@method("getChatMember")
async def get_chat_member(world: World, params: Params) -> Any:
    chat = world.find_chat(params.raw("chat_id"))
    world.check_access(chat, write=False)
    user_id = params.get_int("user_id")
    if user_id is None:
        raise bad_request("invalid user_id specified")
    user = world.known_user(user_id)
    status = world.member_status(chat, user) if user is not None else None
    if user is None or status is None:
        raise bad_request("user not found")
    return member_json(user, status)


@method("getChatAdministrators")
async def get_chat_administrators(world: World, params: Params) -> Any:
    chat = world.find_chat(params.raw("chat_id"))
    if not chat.is_group:
        raise bad_request("there are no administrators in the private chat")
    world.check_access(chat, write=False)
    result = []
    for user in [*chat.members.values(), world.bot]:
        status = world.member_status(chat, user)
        if status in ("creator", "administrator"):
            result.append(member_json(user, status))
    return result


@method("getChatMemberCount")
async def get_chat_member_count(world: World, params: Params) -> Any:
    chat = world.find_chat(params.raw("chat_id"))
    world.check_access(chat, write=False)
    return len(chat.members) + 1 if chat.is_group else 2


@method("leaveChat", replies=True)
async def leave_chat(world: World, params: Params) -> Any:
    chat = world.find_chat(params.raw("chat_id"))
    if not chat.is_group:
        raise bad_request("chat member status can't be changed in private chats")
    world.check_access(chat, write=False)
    old = chat.bot_status
    chat.bot_status = "left"
    world.enqueue_member_change(chat, world.bot, old, "left")
    return True


@method("setChatMenuButton")
async def set_chat_menu_button(world: World, params: Params) -> Any:
    chat_id = None
    if params.raw("chat_id") not in (None, ""):
        chat = world.find_chat(params.raw("chat_id"))
        if chat.is_group:
            raise bad_request("menu button can be set only in private chats")
        chat_id = chat.id
    button = params.get_json("menu_button", "menu button")
    if button is None:
        button = {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
        raise bad_request("can't parse menu button JSON object")
    world.menu_buttons[chat_id] = button
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(world: World, params: Params) -> Any:
    chat_id = None
    if params.raw("chat_id") not in (None, ""):
        chat_id = world.find_chat(params.raw("chat_id")).id
    return world.menu_buttons.get(chat_id) or world.menu_buttons.get(None) or {"type": "commands"}
