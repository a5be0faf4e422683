"""``python -m bot [run|import-plan …]``: the operator's entry point.

Every failure a person can cause at start (a missing setting, a bad token, an unreadable tasks
file) ends with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.config import MissingToken, Settings, describe_error, load_settings
from bot.importer import PlanImportError, import_plan
from bot.plan import REGISTRY_FILE, Plan, PlanFileError, data_file, load_departments, load_plan

EXIT_CONFIG = 2


class Abort(Exception):
    """Stop with this one-line message and exit code."""

    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.code = code


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    sub = root.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "run", help="run the bot (the default): polling, or webhook when WEBHOOK_URL is set"
    )
    sub.add_parser(
        "healthcheck",
        help="exit 0 if the bot is healthy: /healthz in webhook mode, the database otherwise",
    )
    box = sub.add_parser(
        "sandbox", help="try the bot without a token: a local fake Telegram and a terminal chat"
    )
    box.add_argument(
        "--database",
        type=Path,
        default=Path("data/sandbox.db"),
        help="the sandbox's own database (default: %(default)s)",
    )
    box.add_argument("--fresh", action="store_true", help="start from an empty sandbox database")
    dig = sub.add_parser("digest", help="preview a digest at the terminal, from the database")
    which = dig.add_mutually_exclusive_group(required=True)
    which.add_argument("--chat", type=int, help="the digest this chat would get")
    which.add_argument("--dept", help="a department group's digest (code or name)")
    which.add_argument("--all", action="store_true", help="the whole-plan digest")
    dig.add_argument("--print", action="store_true", help="print it (the only output for now)")
    dig.add_argument("--lang", choices=("zh", "en"), help="language (default: the chat's)")
    stat = sub.add_parser(
        "status", help="what is inside: chats, people, queues, digests (read-only, no token)"
    )
    stat.add_argument("--json", action="store_true", help="for machines")
    bak = sub.add_parser("backup", help="copy the live database to FILE, safely while the bot runs")
    bak.add_argument("file", type=Path, help="where to write the copy (replaced atomically)")
    exp = sub.add_parser(
        "export", help="write every task with its state to a file, from the database"
    )
    exp.add_argument(
        "--format", choices=("csv", "xlsx"), help="default: from -o's suffix, else xlsx"
    )
    exp.add_argument("-o", "--output", type=Path, help="default: plan-<year>-tasks-<date>.<format>")
    exp.add_argument("--year", type=int, help="the plan year to export (default: the current plan)")
    exp.add_argument(
        "--lang", choices=("zh", "en"), help="headers and labels (default: BOT_LANGUAGE)"
    )
    rnd = sub.add_parser("round", help="supervision rounds, from the database")
    actions = rnd.add_subparsers(dest="round_action", metavar="ACTION", required=True)
    rex = actions.add_parser("export", help="a round compiled as the office's document")
    rex.add_argument(
        "--round", type=int, dest="round_id", help="its id (default: the open round, else the last)"
    )
    rex.add_argument(
        "--format", choices=("docx", "xlsx"), help="default: from -o's suffix, else docx"
    )
    rex.add_argument("--lang", choices=("zh", "en"), help="its language (default: BOT_LANGUAGE)")
    rex.add_argument("-o", "--output", type=Path, help="default: round-<id>-<date>.<format>")
    card = sub.add_parser(
        "scorecard", help="every department side by side, worst first, to a file, from the database"
    )
    card.add_argument(
        "--format", choices=("csv", "xlsx"), help="default: from -o's suffix, else xlsx"
    )
    card.add_argument(
        "--lang", choices=("zh", "en"), help="headers and names (default: BOT_LANGUAGE)"
    )
    card.add_argument("-o", "--output", type=Path, help="default: scorecard-<year>-<date>.<format>")
    imp = sub.add_parser("import-plan", help="turn the published plan text into the tasks file")
    imp.add_argument("source", type=Path, help="the plan text, e.g. data/plan-2024.txt")
    imp.add_argument("-o", "--output", type=Path, default=Path("data/tasks.json"))
    imp.add_argument(
        "--departments",
        type=Path,
        default=data_file(REGISTRY_FILE),
        help="the department registry (default: %(default)s)",
    )
    imp.add_argument(
        "--check",
        action="store_true",
        help="only compare with the output file; exit 1 if it differs",
    )
    return root


def settings_or_abort() -> Settings:
    try:
        return load_settings()
    except ValidationError as exc:
        raise Abort(describe_error(exc)) from None


def plan_or_abort(settings: Settings) -> Plan:
    """The plan from TASKS_FILE, or one line naming the file and the field that is wrong."""
    try:
        return load_plan(settings.tasks_file)
    except PlanFileError as exc:
        raise Abort(f"TASKS_FILE: {exc}") from None


def database_or_abort(settings: Settings) -> None:
    """A database path that is a directory, or a file that is not a whole SQLite database, said
    in one line before anything is asked of Telegram (the bot checks it again when it opens it)."""
    from storage.db import DatabaseUnusable
    from storage.files import path_problem

    path = settings.database_path
    if problem := path_problem(path):
        raise Abort(str(DatabaseUnusable(path, problem)))


def cmd_import_plan(args: argparse.Namespace) -> int:
    try:
        departments = load_departments(args.departments)
        source = args.source.read_text(encoding="utf-8")
    except PlanFileError as exc:
        raise Abort(str(exc)) from None
    except OSError as exc:
        raise Abort(f"cannot read {args.source}: {exc.strerror or exc}") from None
    try:
        result = import_plan(source, departments)
    except PlanImportError as exc:
        for problem in exc.problems:
            print(f"{args.source}: {problem}", file=sys.stderr)
        raise Abort(f"{args.source}: {len(exc.problems)} problem(s); nothing written", 1) from None
    for repair in result.repairs:
        print(f"{args.source}: repaired: {repair}", file=sys.stderr)
    plan = result.plan
    text = plan.to_json()
    summary = (
        f"{len(plan.tasks)} tasks, {len(plan.sections)} sections, "
        f"{len(plan.departments)} departments, {len(result.repairs)} repairs"
    )
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            raise Abort(f"{args.output} differs from a fresh import of {args.source}", 1)
        print(f"{args.output} is up to date ({summary})")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {summary}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import build_application
    from bot.logs import BadLogLevel, configure_logging, log_level
    from bot.startup import StartLog, explain

    settings = settings_or_abort()
    try:
        level = log_level()
    except BadLogLevel as exc:
        raise Abort(str(exc)) from None
    try:
        token = settings.token
    except MissingToken as exc:
        raise Abort(str(exc)) from None
    plan_or_abort(settings)  # fail before connecting, with the field that is wrong
    database_or_abort(settings)  # likewise a database file that cannot be used
    webhook_secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    configure_logging(level, secrets=(token, webhook_secret))
    app = build_application(settings)
    start_log = StartLog.install(started=lambda: app.running)
    try:
        if settings.webhook_url is not None:
            from bot.webhook import serve

            asyncio.run(serve(app, settings))
        else:
            from bot.runner import run_polling

            asyncio.run(run_polling(app))
    except Exception as exc:
        line = explain(exc, settings)
        start_log.release(exc if line else None)
        if line is None:
            raise
        raise Abort(line) from None
    finally:
        start_log.release()
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox import run_sandbox

    return run_sandbox(database=args.database, fresh=args.fresh)


def cmd_digest(args: argparse.Namespace) -> int:
    from bot.digest_preview import preview_digest

    settings = settings_or_abort()
    plan = plan_or_abort(settings)
    try:
        text = asyncio.run(
            preview_digest(
                settings, plan, chat=args.chat, dept=args.dept, whole=args.all, lang=args.lang
            )
        )
    except LookupError as exc:
        raise Abort(str(exc.args[0])) from None
    print(text)
    return 0


def format_asked(args: argparse.Namespace) -> str:
    """``--format``, else the suffix of ``-o`` (the caller picks its default for neither)."""
    return args.format or (args.output.suffix.lower().lstrip(".") if args.output else "")


def written(output: Path, data: bytes) -> Path:
    """A command's file written, or one line saying why not."""
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise Abort(f"cannot write {output}: {exc.strerror or exc}") from None
    return output


def cmd_export(args: argparse.Namespace) -> int:
    from bot.export import ExportError, Format, export_database

    settings = settings_or_abort()
    plan = plan_or_abort(settings)
    fmt: Format = "csv" if format_asked(args) == "csv" else "xlsx"
    lang = args.lang or settings.bot_language
    try:
        export = asyncio.run(export_database(settings, plan, fmt=fmt, lang=lang, year=args.year))
    except ExportError as exc:
        raise Abort(str(exc)) from None
    output = written(args.output or Path(export.filename), export.data)
    print(f"wrote {output}: {export.count} tasks, {fmt}, {lang}, {len(export.data):,} bytes")
    return 0


def cmd_round(args: argparse.Namespace) -> int:
    from bot.rounds import Format, RoundExportError, export_database

    settings = settings_or_abort()
    plan = plan_or_abort(settings)
    fmt: Format = "xlsx" if format_asked(args) == "xlsx" else "docx"
    lang = args.lang or settings.bot_language
    try:
        made = asyncio.run(
            export_database(settings, plan, round_id=args.round_id, fmt=fmt, lang=lang)
        )
    except RoundExportError as exc:
        raise Abort(str(exc)) from None
    output = written(args.output or Path(made.filename), made.data)
    compiled = made.compiled
    owed = sum(x.owed for x in compiled.tally)
    missing = sum(x.missing for x in compiled.tally)
    print(
        f"wrote {output}: round {compiled.round_id} {compiled.title!r}, "
        f"{owed - missing} of {owed} statements, {fmt}, {lang}, {len(made.data):,} bytes"
    )
    return 0


def cmd_scorecard(args: argparse.Namespace) -> int:
    from bot.scorecard import Format
    from bot.scorecard_export import ScorecardError, scorecard_database

    settings = settings_or_abort()
    plan = plan_or_abort(settings)
    fmt: Format = "csv" if format_asked(args) == "csv" else "xlsx"
    lang = args.lang or settings.bot_language
    try:
        made = asyncio.run(scorecard_database(settings, plan, fmt=fmt, lang=lang))
    except ScorecardError as exc:
        raise Abort(str(exc)) from None
    output = written(args.output or Path(made.filename), made.data)
    card = made.card
    which = f"round {card.round.id} {card.round.title!r}" if card.round else "no round yet"
    print(
        f"wrote {output}: {len(card.rows)} departments of the {card.plan_year} plan, {which}, "
        f"{fmt}, {lang}, {len(made.data):,} bytes"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from bot.status import StatusError, read_status, render_json, render_text
    from storage.db import utcnow

    settings = settings_or_abort()
    plan = plan_or_abort(settings)
    try:
        status = read_status(settings.database_path, plan, settings.tasks_file, utcnow())
    except StatusError as exc:
        raise Abort(str(exc)) from None
    print(render_json(status) if args.json else render_text(status, settings.timezone))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, backup

    settings = settings_or_abort()
    try:
        result = backup(settings.database_path, args.file)
    except BackupError as exc:
        raise Abort(str(exc)) from None
    print(result.summary())
    return 0


def cmd_healthcheck(args: argparse.Namespace) -> int:
    from bot.health_check import check

    problem = check(settings_or_abort())
    if problem:
        raise Abort(f"unhealthy: {problem}", 1)
    return 0


COMMANDS = {
    "run": cmd_run,
    "healthcheck": cmd_healthcheck,
    "sandbox": cmd_sandbox,
    "import-plan": cmd_import_plan,
    "digest": cmd_digest,
    "export": cmd_export,
    "round": cmd_round,
    "scorecard": cmd_scorecard,
    "backup": cmd_backup,
    "status": cmd_status,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = COMMANDS[args.command or "run"]
    try:
        return command(args)
    except Abort as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left early (`status | head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second one at exit
        return 0
