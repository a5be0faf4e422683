"""End to end: a supervision round through the fake Telegram, from the office's request to the
missing list, with a clock the test moves and a restart in the middle."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.faketelegram import FakeChat, FakeMessage, FakeTelegram
from bot.rounds import compiled, owed_statements
from tests.conftest import FakeClock
from tests.harness import ADMIN_ID, BOT_USERNAME, Harness, running_bot
from tests.test_delivery import until
from tests.test_digest_schedule import local
from tests.test_e2e_commands import join

WANG, LI, ZHAO = 2, 3, 4
SAMR_GROUP, GACC_GROUP, OFFICE_GROUP = -1001, -1002, -1003
SAMR_TASKS = [3, 33, 37, 38, 62, 18, 20, 36, 45, 50, 55]
"""市场监管总局's tasks, led ones first, as the plan has them."""
GACC_TASKS = [6, 41, 90, 101, 45]


def kinds(messages: list[FakeMessage]) -> dict[str, list[FakeMessage]]:
    """The round's messages in a chat by what they are: request, reminder, missing list."""
    found: dict[str, list[FakeMessage]] = {"request": [], "reminder": [], "missing": []}
    for message in messages:
        text = message.text or ""
        if text.startswith("📨"):
            found["request"].append(message)
        elif text.startswith("⏰"):
            found["reminder"].append(message)
        elif text.startswith("📭"):
            found["missing"].append(message)
    return found


async def delivered(bot: Harness) -> None:
    """Until the outbox has sent everything it owes (the flood limits pace it)."""
    storage = bot.app.bot_data.storage
    assert storage is not None

    async def done() -> bool:
        counts = await storage.outbox.counts()
        return not counts.get("pending") and not counts.get("sending")

    await until(done, "the outbox sent what it owes")


async def run_round_job(bot: Harness) -> None:
    """What the JobQueue does each minute: the job itself; then its messages are sent."""
    assert bot.app.job_queue is not None
    (job,) = bot.app.job_queue.get_jobs_by_name("rounds")
    await job.run(bot.app)
    await delivered(bot)


def labels(message: FakeMessage) -> list[str]:
    return [text for row in message.buttons for text, _ in row]


async def groups(bot: Harness) -> tuple[FakeChat, FakeChat, FakeChat]:
    admin, _ = bot.user(ADMIN_ID, "Ada")
    wang, _ = bot.user(WANG, "Wang")
    li, _ = bot.user(LI, "Li")
    samr = bot.fake.add_group(SAMR_GROUP, "市场监管总局工作群", members=[admin, wang])
    gacc = bot.fake.add_group(GACC_GROUP, "海关总署工作群", members=[admin, li])
    office = bot.fake.add_group(OFFICE_GROUP, "联席办", members=[admin])
    for group, binding in ((samr, "samr"), (gacc, "gacc"), (office, "all")):
        await bot.ask(admin, group, f"/bind {binding}")
    return samr, gacc, office


async def test_a_round_from_the_request_to_the_missing_list(tmp_path: Path) -> None:
    clock = FakeClock(local(hours=10))  # Monday 2026-11-23 10:00 in Shanghai
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        async with running_bot(tmp_path, clock=clock, fake=fake) as bot:
            admin, admin_dm = bot.user(ADMIN_ID, "Ada")
            wang, _, _ = await join(bot, WANG, "Wang", "samr")
            li, _, _ = await join(bot, LI, "Li", "gacc")
            samr, gacc, office = await groups(bot)

            opened = await bot.ask(admin, admin_dm, "/round new 11-25 2026 年落实情况")
            assert opened.startswith(
                "已发起报送《2026 年落实情况》，截止 2026-11-25（周三）。"
                "共 43 个部门、230 项报送；请求已发往 2 个聊天。"
            )
            # Each department's group: one request, and one reminder at once (the moment three
            # days before the due date has passed); the office's group: neither.
            await delivered(bot)
            for group, name in ((samr, "市场监管总局"), (gacc, "海关总署")):
                found = kinds(bot.fake.bot_messages(group))
                assert [len(found[k]) for k in ("request", "reminder", "missing")] == [1, 1, 0]
                (request,) = found["request"]
                assert request.text.startswith(
                    f"📨 联席会议办公室请{name}报送以下任务的落实情况：\n"
                    "📮 报送：2026 年落实情况\n截止：2026-11-25（周三）· 还有 2 天\n"
                )
                assert found["reminder"][0].text.startswith(
                    f"⏰ 提醒：报送即将截止，{name}还有任务没有报送。"
                )
            request = kinds(bot.fake.bot_messages(samr))["request"][0]
            assert labels(request)[:5] == [
                "📝 报送 3",
                "📝 报送 33",
                "📝 报送 37",
                "📝 报送 38",
                "📝 报送 62",
            ]
            assert labels(request)[-1] == "下一页 ›"
            assert kinds(bot.fake.bot_messages(office)) == {
                "request": [],
                "reminder": [],
                "missing": [],
            }

            # By command, by button (a forced reply), by document: both departments.
            answer = await bot.ask(wang, samr, "/submit 3 已形成修订草案，报司法部审查")
            assert answer == (
                "✅ 已记录市场监管总局对任务 3 的报送（14 字）。\n"
                "本部门还需报送 10 项：33、37、38、62、18、20、36、45、50、55"
            )
            await bot.fake.tap(wang, request, text="📝 报送 33")
            (prompt,) = await bot.fake.replies(samr)
            assert prompt.text.startswith("Wang，请回复这条消息，写下市场监管总局对任务 33 的报送")
            assert prompt.reply_markup["force_reply"] is True
            answer = (await bot.say(wang, samr, "执法意见已印发", reply_to=prompt))[-1].text
            assert answer.startswith("✅ 已记录市场监管总局对任务 33 的报送（7 字）。")
            await bot.fake.send_document(
                wang, samr, "商业秘密试点.pdf", 250_000, caption="/submit 37"
            )
            (answer,) = await bot.fake.replies(samr)
            assert answer.text.startswith(
                "✅ 已记录市场监管总局对任务 37 的报送（附件：商业秘密试点.pdf）。"
            )
            assert answer.text.endswith("本部门还需报送 8 项：38、62、18、20、36、45、50、55")

            gacc_request = kinds(bot.fake.bot_messages(gacc))["request"][0]
            assert "已记录海关总署对任务 6" in await bot.ask(li, gacc, "/submit 6 已开展专项行动")
            await bot.fake.tap(li, gacc_request, text="📝 报送 41")
            (prompt,) = await bot.fake.replies(gacc)
            await bot.say(li, gacc, "口岸执法数据见附件说明", reply_to=prompt)
            await bot.fake.send_document(
                li, gacc, "统计.xlsx", 9_000, caption="/submit 90 全年统计"
            )
            (answer,) = await bot.fake.replies(gacc)
            assert answer.text.startswith(
                "✅ 已记录海关总署对任务 90 的报送（4 字，附件：统计.xlsx）。"
            )

            # /round: the department's own list in its group, the counts for the office.
            own = await bot.ask(wang, samr, "/round")
            assert "市场监管总局：应报 11 项 · 已报 3 项（逾期 0 项）· 待报 8 项" in own
            summary = await bot.ask(admin, office, "/round")
            assert "共 43 个部门、230 项：已报 6 项（逾期 0 项）· 未报 224 项" in summary
            assert "⏳ 市场监管总局：应报 11 · 已报 3（逾期 0）· 未报 8" in summary
            assert summary.index("国家知识产权局") < summary.index("市场监管总局")  # worst first

        # A restart: the reminder already sent is not sent again.
        async with running_bot(tmp_path, clock=clock, fake=fake) as bot:
            admin, li = bot.user(ADMIN_ID, "Ada")[0], bot.user(LI, "Li")[0]
            await run_round_job(bot)
            clock.now = local(days=1, hours=20)  # Tuesday evening: still nothing new
            await run_round_job(bot)
            for group in (samr, gacc):
                assert len(kinds(bot.fake.bot_messages(group))["reminder"]) == 1

            clock.now = local(days=2, hours=9)  # the due date, 09:00: the day's reminder
            await run_round_job(bot)
            await run_round_job(bot)
            for group in (samr, gacc):
                (_, due_day) = kinds(bot.fake.bot_messages(group))["reminder"]
                assert due_day.text.startswith("⏰ 今天是报送截止日")

            clock.now = local(days=3, hours=8, minutes=59)  # the morning after, not yet 09:00
            await run_round_job(bot)
            assert kinds(bot.fake.bot_messages(office))["missing"] == []
            clock.now = local(days=3, hours=9)
            await run_round_job(bot)
            clock.now = local(days=3, hours=15)
            await run_round_job(bot)
            (missing,) = kinds(bot.fake.bot_messages(office))["missing"]
            assert missing.text.startswith("📭 报送已过截止日期，以下部门还有任务没有报送：")
            assert "• 市场监管总局（8 项）：18、20、36、38、45、50、55、62" in missing.text
            assert "第 1/5 页" in missing.text
            pages = [missing.text]
            while "下一页 ›" in labels(missing):
                await bot.fake.tap(admin, missing, text="下一页 ›")
                (missing,) = await bot.fake.replies(office)
                pages.append(missing.text)
            assert len(pages) == 5 and "第 5/5 页" in pages[-1]
            assert sum("• 海关总署（2 项）：45、101" in page for page in pages) == 1

            # After the due date a statement is taken, and marked late.
            late = await bot.ask(li, gacc, "/submit 101 补报")
            assert "⏰ 已过截止日期（2026-11-25），记为逾期报送。" in late
            assert not bot.fake.rejections

            made = await compiled(bot.app.bot_data.storage, bot.app.bot_data.plan, 1)
            submitted = {
                (task.number, dept): statement.text
                for task in made.tasks
                for dept, statement in task.statements.items()
            }
            assert submitted == {
                (3, "samr"): "已形成修订草案，报司法部审查",
                (33, "samr"): "执法意见已印发",
                (37, "samr"): "",
                (6, "gacc"): "已开展专项行动",
                (41, "gacc"): "口岸执法数据见附件说明",
                (90, "gacc"): "全年统计",
                (101, "gacc"): "补报",
            }
            by_number = {task.number: task for task in made.tasks}
            assert by_number[37].statements["samr"].file_name == "商业秘密试点.pdf"
            assert by_number[101].statements["gacc"].late is True
            assert [task.number for task in made.tasks] == list(range(1, 111))
            tally = {x.dept: x for x in made.tally}
            assert (tally["gacc"].owed, tally["gacc"].on_time, tally["gacc"].late) == (5, 3, 1)
            assert made.tally[0].dept == "cnipa" and made.tally[0].missing == 48


@pytest.fixture
async def bot(tmp_path: Path):
    clock = FakeClock(local(hours=10))
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness
        assert not harness.fake.rejections, "the bot sent something Telegram would refuse"


async def test_what_only_the_office_may_do_and_what_it_may_not_type(bot: Harness) -> None:
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    wang, wang_dm, _ = await join(bot, WANG, "Wang", "samr")
    assert await bot.ask(admin, admin_dm, "/round") == (
        "还没有发起过报送。管理员可以发送 /round new 07-15 标题 发起一轮。"
    )
    assert await bot.ask(wang, wang_dm, "/round new 12-01 上半年") == "只有管理员可以这样做。"
    assert await bot.ask(wang, wang_dm, "/round close") == "只有管理员可以这样做。"
    assert await bot.ask(wang, wang_dm, "/submit 3 已完成") == "现在没有进行中的报送。"
    assert (await bot.ask(admin, admin_dm, "/round new")).startswith("用法：/round")
    assert (await bot.ask(admin, admin_dm, "/round new 12-01")).startswith("用法：/round")
    assert await bot.ask(admin, admin_dm, "/round new 2026-11-22 上半年") == (
        "截止日期 2026-11-22 已经过去了，请选今天或以后的日期。"
    )
    assert await bot.ask(admin, admin_dm, "/round new 13-01 上半年") == (
        "“13-01”不是日期：请写 YYYY-MM-DD 或 MM-DD，例如 2026-07-15 或 07-15。"
    )
    assert (await bot.ask(admin, admin_dm, "/round someday")).startswith("用法：/round")
    # MM-DD is the next such day: 11-22 has passed this year, so it is next year's.
    opened = await bot.ask(admin, admin_dm, "/round new １１－２２ 年度报送")
    assert opened.startswith("已发起报送《年度报送》，截止 2027-11-22（周一）。")
    assert opened.endswith(
        "以下 42 个部门没有绑定的群，也没有成员，收不到请求：国家知识产权局、中央宣传部、"
        "农业农村部、国家林草局、生态环境部、海关总署、国家中医药局、国家卫生健康委等"
    )
    assert await bot.ask(admin, admin_dm, "/round new 12-01 又一轮") == (
        "已有进行中的报送《年度报送》（截止 2027-11-22）。一次只进行一轮：请先用 /round close 结束它。"
    )
    # Wang has no group: the request came to his private chat, and /round there is his list.
    await delivered(bot)
    (request,) = [m for m in bot.fake.bot_messages(wang_dm) if (m.text or "").startswith("📨")]
    own = await bot.ask(wang, wang_dm, "/round")
    assert "市场监管总局：应报 11 项 · 已报 0 项（逾期 0 项）· 待报 11 项" in own
    stranger, stranger_dm = bot.user(9, "Bo")
    assert await bot.ask(stranger, stranger_dm, "/round") == (
        "各部门的报送情况只在管理员的私聊和绑定整个计划的群里显示。"
    )
    assert await bot.ask(stranger, stranger_dm, "/submit 3 代报") == (
        "你还没有加入任何部门，请先通过邀请链接加入。"
    )
    assert await bot.ask(wang, wang_dm, "/submit 6 代报") == (
        "只有任务所列部门（牵头：海关总署，以及参与部门）的成员可以报送。"
    )
    assert await bot.ask(admin, admin_dm, "/submit 3 代报") == (
        "报送由任务所列部门的成员提交；管理员可以用 /round 查看进度。"
    )
    too_long = await bot.ask(wang, wang_dm, "/submit 3 " + "字" * 3001)
    assert too_long == (
        "报送内容太长（3001 字），最多 3000 字。请精简，或作为文件（PDF、Word、Excel）发送。"
    )
    assert (await bot.ask(wang, wang_dm, "/submit 3")).startswith("用法：/submit")
    assert (await bot.ask(wang, wang_dm, "/submit 999 x")).startswith("“999”不是任务编号")

    closed = await bot.ask(admin, admin_dm, "/round close")
    assert closed == (
        "已结束报送《年度报送》：应报 230 项，已报 0 项（逾期 0 项），未报 230 项。"
        "发送 /round export 导出汇总。"
    )
    assert await bot.ask(admin, admin_dm, "/round close") == "现在没有进行中的报送。"
    assert await bot.ask(wang, wang_dm, "/submit 3 已完成") == "现在没有进行中的报送。"
    toast = await bot.fake.callback_answer(await bot.fake.tap(wang, request, text="📝 报送 3"))
    assert toast.text == "这轮报送已经结束，不再接收报送。" and toast.show_alert
    shown = await bot.ask(wang, wang_dm, "/round")  # the last round, shown as closed
    assert "截止：2027-11-22（周一）· 已结束" in shown and "📝" not in shown


async def test_someone_in_two_departments_chooses_which_one_answers(bot: Harness) -> None:
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    await join(bot, ZHAO, "Zhao", "samr")
    zhao, zhao_dm, _ = await join(bot, ZHAO, "Zhao", "gacc")
    group = bot.fake.add_group(SAMR_GROUP, "市场监管总局工作群", members=[admin, zhao])
    await bot.ask(admin, group, "/bind samr")
    await bot.ask(admin, admin_dm, "/round new 11-25 上半年")
    await delivered(bot)

    # Task 45 names both: in a private chat, buttons to choose.
    (choice,) = await bot.say(zhao, zhao_dm, "/submit 45 联合执法已常态化")
    assert choice.text == "你在任务 45 所列的多个部门中。这份报送代表哪个部门？"
    assert labels(choice) == ["海关总署", "市场监管总局"]  # as the plan lists them
    await bot.fake.tap(zhao, choice, text="海关总署")
    (edited,) = await bot.fake.replies(zhao_dm)
    assert edited is choice and edited.buttons == []
    assert edited.text.startswith("✅ 已记录海关总署对任务 45 的报送（8 字）。")
    # In the group bound to one of them, that one.
    answer = await bot.ask(zhao, group, "/submit 45 联合执法")
    assert answer.startswith("✅ 已记录市场监管总局对任务 45 的报送")
    # The card's button during a round: the choice first, then the forced reply.
    (card,) = await bot.say(zhao, zhao_dm, "/task 45")
    assert labels(card)[-1] == "📝 报送"
    await bot.fake.tap(zhao, card, text="📝 报送")
    (which,) = await bot.fake.replies(zhao_dm)
    await bot.fake.tap(zhao, which, text="海关总署")
    (prompt,) = await bot.fake.replies(zhao_dm)
    assert "写下海关总署对任务 45 的报送" in prompt.text
    await bot.fake.send_document(zhao, zhao_dm, "联合执法.docx", 40_000, reply_to=prompt)
    (answer,) = await bot.fake.replies(zhao_dm)
    assert answer.text.startswith("✅ 已记录海关总署对任务 45 的报送（附件：联合执法.docx）。")
    assert "已替换此前的报送，原报送保留在记录中。" in answer.text
    # Someone else, even of that department, cannot use Zhao's kept statement.
    wang, _, _ = await join(bot, WANG, "Wang", "gacc")
    both = bot.fake.add_group(GACC_GROUP, "协作群", members=[zhao, wang])
    (other,) = await bot.say(zhao, both, "/submit 45 第二份")
    tapped = await bot.fake.tap(wang, other, text="海关总署")
    assert (await bot.fake.callback_answer(tapped)).text == "这个按钮已失效，请重新发送命令。"
    assert len(await bot.app.bot_data.storage.rounds.history(1, 45, "gacc")) == 2  # type: ignore[union-attr]


async def test_documents_that_cannot_be_statements_are_refused(bot: Harness) -> None:
    admin, admin_dm = bot.user(ADMIN_ID, "Ada")
    wang, wang_dm, _ = await join(bot, WANG, "Wang", "samr")
    await bot.ask(admin, admin_dm, "/round new 11-25 上半年")
    await delivered(bot)
    send = bot.fake.send_document
    await send(wang, wang_dm, "照片.jpg", 2000, caption="/submit 3")
    assert (await bot.fake.replies(wang_dm))[-1].text == (
        "报送只接受 PDF、Word、Excel 文件（.pdf .doc .docx .xls .xlsx .wps .et .odt .ods），"
        "“照片.jpg”不是。"
    )
    await send(wang, wang_dm, "全年汇总.pdf", 21 * 1024 * 1024, caption="/submit 3 汇总")
    assert (await bot.fake.replies(wang_dm))[-1].text == (
        "文件有 21.0 MB，超过了 20 MB 的上限：请压缩或拆分后再发。"
    )
    await send(wang, wang_dm, "方案.pdf", 2000)
    assert (await bot.fake.replies(wang_dm))[-1].text.startswith(
        "要把文件作为报送，请在文件的说明里写"
    )
    await send(wang, wang_dm, "方案.pdf", 2000, caption="/submit@other_bot 3")
    assert (await bot.fake.replies(wang_dm))[-1].text.startswith("要把文件作为报送")
    await send(wang, wang_dm, "方案.pdf", 2000, caption=f"/submit@{BOT_USERNAME} 3 见附件")
    assert (await bot.fake.replies(wang_dm))[-1].text.startswith(
        "✅ 已记录市场监管总局对任务 3 的报送（3 字，附件：方案.pdf）。"
    )


async def test_an_update_handled_twice_records_once(tmp_path: Path) -> None:
    """The inbox may hand over an update a second time after a crash: nothing is doubled."""
    clock = FakeClock(local(hours=10))
    async with FakeTelegram(bot_username=BOT_USERNAME) as fake:
        async with running_bot(tmp_path, clock=clock, fake=fake) as bot:
            admin, admin_dm = bot.user(ADMIN_ID, "Ada")
            await join(bot, ZHAO, "Zhao", "samr")
            zhao, zhao_dm, _ = await join(bot, ZHAO, "Zhao", "gacc")
            await groups(bot)  # the requests go there, not to Zhao
            storage = bot.app.bot_data.storage
            assert storage is not None
            before = await storage.db.fetchvalue("SELECT max(update_id) FROM inbox")
            await bot.ask(admin, admin_dm, "/round new 11-25 上半年")
            await bot.ask(zhao, zhao_dm, "/submit 3 已完成")
            await bot.fake.send_document(zhao, zhao_dm, "方案.pdf", 900, caption="/submit 6")
            await bot.fake.replies(zhao_dm)
            await bot.ask(zhao, zhao_dm, "/submit 45 联合执法")  # kept until Zhao chooses
            await delivered(bot)
            assert await bot.fake.replies(zhao_dm, at_least=0) == []
            counts = await storage.db.fetchall(
                "SELECT (SELECT count(*) FROM rounds), (SELECT count(*) FROM round_statements),"
                " (SELECT count(*) FROM round_drafts), (SELECT count(*) FROM outbox)"
            )
            # A crash after the answers, before the updates were marked done:
            await storage.db.execute(
                "UPDATE inbox SET state = 'pending', handled_at = NULL WHERE update_id > ?",
                (before,),
            )
        async with running_bot(tmp_path, clock=clock, fake=fake) as bot:
            replies = await bot.fake.replies(zhao_dm, at_least=3, timeout=10)
            assert [m.text.splitlines()[0] for m in replies] == [
                "✅ 已记录市场监管总局对任务 3 的报送（3 字）。",
                "✅ 已记录海关总署对任务 6 的报送（附件：方案.pdf）。",
                "你在任务 45 所列的多个部门中。这份报送代表哪个部门？",
            ], "handled again: answered again"
            await delivered(bot)
            storage = bot.app.bot_data.storage
            assert storage is not None
            again = await storage.db.fetchall(
                "SELECT (SELECT count(*) FROM rounds), (SELECT count(*) FROM round_statements),"
                " (SELECT count(*) FROM round_drafts),"
                " (SELECT count(*) FROM outbox WHERE kind != 'text')"
            )
            assert tuple(again[0])[:3] == tuple(counts[0])[:3] == (1, 2, 1), "but recorded once"
            assert not bot.fake.rejections


async def test_a_statement_the_round_does_not_ask_for_is_refused_as_such(bot: Harness) -> None:
    """A task whose departments changed after the round opened (a corrected plan re-imported)
    is not owed by a department it now names: the answer says so, not that the round closed."""
    wang, wang_dm, _ = await join(bot, WANG, "Wang", "samr")
    storage = bot.app.bot_data.storage
    assert storage is not None
    owed = [o for o in owed_statements(bot.app.bot_data.plan) if o.task != 3]  # type: ignore[arg-type]
    await storage.rounds.open("上半年", date(2026, 11, 25), opened_by=ADMIN_ID, owed=owed)
    assert await bot.ask(wang, wang_dm, "/submit 3 已完成") == (
        "这轮报送没有要求市场监管总局报送任务 3。"
    )
    assert (await bot.ask(wang, wang_dm, "/submit 33 已完成")).startswith("✅ 已记录")
