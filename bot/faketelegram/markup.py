"""Validation of ``reply_markup`` with Telegram's refusals, returning a canonical dict to compare."""

from __future__ import annotations

from typing import Any

from bot.faketelegram.errors import ApiError, bad_request

_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "login_url",
    "web_app",
    "callback_game",
    "pay",
    "copy_text",
)
_URL_SCHEMES = ("http://", "https://", "tg://")
_REPLY_KEYBOARD_FLAGS = (
    "is_persistent",
    "resize_keyboard",
    "one_time_keyboard",
    "input_field_placeholder",
    "selective",
)
MAX_CALLBACK_DATA_BYTES = 64


def _cant_parse(reason: str) -> ApiError:
    return bad_request(f"can't parse inline keyboard button: {reason}")


def parse_reply_markup(raw: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
    """Validate any reply markup kind; ``inline_only`` for edits, which only take inline ones."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in raw:
        return {"inline_keyboard": _inline_rows(raw["inline_keyboard"])}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in raw:
        markup: dict[str, Any] = {"keyboard": _reply_rows(raw["keyboard"])}
        markup.update({k: raw[k] for k in _REPLY_KEYBOARD_FLAGS if raw.get(k) is not None})
        return markup
    for flag in ("remove_keyboard", "force_reply"):
        if flag in raw:
            if raw[flag] is not True:
                raise bad_request(f'field "{flag}" must be true')
            extra = ("selective", "input_field_placeholder")
            return {flag: True, **{k: raw[k] for k in extra if raw.get(k) is not None}}
    raise bad_request("can't parse reply keyboard markup JSON object")


def _inline_rows(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _cant_parse('Field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    return [[_inline_button(button) for button in row] for row in rows]


def _inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise _cant_parse("InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise _cant_parse('Can\'t find field "text"')
    if not text.strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [key for key in _BUTTON_ACTIONS if button.get(key) is not None]
    if not actions:
        raise _cant_parse("Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise _cant_parse(f"only one of {', '.join(actions)} may be specified")
    action = actions[0]
    value = button[action]
    if action == "callback_data" and (
        not isinstance(value, str) or not 1 <= len(value.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
    ):
        raise bad_request("BUTTON_DATA_INVALID")
    if action == "url" and (
        not isinstance(value, str) or not value.lower().startswith(_URL_SCHEMES)
    ):
        raise bad_request("BUTTON_URL_INVALID")
    return {key: val for key, val in button.items() if val is not None}


def _reply_rows(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
    result = []
    for row in rows:
        buttons = []
        for button in row:
            spec = {"text": button} if isinstance(button, str) else button
            if not isinstance(spec, dict) or not isinstance(spec.get("text"), str):
                raise bad_request("KeyboardButton must be a String or an Object with text")
            if not spec["text"].strip():
                raise bad_request("BUTTON_TEXT_INVALID")
            buttons.append({key: val for key, val in spec.items() if val is not None})
        result.append(buttons)
    return result


def button_rows(markup: dict[str, Any] | None) -> list[list[tuple[str, str | None]]]:
    """(text, callback_data or url or other action value) per button; reply keyboards give None."""
    if not markup:
        return []
    if "inline_keyboard" in markup:
        rows = []
        for row in markup["inline_keyboard"]:
            cells: list[tuple[str, str | None]] = []
            for button in row:
                action = next((k for k in _BUTTON_ACTIONS if k in button), None)
                value = button.get(action) if action else None
                cells.append((button["text"], value if isinstance(value, str) else None))
            rows.append(cells)
        return rows
    if "keyboard" in markup:
        return [[(button["text"], None) for button in row] for row in markup["keyboard"]]
    return []
