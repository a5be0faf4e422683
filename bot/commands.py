"""The commands: who they are for and where, for /help and for Telegram's command menus."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from bot.permissions import Actor


class Audience(IntEnum):
    """Least role a command is meant for; a higher role sees everything below it."""

    ANYONE = 0
    MEMBER = 1
    MANAGER = 2
    ADMIN = 3


class Where(StrEnum):
    ANY = "any"
    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True)
class Command:
    name: str
    audience: Audience
    where: Where = Where.ANY


COMMANDS: tuple[Command, ...] = (
    Command("start", Audience.ANYONE, Where.PRIVATE),
    Command("help", Audience.ANYONE),
    Command("mytasks", Audience.MEMBER),
    Command("task", Audience.ANYONE),
    Command("update", Audience.MEMBER),
    Command("note", Audience.MEMBER),
    Command("find", Audience.ANYONE),
    Command("depts", Audience.ANYONE),
    Command("overview", Audience.ANYONE),
    Command("subscribe", Audience.ANYONE),
    Command("unsubscribe", Audience.ANYONE),
    Command("subscriptions", Audience.ANYONE),
    Command("digest", Audience.ANYONE),
    Command("invite", Audience.MANAGER),
    Command("bind", Audience.MANAGER, Where.GROUP),
    Command("unbind", Audience.MANAGER, Where.GROUP),
    Command("members", Audience.MEMBER),
    Command("remove", Audience.MANAGER),
    Command("leave", Audience.MEMBER),
    Command("invites", Audience.MANAGER, Where.PRIVATE),
    Command("lang", Audience.ANYONE),
    Command("export", Audience.ADMIN),
)


def level(actor: Actor) -> Audience:
    if actor.is_admin:
        return Audience.ADMIN
    if any(actor.manages(dept) for dept in actor.roles):
        return Audience.MANAGER
    if actor.roles:
        return Audience.MEMBER
    return Audience.ANYONE


def available(audience: Audience, in_group: bool) -> list[Command]:
    """The commands someone of this level may use in this kind of chat."""
    here = Where.GROUP if in_group else Where.PRIVATE
    return [c for c in COMMANDS if c.audience <= audience and c.where in (Where.ANY, here)]
