"""Bot API methods about the bot itself: identity, updates, webhook, commands, files."""

from __future__ import annotations

import re
from typing import Any

from bot.faketelegram.api_base import method
from bot.faketelegram.errors import ApiError, bad_request
from bot.faketelegram.params import Params
from bot.faketelegram.world import World

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2}$")
_GLOBAL_SCOPES = ("default", "all_private_chats", "all_group_chats", "all_chat_administrators")
_CHAT_SCOPES = ("chat", "chat_administrators", "chat_member")
_MAX_COMMANDS = 100


@method("getMe")
async def get_me(world: World, params: Params) -> Any:
    me = world.bot.to_api()
    me.update(
        {
            "can_join_groups": True,
            "can_read_all_group_messages": not world.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
    )
    return me


@method("getUpdates")
async def get_updates(world: World, params: Params) -> Any:
    if world.webhook_url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    allowed = params.get_json("allowed_updates", "allowed updates")
    if allowed is not None and not (
        isinstance(allowed, list) and all(isinstance(kind, str) for kind in allowed)
    ):
        raise bad_request("can't parse allowed updates JSON object")
    return await world.updates.get(
        params.get_int("offset"),
        params.get_int("limit") or 100,
        max(0.0, params.get_float("timeout") or 0.0),
        allowed,
    )


@method("setWebhook")
async def set_webhook(world: World, params: Params) -> Any:
    url = params.get_str("url") or ""
    if url and not url.lower().startswith("https://"):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if params.get_bool("drop_pending_updates"):
        world.updates.drop_pending()
    world.webhook_url = url
    return True


@method("deleteWebhook")
async def delete_webhook(world: World, params: Params) -> Any:
    if params.get_bool("drop_pending_updates"):
        world.updates.drop_pending()
    world.webhook_url = ""
    return True


@method("getWebhookInfo")
async def get_webhook_info(world: World, params: Params) -> Any:
    return {
        "url": world.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": world.updates.pending_count(),
    }


@method("logOut")
async def log_out(world: World, params: Params) -> Any:
    return True


@method("close")
async def close(world: World, params: Params) -> Any:
    return True


def scope_key(world: World, scope: Any) -> str:
    """A hashable key for a BotCommandScope, validating it like Telegram."""
    if scope is None:
        return "default"
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = scope["type"]
    if kind in _GLOBAL_SCOPES:
        return kind
    if kind not in _CHAT_SCOPES:
        raise bad_request("unsupported bot command scope type")
    chat = world.find_chat(scope.get("chat_id"))
    if kind == "chat_member":
        user_id = scope.get("user_id")
        if not isinstance(user_id, int) or world.known_user(user_id) is None:
            raise bad_request("user not found")
        return f"chat_member:{chat.id}:{user_id}"
    return f"{kind}:{chat.id}"


def _command_target(world: World, params: Params) -> tuple[str, str]:
    language = params.get_str("language_code") or ""
    if language and not _LANGUAGE_RE.match(language):
        raise bad_request("invalid language code specified")
    return scope_key(world, params.get_json("scope", "BotCommandScope")), language


@method("setMyCommands")
async def set_my_commands(world: World, params: Params) -> Any:
    commands = params.get_json("commands", "commands")
    if not isinstance(commands, list) or len(commands) > _MAX_COMMANDS:
        raise bad_request("can't parse commands JSON object")
    checked = []
    for item in commands:
        if not isinstance(item, dict):
            raise bad_request("can't parse commands JSON object")
        command, description = item.get("command"), item.get("description")
        if not isinstance(command, str) or not _COMMAND_RE.match(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        checked.append({"command": command, "description": description})
    key = _command_target(world, params)
    if checked:
        world.commands[key] = checked
    else:
        world.commands.pop(key, None)
    return True


@method("getMyCommands")
async def get_my_commands(world: World, params: Params) -> Any:
    return [dict(item) for item in world.commands.get(_command_target(world, params), [])]


@method("deleteMyCommands")
async def delete_my_commands(world: World, params: Params) -> Any:
    world.commands.pop(_command_target(world, params), None)
    return True


DOWNLOAD_LIMIT = 20 * 1024 * 1024
"""A bot may download files of up to 20 MB."""


@method("getFile")
async def get_file(world: World, params: Params) -> Any:
    stored = world.files.get(params.get_str("file_id") or "")
    if stored is None:
        raise bad_request("wrong file_id or the file is temporarily unavailable")
    if stored.size > DOWNLOAD_LIMIT:
        raise bad_request("file is too big")
    return stored.file()
