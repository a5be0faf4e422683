"""End to end through the fake Telegram: who is in a department, taking access back, leaving,
and the invite links still open, as the people doing it see it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.faketelegram import FakeMessage
from storage.people import Role
from tests import rows
from tests.conftest import FakeClock
from tests.harness import ADMIN_ID, Harness, running_bot
from tests.test_e2e_commands import invite_link, join

WANG, MING, LAN, BO = 2, 3, 4, 5
GROUP = -1001
STRANGER = "你还没有加入任何部门，请先通过邀请链接加入。"


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock):
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness
        assert not harness.fake.rejections, "the bot sent something Telegram would refuse"


def labels(message: FakeMessage) -> list[str]:
    return [text for row in message.buttons for text, _ in row]


def data_of(message: FakeMessage, label: str) -> str:
    return next(data for row in message.buttons for text, data in row if text == label)


async def team(bot: Harness) -> None:
    """Wang manages cnipa (made so by the admin); Ming and Bo are its members; Lan is cpd's."""
    bot.user(WANG, "Wang", username="wang_fang")
    bot.user(MING, "Ming", username="Ming_Li")
    bot.user(LAN, "Lan", username="lan")
    await join(bot, WANG, "Wang", "cnipa", manager=True)
    await join(bot, MING, "Ming", "cnipa")
    await join(bot, BO, "Bo", "cnipa")
    await join(bot, LAN, "Lan", "cpd")


async def test_members_lists_role_joined_and_last_report(bot: Harness, clock: FakeClock) -> None:
    await team(bot)
    ming, ming_dm = bot.user(MING, "Ming")
    clock.advance(hours=2)
    assert "已记录" in await bot.ask(ming, ming_dm, "/update 1 进行中 20%")
    clock.advance(days=1)

    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    listing = await bot.ask(admin, admin_dm, "/members 知识产权局")
    assert listing.splitlines() == [
        "国家知识产权局的人员（3 人）：",
        "• Wang @wang_fang 2 · 负责人 · 2026-11-23 加入 · 最近报告：从未",
        "• Ming @Ming_Li 3 · 成员 · 2026-11-23 加入 · 最近报告：2026-11-23 11:00",
        "• Bo 5 · 成员 · 2026-11-23 加入 · 最近报告：从未",
        "",
        "移除：/remove cnipa @用户名 或 /remove cnipa 用户 ID",
    ]
    # A member sees their own department, without the hint; nobody else does.
    own = await bot.ask(ming, ming_dm, "/members")
    assert own.startswith("国家知识产权局的人员（3 人）") and "/remove" not in own
    lan, lan_dm = bot.user(LAN, "Lan")
    assert await bot.ask(lan, lan_dm, "/members cnipa") == (
        "只有管理员和国家知识产权局的成员可以查看该部门的人员。"
    )
    stranger, stranger_dm = bot.user(9, "Zhou")
    assert "只有管理员和" in await bot.ask(stranger, stranger_dm, "/members cnipa")
    assert await bot.ask(stranger, stranger_dm, "/members") == (
        "用法：/members <部门>，例如 /members cnipa"
    )
    assert await bot.ask(admin, admin_dm, "/members mof") == (
        "财政部还没有人加入。用 /invite mof 生成邀请链接。"
    )
    # An ambiguous name offers the departments; the button asks the same question.
    (choice,) = await bot.say(lan, lan_dm, "/members 最高")
    toast = await bot.fake.callback_answer(await bot.fake.tap(lan, choice, text="最高人民法院"))
    assert toast.text == "只有管理员和最高人民法院的成员可以查看该部门的人员。"
    (choice,) = await bot.say(admin, admin_dm, "/members 最高")
    await bot.fake.tap(admin, choice, text="最高人民法院")
    (edited,) = await bot.fake.replies(admin_dm)
    assert edited.text == "最高人民法院还没有人加入。用 /invite spc 生成邀请链接。"


async def test_a_manager_removes_members_by_username_id_and_reply(bot: Harness) -> None:
    await team(bot)
    wang, wang_dm = bot.user(WANG, "Wang")
    ming, ming_dm = bot.user(MING, "Ming")
    bo, bo_dm = bot.user(BO, "Bo")
    (card,) = await bot.say(ming, ming_dm, "/task 1")  # a card Ming will tap after removal
    assert "update" in dict(bot.fake.commands({"type": "chat", "chat_id": MING}))

    answer = await bot.ask(wang, wang_dm, "/remove cnipa @ming_li")
    assert answer == "已将 Ming @Ming_Li 移出国家知识产权局，其权限即时失效。"
    assert await bot.ask(wang, wang_dm, f"/remove 国家知识产权局 {BO}") == (
        "已将 Bo 移出国家知识产权局，其权限即时失效。"
    )
    lan, _ = bot.user(LAN, "Lan")
    await join(bot, LAN, "Lan", "cnipa")
    group = bot.fake.add_group(GROUP, "知识产权局工作群", members=[wang, lan])
    said = await bot.fake.send(lan, group, "我下周调岗")
    await bot.fake.send(wang, group, "/remove cnipa", reply_to=said)
    (removed,) = await bot.fake.replies(group)
    assert removed.text == "已将 Lan @lan 移出国家知识产权局，其权限即时失效。"
    assert (await bot.ask(wang, wang_dm, "/members cnipa")).splitlines()[0] == (
        "国家知识产权局的人员（1 人）："
    )

    # Roles come from the database on every update: the next command and tap are refused.
    assert await bot.ask(ming, ming_dm, "/update 1 done") == STRANGER
    toast = await bot.fake.callback_answer(await bot.fake.tap(ming, card, text="✅ 已完成"))
    assert toast.text == STRANGER and toast.show_alert
    assert "状态：⚪ 未启动" in await bot.ask(ming, ming_dm, "/task 1")
    assert "访客（只读）" in await bot.ask(bo, bo_dm, "/start")
    # Their own command menus were brought back to an outsider's.
    for person in (MING, BO):
        assert "update" not in dict(bot.fake.commands({"type": "chat", "chat_id": person}))
    # Lan is still in the Publicity Department: her menu keeps what a member may do.
    assert "update" in dict(bot.fake.commands({"type": "chat", "chat_id": LAN}))


async def test_removal_refusals_say_why(bot: Harness) -> None:
    await team(bot)
    wang, wang_dm = bot.user(WANG, "Wang")
    ming, ming_dm = bot.user(MING, "Ming")
    lan, lan_dm = bot.user(LAN, "Lan")
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    bot.user(6, "Qian", username="qian")
    await join(bot, 6, "Qian", "cnipa", manager=True)

    assert await bot.ask(wang, wang_dm, "/remove cnipa @qian") == "只有管理员可以移除部门负责人。"
    assert await bot.ask(ming, ming_dm, f"/remove cnipa {BO}") == (
        "只有管理员或国家知识产权局的负责人可以移除该部门的成员。"
    )
    assert await bot.ask(lan, lan_dm, "/remove cnipa @nobody") == (
        "只有管理员或国家知识产权局的负责人可以移除该部门的成员。"
    ), "nothing is said about the person to someone who may not remove"
    assert await bot.ask(wang, wang_dm, "/remove cpd @lan") == (
        "只有管理员或中央宣传部的负责人可以移除该部门的成员。"
    )
    assert (
        await bot.ask(wang, wang_dm, "/remove cnipa @lan") == "Lan @lan 不是国家知识产权局的成员。"
    )
    unknown = await bot.ask(wang, wang_dm, "/remove cnipa @no_such_person")
    assert unknown.startswith("找不到用户“@no_such_person”")
    assert (await bot.ask(wang, wang_dm, "/remove cnipa 424242")).startswith("找不到用户“424242”")
    hostile = "<b>&amp;" + "x" * 60
    answer = await bot.ask(wang, wang_dm, f"/remove cnipa {hostile}")
    assert answer == f"“{hostile[:40]}”不是 @用户名 或数字用户 ID。"
    assert (await bot.ask(wang, wang_dm, "/remove cnipa")).startswith("用法：/remove <部门>")
    assert (await bot.ask(wang, wang_dm, "/remove")).startswith("用法：/remove <部门>")

    zhou, _ = bot.user(9, "Zhou")
    group = bot.fake.add_group(GROUP, "Team", members=[wang, ming, zhou])
    (card,) = await bot.say(ming, group, "/task 1")
    await bot.fake.send(wang, group, "/remove cnipa", reply_to=card)
    (answer,) = await bot.fake.replies(group)
    assert answer.text == "请回复要移除的人自己发的消息。"
    said = await bot.fake.send(zhou, group, "大家好")
    await bot.fake.send(wang, group, "/remove cnipa", reply_to=said)
    (answer,) = await bot.fake.replies(group)
    assert answer.text == "Zhou 不是国家知识产权局的成员。"

    # The admin may remove a manager; an ambiguous department offers buttons, checked on tap.
    assert "已将 Qian @qian 移出国家知识产权局" in await bot.ask(admin, admin_dm, "/remove cnipa 6")
    await join(bot, 7, "Zhao", "spp")
    (choice,) = await bot.say(wang, wang_dm, "/remove 最高 7")
    toast = await bot.fake.callback_answer(await bot.fake.tap(wang, choice, text="最高人民检察院"))
    assert toast.text == "只有管理员或最高人民检察院的负责人可以移除该部门的成员。"
    (choice,) = await bot.say(admin, admin_dm, "/remove 最高 7")
    await bot.fake.tap(admin, choice, text="最高人民检察院")
    (edited,) = await bot.fake.replies(admin_dm)
    assert edited.text == "已将 Zhao 移出最高人民检察院，其权限即时失效。"


async def test_a_failed_menu_refresh_does_not_stop_the_answer(bot: Harness) -> None:
    await team(bot)
    wang, wang_dm = bot.user(WANG, "Wang")
    bot.fake.fail_next("setMyCommands", error_code=500, description="Internal Server Error")
    answer = await bot.ask(wang, wang_dm, "/remove cnipa @ming_li")
    assert answer == "已将 Ming @Ming_Li 移出国家知识产权局，其权限即时失效。"
    await bot.fake.idle()
    assert bot.fake.faults, "the refresh was tried and failed"
    assert [m.text for m in await bot.fake.replies(wang_dm, at_least=0)] == []
    ming, ming_dm = bot.user(MING, "Ming")
    assert await bot.ask(ming, ming_dm, "/note 1 still here?") == STRANGER


async def test_leaving_a_department(bot: Harness) -> None:
    await team(bot)
    ming, ming_dm = bot.user(MING, "Ming")
    assert await bot.ask(ming, ming_dm, "/leave") == "你已退出国家知识产权局。"
    assert await bot.ask(ming, ming_dm, "/leave cnipa") == "你不是国家知识产权局的成员。"
    assert await bot.ask(ming, ming_dm, "/leave") == "用法：/leave <部门>，例如 /leave cnipa"
    assert await bot.ask(ming, ming_dm, "/update 1 done") == STRANGER
    assert "update" not in dict(bot.fake.commands({"type": "chat", "chat_id": MING}))

    lan, lan_dm = bot.user(LAN, "Lan")
    await join(bot, LAN, "Lan", "cnipa")
    assert (await bot.ask(lan, lan_dm, "/leave")).startswith("用法：/leave")  # two departments
    assert await bot.ask(lan, lan_dm, "/leave 中宣部") == "你已退出中央宣传部。"
    assert "国家知识产权局 成员" in await bot.ask(lan, lan_dm, "/start")
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    assert await bot.ask(admin, admin_dm, "/leave cnipa") == "你不是国家知识产权局的成员。"


async def test_open_invites_are_listed_and_revoked(bot: Harness) -> None:
    await team(bot)
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    wang, wang_dm = bot.user(WANG, "Wang")
    admin_member = invite_link(await bot.ask(admin, admin_dm, "/invite cnipa"))
    admin_manager = invite_link(await bot.ask(admin, admin_dm, "/invite cnipa manager"))
    other = invite_link(await bot.ask(admin, admin_dm, "/invite cpd"))
    wangs = invite_link(await bot.ask(wang, wang_dm, "/invite cnipa"))

    everything = await bot.ask(admin, admin_dm, "/invites")
    assert everything.startswith("未使用的邀请链接（4 个）")
    assert "1. 国家知识产权局 · 成员 · Ada 创建 · 2026-11-30 09:00 前有效" in everything
    assert "2. 国家知识产权局 · 负责人 · Ada 创建" in everything
    assert "3. 国家知识产权局 · 成员 · Wang @wang_fang 创建" in everything
    assert "4. 中央宣传部 · 成员 · Ada 创建" in everything
    assert f"start={other}" in everything

    # A manager sees the member links of their own department, nothing else.
    (mine,) = await bot.say(wang, wang_dm, "/invites")
    assert mine.text.startswith("未使用的邀请链接（2 个）")
    assert f"start={admin_member}" in mine.text and f"start={wangs}" in mine.text
    assert admin_manager not in mine.text and other not in mine.text
    assert labels(mine) == ["❌ 撤销 1", "❌ 撤销 2"]
    assert all(len(data.encode()) <= 64 for row in mine.buttons for _, data in row)
    assert await bot.ask(wang, wang_dm, "/invites cpd") == (
        "只有管理员或中央宣传部的负责人可以查看和撤销该部门的邀请链接。"
    )

    first = data_of(mine, "❌ 撤销 1")
    toast = await bot.fake.callback_answer(await bot.fake.tap(wang, mine, first))
    assert toast.text == "已撤销：国家知识产权局的成员邀请链接不能再使用。"
    (edited,) = await bot.fake.replies(wang_dm)
    assert edited.message_id == mine.message_id
    assert edited.text.startswith("未使用的邀请链接（1 个）") and admin_member not in edited.text
    again = await bot.fake.callback_answer(await bot.fake.tap(wang, mine, first, forged=True))
    assert again.text == "这个邀请链接已经撤销过了。"

    newcomer, newcomer_dm = bot.user(8, "Sun")
    assert await bot.ask(newcomer, newcomer_dm, f"/start {admin_member}") == (
        "这个邀请链接已被撤销。请向管理员或部门负责人索取新的链接。"
    )
    assert await bot.ask(newcomer, newcomer_dm, "/update 1 done") == STRANGER
    assert "欢迎加入国家知识产权局（成员）" in await bot.ask(
        newcomer, newcomer_dm, f"/start {wangs}"
    )
    assert await bot.ask(wang, wang_dm, "/invites") == "没有未使用的邀请链接。"


async def test_forged_invite_buttons_get_nowhere(bot: Harness) -> None:
    await team(bot)
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    wang, wang_dm = bot.user(WANG, "Wang")
    ming, ming_dm = bot.user(MING, "Ming")
    manager_code = invite_link(await bot.ask(admin, admin_dm, "/invite cnipa manager"))
    other_code = invite_link(await bot.ask(admin, admin_dm, "/invite cpd"))
    own_code = invite_link(await bot.ask(wang, wang_dm, "/invite cnipa"))
    (mine,) = await bot.say(wang, wang_dm, "/invites")
    (card,) = await bot.say(ming, ming_dm, "/task 1")
    shown = {WANG: mine, MING: card}

    async def tap(user, data: str) -> str:
        query = await bot.fake.tap(user, shown[user.id], data, forged=True)
        return (await bot.fake.callback_answer(query)).text

    manager, other, own = (
        code.removeprefix("join-") for code in (manager_code, other_code, own_code)
    )
    assert await tap(wang, f"rv1:{other}:*:1") == (
        "只有管理员或中央宣传部的负责人可以查看和撤销该部门的邀请链接。"
    )
    assert await tap(wang, f"rv1:{manager}:cnipa:1") == "只有管理员可以这样做。"
    assert await tap(ming, f"rv1:{own}:cnipa:1") == (
        "只有管理员或国家知识产权局的负责人可以查看和撤销该部门的邀请链接。"
    )
    assert await tap(wang, "iv1:cpd:1") == (
        "只有管理员或中央宣传部的负责人可以查看和撤销该部门的邀请链接。"
    )
    for stale in (f"rv1:{'A' * 16}:*:1", f"rv1:{own}:nowhere:1", f"rv1:{own}", "rv2:x", "iv1:x:1"):
        assert await tap(wang, stale) == "这个按钮已失效，请重新发送命令。", stale
    # Nothing was revoked: every link still joins.
    await bot.fake.idle()
    everything = await bot.ask(admin, admin_dm, "/invites")
    assert everything.startswith("未使用的邀请链接（3 个）")

    group = bot.fake.add_group(GROUP, "Team", members=[admin, wang])
    assert await bot.ask(admin, group, "/invites") == "为免链接外泄，邀请链接只在与我的私聊中列出。"
    assert await bot.ask(ming, ming_dm, "/invites") == "只有管理员和部门负责人可以查看邀请链接。"


async def test_many_invites_page_with_buttons(bot: Harness) -> None:
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    for _ in range(10):
        await bot.ask(admin, admin_dm, "/invite cnipa")
    (first,) = await bot.say(admin, admin_dm, "/invites cnipa")
    assert first.text.startswith("未使用的邀请链接（10 个）\n第 1/2 页")
    assert labels(first) == [f"❌ 撤销 {n}" for n in range(1, 9)] + ["下一页 ›"]
    await bot.fake.tap(admin, first, text="下一页 ›")
    await bot.fake.replies(admin_dm)
    second = bot.fake.last_bot_message(admin_dm)
    assert second.message_id == first.message_id and "第 2/2 页" in second.text
    assert labels(second) == ["❌ 撤销 9", "❌ 撤销 10", "‹ 上一页"]
    await bot.fake.callback_answer(await bot.fake.tap(admin, second, text="❌ 撤销 10"))
    await bot.fake.replies(admin_dm)
    shown = bot.fake.last_bot_message(admin_dm)
    assert shown.text.startswith("未使用的邀请链接（9 个）") and "第 2/2 页" in shown.text
    assert labels(shown) == ["❌ 撤销 9", "‹ 上一页"]


async def test_a_long_roster_comes_in_messages_within_telegrams_limit(bot: Harness) -> None:
    storage = bot.app.bot_data.storage
    for n in range(100, 220):
        await storage.users.seen(
            n, full_name=f"知识产权局联络员第{n}号" * 3, username=f"liaison_{n}"
        )
        await rows.join(storage, n, "cnipa", Role.MEMBER)
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    messages = await bot.say(admin, admin_dm, "/members cnipa")
    assert len(messages) > 1
    assert all(len(m.text.encode("utf-16-le")) // 2 <= 4096 for m in messages)
    lines = [line for m in messages for line in m.text.splitlines() if line.startswith("• ")]
    assert len(lines) == 120 and f"@liaison_{219} 219 · 成员" in lines[-1]
