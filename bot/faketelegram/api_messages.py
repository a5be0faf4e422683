"""Bot API methods that send, edit, delete or answer, with Telegram's refusals."""

from __future__ import annotations

import time
from typing import Any

from bot.faketelegram.api_base import method
from bot.faketelegram.errors import ApiError, bad_request
from bot.faketelegram.files import StoredFile, image_size
from bot.faketelegram.formatting import Formatted, format_caption, format_text
from bot.faketelegram.html import utf16_len
from bot.faketelegram.markup import parse_reply_markup
from bot.faketelegram.models import CallbackAnswer, FakeChat, FakeMessage
from bot.faketelegram.params import Params
from bot.faketelegram.world import BotEvent, World

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_PHOTO_MAX_BYTES = 10 * 1024 * 1024
_DOCUMENT_MAX_BYTES = 50 * 1024 * 1024
_ANSWER_MAX = 200


def _markup(params: Params, *, inline_only: bool = False) -> dict[str, Any] | None:
    raw = params.get_json("reply_markup", "reply keyboard markup")
    return parse_reply_markup(raw, inline_only=inline_only)


def _inline(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    return markup if markup and "inline_keyboard" in markup else None


def _reply_target(chat: FakeChat, params: Params) -> FakeMessage | None:
    reply = params.get_json("reply_parameters", "reply parameters")
    allow = params.get_bool("allow_sending_without_reply")
    message_id: Any = None
    if isinstance(reply, dict):
        message_id = reply.get("message_id")
        allow = allow or bool(reply.get("allow_sending_without_reply"))
    elif reply is not None:
        raise bad_request("can't parse reply parameters JSON object")
    if message_id is None:
        message_id = params.get_int("reply_to_message_id")
    if message_id is None:
        return None
    target = chat.messages.get(message_id) if isinstance(message_id, int) else None
    if target is None or target.deleted:
        if allow:
            return None
        raise bad_request("message to be replied not found")
    return target


def _post(world: World, params: Params, chat: FakeChat, **fields: Any) -> dict[str, Any]:
    """Shared tail of every send method: markup, reply, options, flood limits, store."""
    markup = _markup(params)
    reply_to = _reply_target(chat, params)
    params.get_json("link_preview_options", "link preview options")
    if world.limiter is not None:
        world.limiter.check_send(chat.id, chat.is_group)
    message = world.new_message(
        chat,
        world.bot,
        reply_markup=markup,
        reply_to=reply_to,
        protected=params.get_bool("protect_content"),
        **fields,
    )
    world.bot_changed(message, "message")
    return message.to_api()


def _text_fields(formatted: Formatted) -> dict[str, Any]:
    return {
        "text": formatted.text,
        "entities": formatted.entities,
        "source": formatted.source,
        "parse_mode": formatted.parse_mode,
    }


def _caption_fields(formatted: Formatted | None) -> dict[str, Any]:
    if formatted is None or not formatted.text:
        return {"caption": None, "caption_entities": []}
    return {
        "caption": formatted.text,
        "caption_entities": formatted.entities,
        "source": formatted.source,
        "parse_mode": formatted.parse_mode,
    }


@method("sendMessage", replies=True)
async def send_message(world: World, params: Params) -> Any:
    chat = world.writable_chat(params.raw("chat_id"))
    formatted = format_text(params, world.known_user)
    return _post(world, params, chat, **_text_fields(formatted))


def _file_param(world: World, params: Params, field: str) -> StoredFile:
    """The uploaded (multipart) or referenced (file_id) file, checked like Telegram does."""
    upload = params.get_file(field)
    if upload is None:
        ref = params.get_str(field)
        if not ref:
            raise bad_request(f"there is no {field} in the request")
        if ref.lower().startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        stored = world.files.get(ref)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored
    data = upload.body
    if not data:
        raise bad_request("file must be non-empty")
    name = upload.filename or field
    if field == "document":
        if len(data) > _DOCUMENT_MAX_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        return world.files.put(data, name, "documents")
    size = image_size(data)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if len(data) > _PHOTO_MAX_BYTES:
        raise bad_request("file is too big")
    if (
        not width
        or not height
        or width + height > 10000
        or max(width, height) > 20 * min(width, height)
    ):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return world.files.put(data, name, "photos", size)


async def _send_file(world: World, params: Params, field: str) -> Any:
    chat = world.writable_chat(params.raw("chat_id"))
    stored = _file_param(world, params, field)
    caption = format_caption(params, world.known_user)
    return _post(
        world, params, chat, attachment=stored, attachment_kind=field, **_caption_fields(caption)
    )


@method("sendPhoto", replies=True)
async def send_photo(world: World, params: Params) -> Any:
    return await _send_file(world, params, "photo")


@method("sendDocument", replies=True)
async def send_document(world: World, params: Params) -> Any:
    return await _send_file(world, params, "document")


def _editable(world: World, params: Params) -> FakeMessage:
    if params.get_str("inline_message_id"):
        raise bad_request("message to edit not found")
    chat = world.find_chat(params.raw("chat_id"))
    world.check_access(chat, write=True)
    message_id = params.get_int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise bad_request("message to edit not found")
    if not message.is_bot:
        raise bad_request("message can't be edited")
    return message


def _apply_edit(world: World, message: FakeMessage, markup: dict[str, Any] | None) -> Any:
    if markup is not None or _inline(message.reply_markup) is not None:
        message.reply_markup = markup
    message.edits += 1
    world.bot_changed(message, "edit")
    return message.to_api()


@method("editMessageText", replies=True)
async def edit_message_text(world: World, params: Params) -> Any:
    message = _editable(world, params)
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    formatted = format_text(params, world.known_user)
    markup = _markup(params, inline_only=True)
    same_markup = markup == _inline(message.reply_markup)
    if formatted.text == message.text and formatted.entities == message.entities and same_markup:
        raise bad_request(NOT_MODIFIED)
    for key, value in _text_fields(formatted).items():
        setattr(message, key, value)
    message.edit_date = int(time.time())
    return _apply_edit(world, message, markup)


@method("editMessageCaption", replies=True)
async def edit_message_caption(world: World, params: Params) -> Any:
    message = _editable(world, params)
    if message.attachment is None:
        raise bad_request("there is no caption in the message to edit")
    fields = _caption_fields(format_caption(params, world.known_user))
    markup = _markup(params, inline_only=True)
    same_caption = (fields["caption"], fields["caption_entities"]) == (
        message.caption,
        message.caption_entities,
    )
    if same_caption and markup == _inline(message.reply_markup):
        raise bad_request(NOT_MODIFIED)
    for key, value in fields.items():
        setattr(message, key, value)
    message.edit_date = int(time.time())
    return _apply_edit(world, message, markup)


@method("editMessageReplyMarkup", replies=True)
async def edit_message_reply_markup(world: World, params: Params) -> Any:
    message = _editable(world, params)
    markup = _markup(params, inline_only=True)
    if markup == _inline(message.reply_markup):
        raise bad_request(NOT_MODIFIED)
    return _apply_edit(world, message, markup)


@method("deleteMessage", replies=True)
async def delete_message(world: World, params: Params) -> Any:
    chat = world.find_chat(params.raw("chat_id"))
    world.check_access(chat, write=False)
    message_id = params.get_int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise bad_request("message to delete not found")
    if not message.is_bot and chat.is_group and chat.bot_status != "administrator":
        raise bad_request("message can't be deleted")
    message.deleted = True
    world.emit(BotEvent("delete", chat, message))
    return True


@method("answerCallbackQuery", replies=True)
async def answer_callback_query(world: World, params: Params) -> Any:
    query_id = params.get_str("callback_query_id") or ""
    query = world.queries.get(query_id)
    expired = query is not None and time.monotonic() - query.created > world.callback_ttl
    if query is None or query.answer is not None or expired:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.get_str("text")
    if text is not None and utf16_len(text) > _ANSWER_MAX:
        raise bad_request("MESSAGE_TOO_LONG")
    answer = CallbackAnswer(query_id, text, params.get_bool("show_alert"))
    query.answer = answer
    query.answered.set()
    world.callback_answers.append(answer)
    world.emit(BotEvent("answer", query.message.chat, query.message, text))
    return True


@method("sendChatAction")
async def send_chat_action(world: World, params: Params) -> Any:
    world.writable_chat(params.raw("chat_id"))
    if params.get_str("action") not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True
