"""The message catalogue: both languages complete, same placeholders, valid Telegram HTML."""

from __future__ import annotations

import string

import pytest

from bot.faketelegram import EntityParseError, parse_html
from bot.i18n import CATALOGUE, Markup, esc, pick_language, plain, t
from bot.registry import COMMANDS

HOSTILE = '<b>&amp; "x" \' & < >'


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_exists_in_every_language() -> None:
    zh, en = set(CATALOGUE["zh"]), set(CATALOGUE["en"])
    assert zh - en == set(), f"missing in English: {sorted(zh - en)}"
    assert en - zh == set(), f"missing in Chinese: {sorted(en - zh)}"


@pytest.mark.parametrize("key", sorted(CATALOGUE["zh"]))
def test_same_placeholders_and_valid_html(key: str) -> None:
    zh, en = CATALOGUE["zh"][key], CATALOGUE["en"][key]
    assert placeholders(zh) == placeholders(en), key
    for lang in ("zh", "en"):
        filled = t(lang, key, **dict.fromkeys(placeholders(CATALOGUE[lang][key]), HOSTILE))
        try:
            parse_html(filled)
        except EntityParseError as exc:  # pragma: no cover - the assertion says which
            pytest.fail(f"{lang}:{key} is not valid Telegram HTML when filled: {exc}")
        assert "<b>&amp;" not in filled, "a field was not escaped"


def test_every_command_has_help_and_a_menu_entry() -> None:
    for command in COMMANDS:
        for lang in ("zh", "en"):
            assert command.help_key in CATALOGUE[lang]
            description = plain(t(lang, command.menu_key), 1000)
            assert 1 <= len(description) <= 256


def test_escaping_and_markup() -> None:
    assert esc("<a href='x'>&") == "&lt;a href='x'&gt;&amp;"
    assert esc(Markup("<b>ok</b>")) == "<b>ok</b>"
    joined = Markup("<b>a</b>") + "<i>"
    assert isinstance(joined, Markup) and joined == "<b>a</b>&lt;i&gt;"
    assert plain(Markup("<b>5 &lt; 6</b>")) == "5 < 6"


@pytest.mark.parametrize(
    ("chat", "client", "default", "expected"),
    [
        (None, None, "zh", "zh"),
        (None, "en-GB", "zh", "en"),
        (None, "zh-hans", "en", "zh"),
        (None, "fr", "zh", "zh"),
        ("zh", "en", "zh", "zh"),
        ("en", "zh-hans", "zh", "en"),
    ],
)
def test_language_choice(chat, client, default, expected) -> None:
    assert pick_language(chat, client, default) == expected
