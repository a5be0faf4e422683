"""Malformed input: each gets a short, clear answer in the user's language, and nothing breaks.

One bot serves the whole table, as in life: after it, the fake Telegram has refused nothing the
bot sent, and the bot still answers.
"""

from __future__ import annotations

import difflib
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytest_asyncio

from bot import departments
from tests.harness import ADMIN_ID, Harness, running_bot

MEMBER, STRANGER, GROUP = 2, 3, -1001
LONG_NOTE = "长" * 4000  # a message holds 4,096 characters; see the 5,000-character test below
RTL = "مرحبا بالعالم"
ZERO_WIDTH = "\u200b\u200c\u200d"
LONE = "\ud800"
"""Half a UTF-16 surrogate pair, as a client's malformed UTF-16 can leave in a message; it is
no character, and neither SQLite nor an HTTP request can encode it. It arrives as U+FFFD."""

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    async with running_bot(Path(tmp_path_factory.mktemp("malformed"))) as harness:
        admin, admin_dm = harness.user(ADMIN_ID, "Ada")
        link = await harness.ask(admin, admin_dm, "/invite cnipa")
        code = link.rsplit("start=", 1)[1].strip()
        member, member_dm = harness.user(MEMBER, "Ming")
        assert "欢迎加入" in await harness.ask(member, member_dm, f"/start {code}")
        harness.user(STRANGER, "Bo")
        group = harness.fake.add_group(GROUP, "Team", members=[admin, member])
        assert "本群已绑定" in await harness.ask(admin, group, "/bind cnipa")
        yield harness


# (who, where, what they type, what the answer must contain; None = the bot stays silent)
CASES = [
    # /task: missing, extra and impossible numbers
    (
        "stranger",
        "dm",
        "/task",
        "用法：/task &lt;编号&gt;".replace("&lt;", "<").replace("&gt;", ">"),
    ),
    ("stranger", "dm", "/task 0", "“0”不是任务编号。任务编号是 1 到 110 之间的数字。"),
    ("stranger", "dm", "/task 111", "“111”不是任务编号"),
    ("stranger", "dm", "/task -1", "“-1”不是任务编号"),
    ("stranger", "dm", "/task abc", "“abc”不是任务编号"),
    ("stranger", "dm", "/task 99999999999999999999999", "不是任务编号"),
    ("stranger", "dm", "/task 1 2", "用法：/task"),
    ("stranger", "dm", "/task １２", "任务 12 ·"),
    ("stranger", "dm", "/task #12", "任务 12 ·"),
    ("stranger", "dm", f"/task {ZERO_WIDTH}7", "任务 7 ·"),
    ("stranger", "dm", "/task ＃１２", "任务 12 ·"),
    # Only ASCII and full-width digits are numbers: NFKC would read ² as 2 and ① as 1.
    ("stranger", "dm", "/task ²", "“²”不是任务编号。任务编号是 1 到 110 之间的数字。"),
    ("stranger", "dm", "/task ①", "“①”不是任务编号"),
    ("stranger", "dm", "/task ١٢", "“١٢”不是任务编号"),
    ("stranger", "dm", "/task 𝟏𝟐", "“𝟏𝟐”不是任务编号"),
    ("stranger", "dm", "/start task-²", "“²”不是任务编号"),
    ("stranger", "dm", "/subscribe ³", "“³”不是任务编号"),
    # /update: arguments missing, wrong, out of range; odd but valid notes
    ("member", "dm", "/update", "用法：/update"),
    ("member", "dm", "/update 1", "用法：/update"),
    ("member", "dm", "/update 1 flying", "不认识状态“flying”"),
    ("member", "dm", "/update 0 done", "“0”不是任务编号"),
    ("member", "dm", "/update 111 done", "“111”不是任务编号"),
    ("member", "dm", "/update abc done", "“abc”不是任务编号"),
    ("member", "dm", "/update 1 done 150%", "进度“150%”超出范围"),
    ("member", "dm", "/update 1 进行中 50％", "已记录：任务 1 → 🔵 进行中 50%"),
    ("member", "dm", "/update 1 进行中 ５５％", "已记录：任务 1 → 🔵 进行中 55%"),
    (
        "member",
        "dm",
        "/update 1 进行中 ²0%",
        "“²0%”不是进度数字：请写 0 到 100 的数字加 %，例如 60%。",
    ),
    ("member", "dm", "/update 1 进行中 ٥٠% 过半", "“٥٠%”不是进度数字"),
    ("member", "dm", "/update 1 进行中 ⑤%", "“⑤%”不是进度数字"),
    ("member", "dm", "/update ² done", "“²”不是任务编号"),
    ("member", "dm", "/note ① 说明", "“①”不是任务编号"),
    ("member", "dm", "/update 1 DONE", "已记录：任务 1 → ⏳ 已完成 100%，等待联席会议办公室销号"),
    ("member", "dm", "/update 1 推进中 60 % 正在推进", "已记录：任务 1 → 🔵 进行中 60%"),
    ("member", "dm", "/update 1 卡住 <b>bold</b> & co", "“<b>bold</b> & co”"),
    ("member", "dm", "/update 1 blocked 🚧 等待审批 👨‍👩‍👧", "“🚧 等待审批 👨‍👩‍👧”"),
    ("member", "dm", f"/update 1 in_progress {RTL}", f"“{RTL}”"),
    ("member", "dm", f"/update 1 in_progress {ZERO_WIDTH}", "已记录：任务 1 → 🔵 进行中"),
    ("member", "dm", f"/update 1 done {LONG_NOTE}", "说明太长（4000 字），最多 1000 字。"),
    ("stranger", "dm", "/update 1 done", "你还没有加入任何部门，请先通过邀请链接加入。"),
    ("member", "dm", "/update 12 done", "只有牵头部门中央宣传部的成员可以修改这项任务的状态。"),
    # /note
    ("member", "dm", "/note", "用法：/note"),
    ("member", "dm", "/note 1", "用法：/note"),
    ("member", "dm", f"/note 1 {ZERO_WIDTH}", "用法：/note"),
    ("member", "dm", "/note x hello", "“x”不是任务编号"),
    ("member", "dm", f"/note 1 {LONG_NOTE}", "说明太长（4000 字）"),
    ("member", "dm", "/note 1 <script>alert(1)</script>", "已为任务 1 添加说明。"),
    ("member", "dm", "/note 1 a & b &amp; c", "已为任务 1 添加说明。"),
    ("member", "dm", f"/note 1 {RTL}", "已为任务 1 添加说明。"),
    ("member", "dm", "/note 1 👍🏽👨‍👩‍👧✅", "已为任务 1 添加说明。"),
    # lists and search
    ("member", "dm", "/mytasks foo", "用法：/mytasks [lead|blocked|stale]"),
    ("member", "dm", "/mytasks lead extra", "用法：/mytasks"),
    ("member", "dm", "/mytasks 受阻", "筛选：受阻的任务，0 项"),
    ("stranger", "dm", "/mytasks", "你还没有加入任何部门"),
    ("stranger", "dm", "/find", "用法：/find"),
    ("stranger", "dm", "/find <>&", "包含“<>&”的任务：0 项"),
    ("stranger", "dm", "/find 🤖", "包含“🤖”的任务：0 项"),
    # The search folds away '-' and '_': a word of nothing else is no word (it matched all 110).
    ("stranger", "dm", "/find _", "用法：/find"),
    ("stranger", "dm", "/find -", "用法：/find"),
    ("stranger", "dm", "/find - _ _-_", "用法：/find"),
    ("stranger", "dm", "/find 商标 -", "包含“商标 -”的任务：6 项"),
    # departments: unknown, ambiguous, and where a command does not apply
    ("admin", "dm", "/invite", "用法：/invite"),
    ("admin", "dm", "/invite nowhere", "找不到部门“nowhere”。发送 /depts 查看所有部门及其代码。"),
    ("admin", "dm", "/invite 最高", "“最高”对应 2 个部门，请选择："),
    ("admin", "dm", "/invite cnipa boss", "找不到部门“cnipa boss”。你是不是指："),
    ("stranger", "dm", "/invite nowhere", "只有管理员或部门负责人可以邀请成员。"),
    ("member", "dm", "/invite 最高", "只有管理员或部门负责人可以邀请成员。"),
    ("admin", "dm", "/bind cnipa", "这个命令只能在群里使用。"),
    ("admin", "group", "/bind", "用法：/bind"),
    ("admin", "group", "/bind <b>xyz</b>", "找不到部门“<b>xyz</b>”"),
    ("member", "group", "/unbind", "只有管理员或本群所绑定部门的负责人可以解除绑定。"),
    ("stranger", "dm", "/unbind", "这个命令只能在群里使用。"),
    ("stranger", "dm", "/lang fr", "用法：/lang zh 或 /lang en"),
    ("stranger", "dm", "/lang", "用法：/lang"),
    ("member", "group", "/lang en", "只有管理员或本群所绑定部门的负责人可以更改本群的设置。"),
    # a lone surrogate, wherever people type text
    ("member", "dm", f"/note 10 进展{LONE}顺利", "已为任务 10 添加说明。"),
    ("member", "dm", f"/update 10 进行中 40% 推进{LONE}", "已记录：任务 10 → 🔵 进行中 40%"),
    ("stranger", "dm", f"/find 商标{LONE}", "包含“商标\ufffd”的任务：0 项"),
    ("admin", "dm", f"/invite xyz{LONE}", "找不到部门“xyz\ufffd”"),
    ("admin", "dm", f"/subscribe xyz{LONE}", "找不到部门“xyz\ufffd”"),
    ("stranger", "dm", f"/task {LONE}", "“\ufffd”不是任务编号"),
    ("stranger", "dm", f"{LONE} hello", "我只理解命令"),
    # deep links and stray input
    ("stranger", "dm", "/start join-doesnotexist0000", "邀请链接无效"),
    ("stranger", "dm", "/start task-0", "“0”不是任务编号"),
    ("stranger", "dm", "/start task-abc", "“abc”不是任务编号"),
    ("stranger", "dm", "/start garbage", "这个链接无法识别"),
    ("stranger", "dm", "/frobnicate", "不认识命令 /frobnicate。发送 /help 查看可用命令。"),
    ("stranger", "dm", "hello", "我只理解命令"),
    ("member", "group", "/task@other_bot 5", None),
    ("member", "group", "/frobnicate", None),
    ("member", "group", "/frobnicate@plan_test_bot", "不认识命令 /frobnicate"),
    ("member", "group", "/task@plan_test_bot 5", "任务 5 ·"),
]


@pytest.mark.parametrize(
    ("who", "where", "text", "expected"), CASES, ids=[c[2][:40] for c in CASES]
)
async def test_malformed_input_gets_a_clear_answer(
    bot: Harness, who: str, where: str, text: str, expected: str | None
) -> None:
    user_id = {"admin": ADMIN_ID, "member": MEMBER, "stranger": STRANGER}[who]
    person, dm = bot.user(user_id, "?")
    chat = dm if where == "dm" else bot.fake.chat(GROUP)
    before = len(bot.fake.rejections)
    await bot.fake.send(person, chat, text)
    replies = await bot.fake.replies(chat, at_least=0 if expected is None else 1)
    if expected is None:
        assert replies == []
        return
    assert replies, f"no answer to {text!r}"
    answer = replies[-1].text
    assert expected in answer
    assert len(answer) < 1200, "a clear answer is a short one"
    assert "Traceback" not in answer and "出错了" not in answer
    assert len(bot.fake.rejections) == before


async def test_a_5000_character_note_arrives_in_two_messages_and_both_are_answered(
    bot: Harness,
) -> None:
    """Telegram clients split text over 4,096 characters; the bot answers each part."""
    member, dm = bot.user(MEMBER, "Ming")
    note = "/note 1 " + "长" * 5000
    await bot.fake.send(member, dm, note[:4096])
    (first,) = await bot.fake.replies(dm)
    assert first.text == "说明太长（4088 字），最多 1000 字。"
    await bot.fake.send(member, dm, note[4096:])
    (second,) = await bot.fake.replies(dm)
    assert second.text.startswith("我只理解命令")


async def test_a_lone_surrogate_in_a_reply_is_recorded_as_a_replacement_character(
    bot: Harness,
) -> None:
    member, dm = bot.user(MEMBER, "Ming")
    (card,) = await bot.say(member, dm, "/task 13")
    (answer,) = await bot.say(member, dm, f"已提交{LONE}初稿", reply_to=card)
    assert answer.text == "已为任务 13 添加说明。"
    card_text = await bot.ask(member, dm, "/task 13")
    assert "“已提交\ufffd初稿”" in card_text
    assert "“推进\ufffd”" in await bot.ask(member, dm, "/task 10")


async def test_a_forged_page_button_with_an_empty_search_finds_nothing(bot: Harness) -> None:
    stranger, dm = bot.user(STRANGER, "Bo")
    (page,) = await bot.say(stranger, dm, "/find 知识产权")
    await bot.fake.tap(stranger, page, "pg1:f:1:_", forged=True)
    await bot.fake.replies(dm)
    assert bot.fake.last_bot_message(dm).text.startswith("包含“_”的任务：0 项")


@pytest.fixture
def fuzzy_matches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every fuzzy comparison the department resolver makes, counted where it is made."""
    made: list[tuple[str, str]] = []

    def counting(junk: None, a: str, b: str) -> difflib.SequenceMatcher[str]:
        made.append((a, b))
        return difflib.SequenceMatcher(junk, a, b)

    # The resolver's own view of difflib only: pytest's assertion diffs use the real one.
    monkeypatch.setattr(departments, "difflib", SimpleNamespace(SequenceMatcher=counting))
    return made


async def test_a_pasted_paragraph_as_a_department_is_unknown_without_fuzzy_matching(
    bot: Harness, fuzzy_matches: list[tuple[str, str]]
) -> None:
    """3,961 characters in /subscribe or /invite once ran difflib on the event loop for
    seconds, stalling every chat: input longer than any department's name is simply unknown."""
    paragraph = "".join(task.text for task in bot.app.bot_data.plan.tasks)[:3961]
    shown = f"找不到部门“{paragraph[:39]}…”。发送 /depts 查看所有部门及其代码。"
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    stranger, stranger_dm = bot.user(STRANGER, "Bo")
    assert await bot.ask(admin, admin_dm, f"/invite {paragraph}") == shown
    assert await bot.ask(admin, admin_dm, f"/invite {paragraph} manager") == shown
    assert await bot.ask(stranger, stranger_dm, f"/subscribe {paragraph}") == shown
    assert fuzzy_matches == []
    # A short unknown name is still compared, for a 'did you mean'.
    assert "你是不是指" in await bot.ask(admin, admin_dm, "/invite 知识产权总局")
    assert fuzzy_matches


async def test_who_may_not_decide_is_refused_before_any_matching(
    bot: Harness, fuzzy_matches: list[tuple[str, str]]
) -> None:
    member, member_dm = bot.user(MEMBER, "Ming")
    stranger, stranger_dm = bot.user(STRANGER, "Bo")
    group = bot.fake.chat(GROUP)
    refused_invite = "只有管理员或部门负责人可以邀请成员。"
    assert await bot.ask(stranger, stranger_dm, "/invite 知识产权总局") == refused_invite
    assert (
        await bot.ask(member, member_dm, "/invite 知识产权总局 manager") == "只有管理员可以这样做。"
    )
    assert await bot.ask(member, member_dm, "/invite 知识产权总局") == refused_invite
    refused_group = "只有管理员或本群所绑定部门的负责人可以更改本群的设置。"
    assert await bot.ask(member, group, "/subscribe 知识产权总局") == refused_group
    assert fuzzy_matches == []


async def test_after_all_that_nothing_was_refused_and_the_bot_still_serves(bot: Harness) -> None:
    assert len(CASES) >= 40
    assert bot.fake.rejections == []
    member, dm = bot.user(MEMBER, "Ming")
    card = await bot.ask(member, dm, "/task 1")
    assert card.startswith("任务 1 ·")
    assert "“<b>bold</b> & co”" in card or "<script>" in card  # escaped text shows literally
