"""End to end: buttons under cards, replies that become notes, following, and notifications."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.faketelegram import FakeMessage
from tests.harness import ADMIN_ID, Harness, running_bot
from tests.test_e2e_commands import join

MING, LAN, BO = 2, 3, 4
GROUP = -1001


@pytest.fixture
async def bot(tmp_path: Path):
    async with running_bot(tmp_path) as harness:
        yield harness
        assert not harness.fake.rejections, "the bot sent something Telegram would refuse"


def labels(message: FakeMessage) -> list[str]:
    return [text for row in message.buttons for text, _ in row]


async def test_a_card_carries_status_note_and_follow_buttons(bot: Harness) -> None:
    bo, dm = bot.user(BO, "Bo")
    (card,) = await bot.say(bo, dm, "/task 5")
    assert labels(card) == ["⚪ 未启动", "🔵 进行中", "✅ 已完成", "⛔ 受阻", "📝 说明", "🔔 关注"]
    assert all(len(data.encode()) <= 64 for row in card.buttons for _, data in row)


async def test_a_reply_to_a_card_becomes_a_note(bot: Harness) -> None:
    ming, dm, _ = await join(bot, MING, "Ming", "cnipa")
    (card,) = await bot.say(ming, dm, "/task 10")
    (answer,) = await bot.say(ming, dm, "已召开协作机制启动会 & 印发方案", reply_to=card)
    assert answer.text == "已为任务 10 添加说明。"
    assert "Ming（国家知识产权局）: “已召开协作机制启动会 & 印发方案”" in await bot.ask(
        ming, dm, "/task 10"
    )


async def test_the_note_button_asks_with_a_forced_reply(bot: Harness) -> None:
    ming, dm, _ = await join(bot, MING, "Ming", "cnipa")
    (card,) = await bot.say(ming, dm, "/task 10")
    await bot.fake.tap(ming, card, text="📝 说明")
    (prompt,) = await bot.fake.replies(dm)
    assert prompt.text == "Ming，请回复这条消息，写下任务 10 的说明："
    assert prompt.reply_markup["force_reply"] is True
    (answer,) = await bot.say(ming, dm, "下周报送初稿", reply_to=prompt)
    assert answer.text == "已为任务 10 添加说明。"


async def test_a_reply_from_outside_the_task_is_refused_and_not_recorded(bot: Harness) -> None:
    ming, _, _ = await join(bot, MING, "Ming", "cnipa")
    bo, _ = bot.user(BO, "Bo")
    group = bot.fake.add_group(GROUP, "Team", members=[ming, bo])
    (card,) = await bot.say(ming, group, "/task 10")
    (answer,) = await bot.say(bo, group, "我来补充一句", reply_to=card)
    assert answer.text == "你还没有加入任何部门，请先通过邀请链接加入。"
    assert "我来补充一句" not in await bot.ask(ming, group, "/task 10")
    # People replying to each other are not talking to the bot.
    (human,) = [m for m in bot.fake.messages(group) if m.text == "我来补充一句"]
    assert await bot.fake.replies(group, at_least=0) == []
    await bot.fake.send(ming, group, "好的", reply_to=human)
    assert await bot.fake.replies(group, at_least=0) == []


async def test_follow_and_unfollow_from_the_card_and_the_list(bot: Harness) -> None:
    bo, dm = bot.user(BO, "Bo")
    (card,) = await bot.say(bo, dm, "/task 5")
    toast = await bot.fake.callback_answer(await bot.fake.tap(bo, card, text="🔔 关注"))
    assert toast.text == "已关注任务 5：有更新时会通知这里。"
    await bot.fake.replies(dm)
    assert "🔕 取消关注" in labels(bot.fake.last_bot_message(dm))

    assert "已关注中央宣传部的任务" in await bot.ask(bo, dm, "/subscribe 中宣部")
    assert "已经关注了任务 5" in await bot.ask(bo, dm, "/subscribe 5")
    (listing,) = await bot.say(bo, dm, "/subscriptions")
    assert listing.text == "本聊天关注的内容（2 项）：\n• 中央宣传部的任务\n• 任务 5"
    await bot.fake.tap(bo, listing, text="🔕 取消关注任务 5")
    await bot.fake.replies(dm)
    assert bot.fake.last_bot_message(dm).text == "本聊天关注的内容（1 项）：\n• 中央宣传部的任务"
    assert "已取消关注全部任务" not in await bot.ask(bo, dm, "/unsubscribe all")


async def test_only_admins_and_the_bound_managers_change_a_groups_subscriptions(
    bot: Harness,
) -> None:
    admin, _ = bot.user(ADMIN_ID, "Ada")
    ming, _, _ = await join(bot, MING, "Ming", "cnipa")
    group = bot.fake.add_group(GROUP, "Team", members=[admin, ming])
    await bot.ask(admin, group, "/bind cnipa")
    refused = await bot.ask(ming, group, "/subscribe 5")
    assert refused == "只有管理员或本群所绑定部门的负责人可以更改本群的设置。"
    assert "已关注任务 5" in await bot.ask(admin, group, "/subscribe 5")
    assert "本聊天关注的内容（1 项）" in await bot.ask(ming, group, "/subscriptions")


async def test_each_follower_gets_one_notification_and_the_origin_none(bot: Harness) -> None:
    admin, _ = bot.user(ADMIN_ID, "Ada")
    ming, ming_dm, _ = await join(bot, MING, "Ming", "cnipa")
    lan, lan_dm = bot.user(LAN, "Lan")
    group = bot.fake.add_group(GROUP, "知识产权局工作群", members=[admin, ming])
    await bot.ask(admin, group, "/bind cnipa")
    await bot.ask(admin, group, "/subscribe cnipa")
    await bot.ask(lan, lan_dm, "/subscribe 1")
    await bot.ask(lan, lan_dm, "/subscribe all")  # task and everything: still one message
    await bot.ask(ming, ming_dm, "/subscribe 1")  # the chat of origin: none
    before_group = len(bot.fake.bot_messages(group))
    before_lan = len(bot.fake.bot_messages(lan_dm))
    before_ming = len(bot.fake.bot_messages(ming_dm))

    await bot.ask(ming, ming_dm, "/update 1 进行中 30% 已起草")

    # Delivered through the outbox, after the answer: wait for them in each chat.
    (note,) = await bot.fake.replies(lan_dm, at_least=1, timeout=10)
    (group_note,) = await bot.fake.replies(group, at_least=1, timeout=10)
    await bot.fake.idle()
    assert len(bot.fake.bot_messages(lan_dm)) == before_lan + 1
    assert len(bot.fake.bot_messages(group)) == before_group + 1
    assert len(bot.fake.bot_messages(ming_dm)) == before_ming + 1  # only the confirmation
    assert note.text.startswith("🔔 任务 1 推进《中华人民共和国商标法》")
    assert "Ming（国家知识产权局）: ⚪→🔵 进行中 30% “已起草”" in note.text
    assert "🔕 取消关注" in labels(note)
    assert "🔔 关注" in labels(group_note)

    # A reply to a notification is a note too; a tap on it changes the status.
    (answer,) = await bot.say(ming, group, "已报送", reply_to=group_note)
    assert answer.text == "已为任务 1 添加说明。"
    toast = await bot.fake.callback_answer(await bot.fake.tap(ming, group_note, text="✅ 已完成"))
    assert toast.text == "已记录：任务 1 → ⏳ 已完成 100%，等待联席会议办公室销号"


async def test_replies_reach_the_bot_in_a_group_under_privacy_mode(tmp_path: Path) -> None:
    async with running_bot(tmp_path, privacy_mode=True) as bot:
        ming, _, _ = await join(bot, MING, "Ming", "cnipa")
        lan, _ = bot.user(LAN, "Lan")
        group = bot.fake.add_group(GROUP, "Team", members=[ming, lan])
        (card,) = await bot.say(ming, group, "/task 10")
        await bot.fake.send(lan, group, "大家好")  # plain chatter: not delivered to the bot
        assert await bot.fake.replies(group, at_least=0) == []
        (answer,) = await bot.say(ming, group, "会签已完成", reply_to=card)
        assert answer.text == "已为任务 10 添加说明。"
        assert "“会签已完成”" in await bot.ask(ming, group, "/task 10")
        assert not bot.fake.rejections


async def test_a_reply_right_after_the_card_is_not_lost(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load the card's database record can lag; the reply must still find its task: the
    chat's next update waits until the card's link is written."""
    ming, dm, _ = await join(bot, MING, "Ming", "cnipa")
    storage = bot.app.bot_data.storage
    remember = storage.message_tasks.remember
    held = asyncio.Event()

    async def slow(chat_id: int, message_id: int, task: int, **where: int | None) -> None:
        await held.wait()  # the write waits its turn behind others
        await remember(chat_id, message_id, task, **where)

    monkeypatch.setattr(storage.message_tasks, "remember", slow)
    await bot.fake.send(ming, dm, "/task 10")
    (card,) = await bot.fake.replies(dm, at_least=1)
    await bot.fake.send(ming, dm, "立刻回复", reply_to=card)
    with pytest.raises(TimeoutError):  # not answered wrongly meanwhile: not answered yet
        await bot.fake.replies(dm, timeout=0.5)
    held.set()
    (answer,) = await bot.fake.replies(dm, at_least=1)
    assert answer.text == "已为任务 10 添加说明。"


async def test_a_button_whose_number_is_in_other_digits_is_stale(bot: Harness) -> None:
    """Buttons carry ASCII digits; ``\\d`` matched Arabic-Indic and full-width ones too, and
    int() read them, so a forged ``st1:١:d`` marked task 1 done."""
    ming, dm, _ = await join(bot, MING, "Ming", "cnipa")
    (card,) = await bot.say(ming, dm, "/task 1")
    for data in ("st1:١:d", "st1:１:d", "nt1:١", "fl1:١:1"):
        answer = await bot.fake.callback_answer(await bot.fake.tap(ming, card, data, forged=True))
        assert answer.text == "这个按钮已失效，请重新发送命令。", data
    assert "状态：⚪ 未启动" in await bot.ask(ming, dm, "/task 1")
    assert "已关注" not in await bot.ask(ming, dm, "/subscriptions")


def shown_status(card: str) -> str:
    """The status and progress a card shows: its status line without the health light."""
    line = next(line for line in card.splitlines() if line.startswith("状态："))
    return line.removeprefix("状态：").rsplit(" · ", 1)[0]


async def test_moving_back_from_done_does_not_keep_100_percent(bot: Harness) -> None:
    """A status change without a figure keeps the last one only where it still holds: none
    when not started, below 100% when in progress or blocked."""
    ming, dm, _ = await join(bot, MING, "Ming", "cnipa")
    await bot.ask(ming, dm, "/update 1 done")
    assert shown_status(await bot.ask(ming, dm, "/update 1 未启动")) == "⚪ 未启动"

    await bot.ask(ming, dm, "/update 1 done")
    (card,) = await bot.say(ming, dm, "/task 1")
    await bot.fake.tap(ming, card, text="🔵 进行中")  # a button follows the same rule
    await bot.fake.replies(dm)
    assert shown_status(bot.fake.last_bot_message(dm).text) == "🔵 进行中"

    await bot.ask(ming, dm, "/update 1 进行中 60%")
    assert shown_status(await bot.ask(ming, dm, "/update 1 受阻 等待审批")) == "⛔ 受阻 · 60%"
    assert shown_status(await bot.ask(ming, dm, "/update 1 进行中")) == "🔵 进行中 · 60%"
    assert shown_status(await bot.ask(ming, dm, "/update 1 未启动 10%")) == "⚪ 未启动 · 10%"
