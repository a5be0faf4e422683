"""The four statuses: how people type them, how they are shown."""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from storage.updates import Status, TaskState

ICONS = {
    Status.NOT_STARTED: "⚪",
    Status.IN_PROGRESS: "🔵",
    Status.DONE: "✅",
    Status.BLOCKED: "⛔",
}


class Stage(StrEnum):
    """Where a task stands as lists and counts show it: a status, with done split in two
    (awaiting the office's confirmation, 待销号, or closed)."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    AWAITING = "awaiting"
    CLOSED = "closed"
    BLOCKED = "blocked"


STAGE_ICONS = {
    Stage.NOT_STARTED: ICONS[Status.NOT_STARTED],
    Stage.IN_PROGRESS: ICONS[Status.IN_PROGRESS],
    Stage.AWAITING: "⏳",
    Stage.CLOSED: ICONS[Status.DONE],
    Stage.BLOCKED: ICONS[Status.BLOCKED],
}
_STAGE_OF_STATUS = {
    Status.NOT_STARTED: Stage.NOT_STARTED,
    Status.IN_PROGRESS: Stage.IN_PROGRESS,
    Status.BLOCKED: Stage.BLOCKED,
}


def stage_of(state: TaskState | None) -> Stage:
    """A task nobody reported on is not started; a done one awaits the office or is closed."""
    if state is None:
        return Stage.NOT_STARTED
    if state.status is Status.DONE:
        return Stage.AWAITING if state.awaiting else Stage.CLOSED
    return _STAGE_OF_STATUS[state.status]


# What people type for each status, after folding (case, width, spaces, '-' and '_').
_WORDS = {
    Status.NOT_STARTED: (
        "notstarted",
        "not_started",
        "todo",
        "new",
        "pending",
        "未启动",
        "未开始",
        "没开始",
        "待启动",
        "待开始",
        "未动",
    ),
    Status.IN_PROGRESS: (
        "inprogress",
        "in_progress",
        "progress",
        "ongoing",
        "doing",
        "started",
        "start",
        "wip",
        "进行中",
        "推进中",
        "开始",
        "已开始",
        "已启动",
        "启动",
        "进行",
        "正在进行",
        "推进",
        "在办",
    ),
    Status.DONE: (
        "done",
        "complete",
        "completed",
        "finished",
        "finish",
        "closed",
        "已完成",
        "完成",
        "办结",
        "已办结",
        "完毕",
        "结束",
        "搞定",
    ),
    Status.BLOCKED: (
        "blocked",
        "block",
        "stuck",
        "onhold",
        "hold",
        "受阻",
        "卡住",
        "阻塞",
        "卡",
        "停滞",
        "受阻中",
        "有困难",
    ),
}
_LOOKUP = {word.replace("_", ""): status for status, words in _WORDS.items() for word in words}

# One short code per status for compact callback data.
CODES = {
    Status.NOT_STARTED: "n",
    Status.IN_PROGRESS: "i",
    Status.DONE: "d",
    Status.BLOCKED: "b",
}
BY_CODE = {code: status for status, code in CODES.items()}


def fold(text: str) -> str:
    """Full-width → half-width, lower case, no spaces, hyphens or underscores."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-_")


def parse_status(word: str) -> Status | None:
    return _LOOKUP.get(fold(word))
