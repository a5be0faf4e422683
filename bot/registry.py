"""The one table of commands: adding a command is adding a row here (and its two texts).

``bot/app.py`` registers a handler for each row; the command menus (``handlers/menus.py``) and
/help are generated from the same rows, and ``tests/test_registry.py`` checks that the README's
command table and this one name the same commands.
"""

from __future__ import annotations

from bot.commands import Audience, Command, Where
from handlers import (
    access,
    closing,
    digest,
    due,
    export,
    membership,
    rounds,
    scorecard,
    statements,
    subscriptions,
    tasks,
    updates,
)

A, M, MG, AD = Audience.ANYONE, Audience.MEMBER, Audience.MANAGER, Audience.ADMIN

COMMANDS: tuple[Command, ...] = (
    Command("start", membership.start_command, A, Where.PRIVATE),
    Command("help", membership.help_command, A),
    Command("mytasks", tasks.mytasks_command, M),
    Command("task", tasks.task_command, A),
    Command("plan", tasks.plan_command, A),
    Command("update", updates.update_command, M),
    Command("note", updates.note_command, M),
    Command("find", tasks.find_command, A),
    Command("depts", tasks.depts_command, A),
    Command("overview", tasks.overview_command, A),
    Command("subscribe", subscriptions.subscribe_command, A),
    Command("unsubscribe", subscriptions.unsubscribe_command, A),
    Command("subscriptions", subscriptions.subscriptions_command, A),
    Command("digest", digest.digest_command, A),
    Command("invite", membership.invite_command, MG),
    Command("bind", membership.bind_command, MG, Where.GROUP),
    Command("unbind", membership.unbind_command, MG, Where.GROUP),
    Command("members", access.members_command, M),
    Command("remove", access.remove_command, MG),
    Command("leave", access.leave_command, M),
    Command("invites", access.invites_command, MG, Where.PRIVATE),
    Command("lang", membership.lang_command, A),
    Command("export", export.export_command, AD),
    Command("round", rounds.round_command, M),
    Command("submit", statements.submit_command, M),
    Command("due", due.due_command, AD),
    Command("confirm", closing.confirm_command, AD),
    Command("return", closing.return_command, AD),
    Command("scorecard", scorecard.scorecard_command, M),
)
