"""End to end through the fake Telegram: what people see when they use the commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.harness import ADMIN_ID, Harness, running_bot

MING, LAN, BO = 2, 3, 4
GROUP = -1001


@pytest.fixture
async def bot(tmp_path: Path):
    async with running_bot(tmp_path) as harness:
        yield harness
        assert not harness.fake.rejections, "the bot sent something Telegram would refuse"


def invite_link(text: str) -> str:
    match = re.search(r"https://t\.me/plan_test_bot\?start=(join-[A-Za-z0-9_-]{16})", text)
    assert match, text
    return match.group(1)


async def join(bot: Harness, user_id: int, name: str, dept: str, manager: bool = False):
    """The admin invites; the person opens the link, as tapping it in Telegram would."""
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    text = await bot.ask(admin, admin_dm, f"/invite {dept}" + (" manager" if manager else ""))
    person, dm = bot.user(user_id, name)
    welcome = await bot.ask(person, dm, f"/start {invite_link(text)}")
    return person, dm, welcome


async def test_member_joins_by_deep_link_and_sees_the_departments_tasks(bot: Harness) -> None:
    ming, dm, welcome = await join(bot, MING, "Ming", "国家知识产权局")
    assert "欢迎加入国家知识产权局（成员）" in welcome
    assert "本部门牵头 23 项、参与 25 项任务" in welcome

    (page,) = await bot.say(ming, dm, "/mytasks")
    assert page.text.startswith("我的部门的任务：48 项（牵头 23 项）")
    assert "国家知识产权局 牵头" in page.text
    # Red: the 2024 plan's tasks fell due at its year end, and the test clock is in 2026.
    first_lines = [line for line in page.text.splitlines() if line.startswith("🔴⚪")]
    assert [int(line.split()[1]) for line in first_lines[:3]] == [1, 10, 13]
    assert "第 1/4 页" in page.text
    assert [text for row in page.buttons for text, _ in row] == ["下一页 ›"]

    await bot.fake.tap(ming, page, text="下一页 ›")
    await bot.fake.replies(dm)
    edited = bot.fake.last_bot_message(dm)
    assert edited.message_id == page.message_id and edited.edits == 1
    assert "第 2/4 页" in edited.text


async def test_a_failing_menu_does_not_cost_the_welcome(bot: Harness) -> None:
    """The invite is spent when opened: the welcome comes first, the menu is best-effort."""
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    link = invite_link(await bot.ask(admin, admin_dm, "/invite cnipa"))
    ming, dm = bot.user(MING, "Ming")
    bot.fake.fail_next("setMyCommands", error_code=500, count=12)
    replies = await bot.say(ming, dm, f"/start {link}")
    assert [r.text.splitlines()[0] for r in replies] == ["欢迎加入国家知识产权局（成员）！"]
    assert (await bot.ask(ming, dm, "/mytasks")).startswith("我的部门的任务：48 项")
    replies = await bot.say(ming, dm, "/start")  # the menu fails again: the hello still stands
    assert [r.text.splitlines()[0] for r in replies] == [
        "你好，Ming！我协助各部门推进《2024 年知识产权强国建设推进计划》的任务落实。"
    ]


async def test_a_used_invite_is_refused(bot: Harness) -> None:
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    link = invite_link(await bot.ask(admin, admin_dm, "/invite cnipa"))
    ming, ming_dm = bot.user(MING, "Ming")
    assert "欢迎加入" in await bot.ask(ming, ming_dm, f"/start {link}")
    lan, lan_dm = bot.user(LAN, "Lan")
    assert "这个邀请链接已经用过了" in await bot.ask(lan, lan_dm, f"/start {link}")
    assert "你还没有加入任何部门" in await bot.ask(lan, lan_dm, "/mytasks")
    assert "已经用过了" in await bot.ask(ming, ming_dm, f"/start {link}")


async def test_a_bound_group_lists_its_departments_tasks(bot: Harness) -> None:
    admin, _ = bot.user(ADMIN_ID, "Ada")
    ming, _, _ = await join(bot, MING, "Ming", "cnipa")
    bo, _ = bot.user(BO, "Bo")
    group = bot.fake.add_group(GROUP, "知识产权局工作群", members=[admin, ming, bo])
    assert "本群还没有绑定部门" in await bot.ask(bo, group, "/mytasks")
    assert (await bot.ask(ming, group, "/mytasks")).startswith("我的部门的任务")
    bound = await bot.ask(admin, group, "/bind cnipa")
    assert "本群已绑定到国家知识产权局（48 项任务，牵头 23 项）" in bound
    listing = await bot.ask(ming, group, "/mytasks lead")
    assert listing.startswith("国家知识产权局的任务：48 项（牵头 23 项）")
    assert "筛选：牵头的任务，23 项" in listing
    assert "参与" not in listing.split("\n", 2)[2]


async def test_a_member_changes_the_status_of_a_led_task(bot: Harness) -> None:
    ming, dm, _ = await join(bot, MING, "Ming", "cnipa")
    answer = await bot.ask(ming, dm, "/update 1 进行中 40% 商标法修改草案已报送")
    assert answer.startswith("已记录：任务 1 → 🔵 进行中 40%")
    card = await bot.ask(ming, dm, "/task 1")
    assert "状态：🔵 进行中 · 40%" in card
    assert "Ming（国家知识产权局）: ⚪→🔵 进行中 40% “商标法修改草案已报送”" in card


async def test_a_participating_member_may_note_but_not_change_status(bot: Harness) -> None:
    # Task 9 is led by the Ministry of Finance; the Publicity Department takes part.
    lan, dm, _ = await join(bot, LAN, "Lan", "cpd")
    refused = await bot.ask(lan, dm, "/update 9 done")
    assert refused == "只有牵头部门财政部可以修改这项任务的状态；你可以用 /note 添加说明。"
    assert "已为任务 9 添加说明" in await bot.ask(lan, dm, "/note 9 版权部分已完成测算")
    card = await bot.ask(lan, dm, "/task 9")
    assert "状态：⚪ 未启动" in card
    assert "Lan（中央宣传部）: “版权部分已完成测算”" in card
    assert "只有牵头部门" in await bot.ask(lan, dm, "/update 1 done")
    assert "你的部门不负责这项任务" in await bot.ask(lan, dm, "/note 1 hello")


async def test_a_stranger_is_refused_but_may_read(bot: Harness) -> None:
    bo, dm = bot.user(BO, "Bo")
    assert await bot.ask(bo, dm, "/update 1 done") == "你还没有加入任何部门，请先通过邀请链接加入。"
    assert await bot.ask(bo, dm, "/note 1 hi") == "你还没有加入任何部门，请先通过邀请链接加入。"
    assert await bot.ask(bo, dm, "/invite cnipa") == "只有管理员或部门负责人可以邀请成员。"
    assert "任务 1 ·" in await bot.ask(bo, dm, "/task 1")
    assert "包含“商标”的任务" in await bot.ask(bo, dm, "/find 商标")
    departments = (await bot.ask(bo, dm, "/depts")).splitlines()
    assert departments[0] == "部门（43 个）：代码 名称 · 牵头/参与 · 已完成 待销号"
    assert "cnipa 国家知识产权局 · 23/25 · ✅0 ⏳0" in departments
    await bot.fake.send(bo, dm, "/overview")
    *texts, chart = await bot.fake.replies(dm, at_least=2)  # the chart takes a moment to draw
    assert "按牵头部门" in texts[-1].text
    assert chart.photo is not None and chart.photo.startswith(b"\x89PNG")
    assert chart.caption.startswith("2024 年知识产权强国建设推进计划")
    help_text = await bot.ask(bo, dm, "/help")
    assert "/task" in help_text and "/update" not in help_text and "/invite" not in help_text


async def test_status_buttons_check_permission_like_the_command(bot: Harness) -> None:
    ming, ming_dm, _ = await join(bot, MING, "Ming", "cnipa")
    (card,) = await bot.say(ming, ming_dm, "/task 1")
    query = await bot.fake.tap(ming, card, text="✅ 已完成")
    toast = await bot.fake.callback_answer(query)
    assert toast.text == "已记录：任务 1 → ⏳ 已完成 100%，等待联席会议办公室销号"
    await bot.fake.replies(ming_dm)
    assert "状态：⏳ 待销号 · 100%" in bot.fake.last_bot_message(ming_dm).text

    lan, lan_dm, _ = await join(bot, LAN, "Lan", "cpd")
    (other,) = await bot.say(lan, lan_dm, "/task 1")
    refused = await bot.fake.callback_answer(await bot.fake.tap(lan, other, text="⛔ 受阻"))
    assert refused.text == "只有牵头部门国家知识产权局的成员可以修改这项任务的状态。"
    assert refused.show_alert
    assert "状态：⏳ 待销号" in await bot.ask(lan, lan_dm, "/task 1")


async def test_forged_buttons_get_nowhere(bot: Harness) -> None:
    bo, dm = bot.user(BO, "Bo")
    (card,) = await bot.say(bo, dm, "/task 1")
    for data in (
        "st1:1:d",
        "st1:999:d",
        "st9:1:d",
        "dp1:bind:cnipa",
        "dp1:inv:cnipa:m",
        "pg1:m:1:zz:-",
        "xx",
    ):
        answer = await bot.fake.callback_answer(await bot.fake.tap(bo, card, data, forged=True))
        assert answer.text, data
        assert "已记录" not in answer.text
    assert "状态：⚪ 未启动" in await bot.ask(bo, dm, "/task 1")


async def test_managers_invite_and_bind_their_own_department_only(bot: Harness) -> None:
    wang, dm, welcome = await join(bot, MING, "Wang", "cnipa", manager=True)
    assert "欢迎加入国家知识产权局（负责人）" in welcome
    assert "start=join-" in await bot.ask(wang, dm, "/invite cnipa")
    assert await bot.ask(wang, dm, "/invite cnipa manager") == "只有管理员可以这样做。"
    assert "只有管理员或中央宣传部的负责人可以邀请" in await bot.ask(wang, dm, "/invite cpd")
    group = bot.fake.add_group(GROUP, "Team", members=[wang])
    assert "只有管理员或中央宣传部的负责人" in await bot.ask(wang, group, "/bind 中宣部")
    assert await bot.ask(wang, group, "/bind all") == "只有管理员可以这样做。"
    assert "本群已绑定到国家知识产权局" in await bot.ask(wang, group, "/bind 知识产权局")
    assert "本群已解除与国家知识产权局的绑定" in await bot.ask(wang, group, "/unbind")
    assert await bot.ask(wang, dm, "/bind cnipa") == "这个命令只能在群里使用。"


async def test_an_ambiguous_department_offers_buttons(bot: Harness) -> None:
    admin, _ = bot.user(ADMIN_ID, "Ada")
    group = bot.fake.add_group(GROUP, "Courts", members=[admin])
    (choice,) = await bot.say(admin, group, "/bind 最高")
    assert choice.text == "“最高”对应 2 个部门，请选择："
    assert [text for row in choice.buttons for text, _ in row] == ["最高人民法院", "最高人民检察院"]
    await bot.fake.tap(admin, choice, text="最高人民检察院")
    await bot.fake.replies(group)
    assert "本群已绑定到最高人民检察院" in bot.fake.last_bot_message(group).text


async def test_language_follows_the_client_and_lang(bot: Harness) -> None:
    eve, dm = bot.user(5, "Eve", language="en")
    assert (await bot.ask(eve, dm, "/task 1")).startswith("Task 1 · 一、完善知识产权制度")
    assert await bot.ask(eve, dm, "/lang zh") == "本聊天已切换为中文。"
    assert (await bot.ask(eve, dm, "/task 1")).startswith("任务 1")
    assert await bot.ask(eve, dm, "/lang en") == "This chat is now in English."
    assert "Lead: China National Intellectual Property Administration" in await bot.ask(
        eve, dm, "/task 1"
    )


async def test_command_menus_are_registered_in_both_languages(bot: Harness) -> None:
    zh = dict(bot.fake.commands(scope="all_private_chats", language_code=""))
    en = dict(bot.fake.commands(scope="all_private_chats", language_code="en"))
    assert zh["task"] == "任务卡片：/task 12" and en["task"] == "A task card: /task 12"
    assert "invite" not in zh
    groups = dict(bot.fake.commands(scope="all_group_chats", language_code=""))
    assert {"bind", "unbind", "mytasks", "update"} <= set(groups)
    admin, dm = bot.user(ADMIN_ID, "Ada")
    await bot.ask(admin, dm, "/start")
    own = dict(bot.fake.commands(scope={"type": "chat", "chat_id": ADMIN_ID}, language_code=""))
    assert "invite" in own


async def test_an_unexpected_error_is_logged_with_an_id_and_told_briefly(
    bot: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    bo, dm = bot.user(BO, "Bo")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bot.app.bot_data.storage.updates, "history", broken)
    answer = await bot.ask(bo, dm, "/task 1")
    error_id = re.search(r"编号 ([0-9a-f]{8})", answer)
    assert error_id and answer.startswith("抱歉，处理时出错了")
    assert any(error_id.group(1) in r.getMessage() and r.exc_info for r in caplog.records)
    monkeypatch.undo()
    assert "任务 1 ·" in await bot.ask(bo, dm, "/task 1"), "the bot keeps serving"


async def test_rebinding_needs_the_current_binding_too(bot: Harness) -> None:
    admin, _ = bot.user(ADMIN_ID, "Ada")
    wang, _, _ = await join(bot, MING, "Wang", "cnipa", manager=True)
    group = bot.fake.add_group(GROUP, "Team", members=[admin, wang])
    assert "本群已绑定到中央宣传部" in await bot.ask(admin, group, "/bind cpd")
    refused = await bot.ask(wang, group, "/bind cnipa")
    assert refused == "本群已绑定到中央宣传部，只有管理员或中央宣传部的负责人可以更改绑定。"
    assert "只有管理员或本群所绑定部门的负责人" in await bot.ask(wang, group, "/unbind")
    assert "本群绑定的部门：中央宣传部" in await bot.ask(wang, group, "/help")

    assert "本群已绑定到整个计划" in await bot.ask(admin, group, "/bind all")
    refused = await bot.ask(wang, group, "/bind cnipa")
    assert refused == "本群已绑定到整个计划，只有管理员可以更改绑定。"

    # The department-choice buttons ask the same question: 最高 offers the two top bodies.
    (choice,) = await bot.say(wang, group, "/bind 最高")
    toast = await bot.fake.callback_answer(await bot.fake.tap(wang, choice, text="最高人民检察院"))
    assert toast.text == "只有管理员或最高人民检察院的负责人可以把群绑定到该部门。"
    forged = await bot.fake.callback_answer(
        await bot.fake.tap(wang, choice, "dp1:bind:cnipa", forged=True)
    )
    assert forged.text == "本群已绑定到整个计划，只有管理员可以更改绑定。"
    assert "本群绑定到整个计划" in await bot.ask(wang, group, "/help")

    assert "本群已绑定到国家知识产权局" in await bot.ask(admin, group, "/bind cnipa")
    assert "本群已绑定到国家知识产权局" in await bot.ask(wang, group, "/bind 知识产权局")
    assert await bot.ask(wang, group, "/bind all") == "只有管理员可以这样做。"


async def test_a_forged_choice_button_cannot_invite_to_the_whole_plan(bot: Harness) -> None:
    admin, dm = bot.user(ADMIN_ID, "Ada")
    (card,) = await bot.say(admin, dm, "/task 1")
    for data in ("dp1:inv:*", "dp1:inv:*:m"):
        answer = await bot.fake.callback_answer(await bot.fake.tap(admin, card, data, forged=True))
        assert answer.text == "这个按钮已失效，请重新发送命令。"
    await bot.fake.idle()
    assert await bot.app.bot_data.storage.db.fetchvalue("SELECT count(*) FROM invites") == 0
