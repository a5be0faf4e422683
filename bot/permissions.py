"""Who may do what: the one place every command and every button asks.

The rules are the README's permission table, which ``tests/test_permission_table.py`` reads and
checks this against, cell by cell. A refusal carries the catalogue key of a one-sentence reason.
Nothing here trusts what a message or a button claims: the actor is who Telegram says sent the
update, and their roles come from the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bot.plan import Task
from storage.people import WHOLE_PLAN, Chat, Role


class Action(StrEnum):
    CHANGE_STATUS = "change_status"
    ADD_NOTE = "add_note"
    INVITE = "invite"
    BIND = "bind"
    UNBIND = "unbind"
    CHAT_SETTINGS = "chat_settings"
    """This chat's language, subscriptions and digest."""
    EXPORT = "export"
    LIST_MEMBERS = "list_members"
    REMOVE_MEMBER = "remove_member"
    REMOVE_MANAGER = "remove_manager"
    LEAVE = "leave"
    MANAGE_INVITES = "manage_invites"
    """See a department's open invite links and revoke them: ``manager_invite`` for a
    manager's link; without ``dept``, those of any department the actor may manage."""
    MANAGE_ROUND = "manage_round"
    """Open, close or export a supervision round: the office's."""
    SUBMIT_STATEMENT = "submit_statement"
    """A department's statement on a task in a round: ``dept`` when one is meant, else the
    first of the task's departments the actor is in."""
    VIEW_ROUND = "view_round"
    """A round's list: a department's (``dept``), or the office's summary (``WHOLE_PLAN``)."""
    SET_DUE = "set_due"
    """Set when tasks fall due (/due)."""
    CLOSE_TASK = "close_task"
    """Close a task (销号) or return it: /confirm, /return, the office card's buttons; whoever
    may, closes a task at once by reporting it done."""
    SEE_SCORECARD = "see_scorecard"
    """The scorecard: a department's row (``dept``), or every department's (``WHOLE_PLAN``)."""


@dataclass(frozen=True)
class Actor:
    user_id: int
    is_admin: bool
    roles: Mapping[str, Role] = field(default_factory=dict)
    """Department code → role, from the database."""

    def member_of(self, dept: str) -> bool:
        return dept in self.roles

    def manages(self, dept: str) -> bool:
        return self.roles.get(dept) is Role.MANAGER

    @property
    def is_stranger(self) -> bool:
        return not self.is_admin and not self.roles


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    """Catalogue key of the refusal."""
    acting_for: str | None = None
    """The department the actor acts for (recorded with an update)."""
    dept: str | None = None
    """The department the reason names, if any."""


def allow(acting_for: str | None = None) -> Decision:
    return Decision(True, acting_for=acting_for)


def refuse(reason: str, dept: str | None = None) -> Decision:
    return Decision(False, reason, dept=dept)


def decide(
    actor: Actor,
    action: Action,
    *,
    task: Task | None = None,
    dept: str | None = None,
    chat: Chat | None = None,
    manager_invite: bool = False,
    closed: bool = False,
) -> Decision:
    """Whether ``actor`` may do ``action`` here; every check of the bot goes through this.
    ``closed``: the task the status change is for is closed (已销号)."""
    if action is Action.CHANGE_STATUS:
        assert task is not None
        if actor.member_of(task.lead):
            if closed and not actor.is_admin:  # the office closed it: only the office reopens it
                return refuse("refused.closed")
            return allow(task.lead)
        if actor.is_admin:
            return allow(None)
        if actor.is_stranger:
            return refuse("refused.stranger")
        if any(actor.member_of(code) for code in task.participants):
            return refuse("refused.participant_status", task.lead)
        return refuse("refused.not_lead", task.lead)

    if action is Action.ADD_NOTE:
        assert task is not None
        for code in task.departments:
            if actor.member_of(code):
                return allow(code)
        if actor.is_admin:
            return allow(None)
        if actor.is_stranger:
            return refuse("refused.stranger")
        return refuse("refused.not_involved", task.lead)

    if action is Action.INVITE:
        # Without ``dept``: may the actor invite for some department? Asked before the named
        # one is looked up, so that nobody else makes the bot search for it.
        if actor.is_admin:
            return allow(dept)
        if manager_invite:
            return refuse("refused.admin_only")
        if dept is None:
            manages_one = Role.MANAGER in actor.roles.values()
            return allow() if manages_one else refuse("refused.invite_any")
        if actor.manages(dept):
            return allow(dept)
        return refuse("refused.invite", dept)

    if action is Action.BIND:
        # Binding a bound group changes its binding: the current one must be the actor's too.
        assert dept is not None and chat is not None
        if not chat.is_group:
            return refuse("refused.group_only")
        if actor.is_admin:
            return allow(dept)
        if dept == WHOLE_PLAN:
            return refuse("refused.admin_only")
        if not actor.manages(dept):
            return refuse("refused.bind", dept)
        current = chat.binding
        if current == WHOLE_PLAN:
            return refuse("refused.rebind_all")
        if current is not None and not actor.manages(current):
            return refuse("refused.rebind", current)
        return allow(dept)

    if action is Action.UNBIND:
        assert chat is not None
        if not chat.is_group:
            return refuse("refused.group_only")
        if actor.is_admin or (chat.binding is not None and actor.manages(chat.binding)):
            return allow(chat.binding)
        return refuse("refused.unbind", chat.binding if chat.binding != WHOLE_PLAN else None)

    if action is Action.CHAT_SETTINGS:
        assert chat is not None
        if not chat.is_group or actor.is_admin:
            return allow()
        bound = chat.binding
        if bound not in (None, WHOLE_PLAN) and actor.manages(bound):
            return allow(bound)
        return refuse("refused.chat_settings", bound if bound != WHOLE_PLAN else None)

    if action is Action.EXPORT:
        return allow() if actor.is_admin else refuse("refused.admin_only")

    if action is Action.LIST_MEMBERS:
        assert dept is not None
        if actor.is_admin or actor.member_of(dept):
            return allow(dept)
        return refuse("refused.members", dept)

    if action is Action.REMOVE_MEMBER:
        assert dept is not None
        if actor.is_admin or actor.manages(dept):
            return allow(dept)
        return refuse("refused.remove", dept)

    if action is Action.REMOVE_MANAGER:
        # Managers are made by the office's invites; only the office takes that back.
        return allow(dept) if actor.is_admin else refuse("refused.remove_manager")

    if action is Action.LEAVE:
        assert dept is not None
        return allow(dept) if actor.member_of(dept) else refuse("refused.leave", dept)

    if action is Action.MANAGE_INVITES:
        # A listed link works for whoever sees it: never in a group, never a manager's link
        # to anyone but the office (a manager could hand it on and make a manager).
        assert chat is not None
        if chat.is_group:
            return refuse("refused.invites_private")
        if actor.is_admin:
            return allow(dept)
        if dept is None:
            managed = any(actor.manages(code) for code in actor.roles)
            return allow() if managed else refuse("refused.invites_any")
        if manager_invite:
            return refuse("refused.admin_only")
        if actor.manages(dept):
            return allow(dept)
        return refuse("refused.invites", dept)

    if action is Action.MANAGE_ROUND:
        return allow() if actor.is_admin else refuse("refused.admin_only")

    if action is Action.SUBMIT_STATEMENT:
        # A statement is a department's answer: only its people give it, not the office.
        assert task is not None
        named = task.departments if dept is None else (dept,)
        for code in named:
            if code in task.departments and actor.member_of(code):
                return allow(code)
        if actor.is_stranger:
            return refuse("refused.stranger")
        if not actor.roles:
            return refuse("refused.submit_admin")
        if dept is not None and dept in task.departments:
            return refuse("refused.submit_dept", dept)
        return refuse("refused.submit", task.lead)

    if action is Action.VIEW_ROUND:
        # A group sees the list of what it is bound to; a person, their departments' lists.
        assert dept is not None and chat is not None
        if actor.is_admin:
            return allow(dept)
        if dept == WHOLE_PLAN:
            office_group = chat.is_group and chat.binding == WHOLE_PLAN
            return allow() if office_group else refuse("refused.round_office")
        if chat.is_group:
            return allow(dept) if chat.binding == dept else refuse("refused.round_group", dept)
        return allow(dept) if actor.member_of(dept) else refuse("refused.round_dept", dept)

    if action is Action.SEE_SCORECARD:
        # As a round's lists: a group sees the row of what it is bound to; a person, their own
        # departments' rows; every department's, the office.
        assert dept is not None and chat is not None
        if actor.is_admin:
            return allow(dept)
        if dept == WHOLE_PLAN:
            if chat.is_group and chat.binding == WHOLE_PLAN:
                return allow()
            return refuse("refused.stranger" if actor.is_stranger else "refused.scorecard_office")
        if chat.is_group:
            return allow(dept) if chat.binding == dept else refuse("refused.scorecard_group", dept)
        if actor.member_of(dept):
            return allow(dept)
        return refuse("refused.stranger" if actor.is_stranger else "refused.scorecard_dept", dept)

    if action in (Action.SET_DUE, Action.CLOSE_TASK):
        return allow() if actor.is_admin else refuse("refused.admin_only")

    raise AssertionError(f"unhandled action {action}")
