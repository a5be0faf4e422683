"""The schema, as an append-only list of numbered migrations.

A migration that has landed is never edited: a change to the schema is a new migration at the
end. ``schema_migrations`` records which have been applied; each runs in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STATUSES_SQL = "('not_started', 'in_progress', 'done', 'blocked')"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    needs: tuple[str, ...] = ()
    """Values the migration reads from ``temp.migration_values`` (given by whoever opens the
    database), e.g. the plan year that rows written before plan years belong to."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]+", self.name):
            raise ValueError(f"migration name {self.name!r} must be snake_case")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "people_and_chats",
        """
        CREATE TABLE users (
            user_id     INTEGER PRIMARY KEY,
            username    TEXT,
            full_name   TEXT NOT NULL DEFAULT '',
            language    TEXT,
            first_seen  TEXT NOT NULL,
            last_seen   TEXT NOT NULL
        );
        CREATE TABLE chats (
            chat_id     INTEGER PRIMARY KEY,
            type        TEXT NOT NULL CHECK (type IN ('private', 'group', 'supergroup', 'channel')),
            title       TEXT NOT NULL DEFAULT '',
            language    TEXT CHECK (language IN ('zh', 'en')),
            binding     TEXT,               -- a department code, '*' for the whole plan, or NULL
            bound_by    INTEGER,
            bound_at    TEXT,
            active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            inactive_reason TEXT,
            first_seen  TEXT NOT NULL,
            last_seen   TEXT NOT NULL
        );
        CREATE INDEX chats_by_binding ON chats (binding) WHERE binding IS NOT NULL;
        CREATE TABLE memberships (
            user_id     INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
            dept        TEXT NOT NULL,
            role        TEXT NOT NULL CHECK (role IN ('member', 'manager')),
            invite_code TEXT,
            joined_at   TEXT NOT NULL,
            PRIMARY KEY (user_id, dept)
        ) WITHOUT ROWID;
        CREATE INDEX memberships_by_dept ON memberships (dept);
        CREATE TABLE invites (
            code        TEXT PRIMARY KEY,
            dept        TEXT NOT NULL,
            role        TEXT NOT NULL CHECK (role IN ('member', 'manager')),
            created_by  INTEGER NOT NULL,
            created_at  TEXT NOT NULL,
            expires_at  TEXT NOT NULL,
            used_by     INTEGER REFERENCES users (user_id),
            used_at     TEXT,
            CHECK ((used_by IS NULL) = (used_at IS NULL))
        );
        """,
    ),
    Migration(
        2,
        "status_history",
        f"""
        CREATE TABLE status_updates (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            task        INTEGER NOT NULL CHECK (task > 0),
            kind        TEXT NOT NULL CHECK (kind IN ('status', 'note')),
            old_status  TEXT NOT NULL CHECK (old_status IN {STATUSES_SQL}),
            status      TEXT NOT NULL CHECK (status IN {STATUSES_SQL}),
            progress    INTEGER CHECK (progress BETWEEN 0 AND 100),
            note        TEXT,
            author_id   INTEGER NOT NULL REFERENCES users (user_id),
            dept        TEXT,               -- the department the author acted for
            chat_id     INTEGER,            -- where it was recorded (history keeps the old id)
            created_at  TEXT NOT NULL
        );
        CREATE INDEX status_updates_by_task ON status_updates (task, id);
        CREATE INDEX status_updates_by_time ON status_updates (created_at);
        CREATE TRIGGER status_updates_no_update BEFORE UPDATE ON status_updates
        BEGIN SELECT RAISE(ABORT, 'status history is append-only'); END;
        CREATE TRIGGER status_updates_no_delete BEFORE DELETE ON status_updates
        BEGIN SELECT RAISE(ABORT, 'status history is append-only'); END;

        -- The current state of each task, kept in the same transaction as its history,
        -- so that lists never have to scan the history.
        CREATE TABLE task_state (
            task            INTEGER PRIMARY KEY,
            status          TEXT NOT NULL CHECK (status IN {STATUSES_SQL}),
            progress        INTEGER CHECK (progress BETWEEN 0 AND 100),
            last_update_id  INTEGER NOT NULL REFERENCES status_updates (id),
            updated_at      TEXT NOT NULL,
            status_changed_at TEXT
        );
        CREATE INDEX task_state_by_status ON task_state (status);
        """,
    ),
    Migration(
        3,
        "subscriptions_and_outbox",
        """
        CREATE TABLE subscriptions (
            chat_id     INTEGER NOT NULL
                        REFERENCES chats (chat_id) ON UPDATE CASCADE ON DELETE CASCADE,
            kind        TEXT NOT NULL CHECK (kind IN ('task', 'dept', 'all')),
            target      TEXT NOT NULL,      -- task number, department code, or '*'
            created_by  INTEGER,
            created_at  TEXT NOT NULL,
            PRIMARY KEY (chat_id, kind, target)
        ) WITHOUT ROWID;
        CREATE INDEX subscriptions_by_target ON subscriptions (kind, target);

        -- Messages owed to chats: written in the transaction that makes them owed,
        -- removed from the queue only once Telegram has accepted them.
        CREATE TABLE outbox (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id     INTEGER NOT NULL
                        REFERENCES chats (chat_id) ON UPDATE CASCADE ON DELETE CASCADE,
            kind        TEXT NOT NULL,
            payload     TEXT NOT NULL CHECK (json_valid(payload)),
            update_id   INTEGER REFERENCES status_updates (id),
            dedup_key   TEXT UNIQUE,
            state       TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
            attempts    INTEGER NOT NULL DEFAULT 0,
            not_before  TEXT NOT NULL,
            last_error  TEXT,
            message_id  INTEGER,
            created_at  TEXT NOT NULL,
            sent_at     TEXT
        );
        CREATE INDEX outbox_due ON outbox (not_before, id) WHERE state = 'pending';
        CREATE INDEX outbox_by_chat ON outbox (chat_id, state);
        """,
    ),
    Migration(
        4,
        "weekly_digest",
        """
        CREATE TABLE digest_settings (
            chat_id     INTEGER PRIMARY KEY
                        REFERENCES chats (chat_id) ON UPDATE CASCADE ON DELETE CASCADE,
            enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
            weekday     INTEGER NOT NULL DEFAULT 1 CHECK (weekday BETWEEN 1 AND 7), -- ISO, 1 = Mon
            at_time     TEXT NOT NULL DEFAULT '09:00'
                        CHECK (at_time GLOB '[0-2][0-9]:[0-5][0-9]' AND at_time < '24:00'),
            updated_by  INTEGER,
            updated_at  TEXT NOT NULL
        );
        -- One row per chat and ISO week: the proof that the week's digest is owed no more.
        CREATE TABLE digest_log (
            chat_id     INTEGER NOT NULL
                        REFERENCES chats (chat_id) ON UPDATE CASCADE ON DELETE CASCADE,
            iso_week    TEXT NOT NULL CHECK (iso_week GLOB '[0-9][0-9][0-9][0-9]-W[0-5][0-9]'),
            outbox_id   INTEGER REFERENCES outbox (id),
            created_at  TEXT NOT NULL,
            PRIMARY KEY (chat_id, iso_week)
        ) WITHOUT ROWID;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        5,
        "message_tasks",
        """
        -- Which bot message shows which task, so that a reply to a card or a notification
        -- can be recorded as a note on that task.
        CREATE TABLE message_tasks (
            chat_id     INTEGER NOT NULL,
            message_id  INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            created_at  TEXT NOT NULL,
            PRIMARY KEY (chat_id, message_id)
        ) WITHOUT ROWID;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        6,
        "inbox",
        """
        -- Every update Telegram handed over, written before Telegram is told it arrived (the
        -- next getUpdates offset, or the webhook's 200), handled from here, then marked done.
        CREATE TABLE inbox (
            update_id   INTEGER PRIMARY KEY,    -- Telegram's
            chat_id     INTEGER,                -- its chat (or person): handled in order within it
            payload     TEXT NOT NULL CHECK (json_valid(payload)),
            state       TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'done', 'failed')),
            received_at TEXT NOT NULL,
            handled_at  TEXT,
            last_error  TEXT
        );
        CREATE INDEX inbox_pending ON inbox (update_id) WHERE state = 'pending';
        CREATE INDEX inbox_by_handled ON inbox (handled_at) WHERE state != 'pending';

        -- The update that recorded a status update: handling it again finds it, and records
        -- nothing twice.
        ALTER TABLE status_updates ADD COLUMN source_update INTEGER;
        CREATE UNIQUE INDEX status_updates_by_source ON status_updates (source_update)
            WHERE source_update IS NOT NULL;
        -- Likewise the update that used an invite: handled again, it welcomes again.
        ALTER TABLE invites ADD COLUMN used_update INTEGER;
        """,
    ),
    Migration(
        7,
        "invite_revocation",
        """
        -- An invite can be taken back before it is used: a revoked code no longer joins.
        ALTER TABLE invites ADD COLUMN revoked_by INTEGER;
        ALTER TABLE invites ADD COLUMN revoked_at TEXT
            CHECK ((revoked_at IS NULL) = (revoked_by IS NULL));
        -- What /invites lists: a department's codes neither used nor revoked.
        CREATE INDEX invites_open ON invites (dept, expires_at)
            WHERE used_by IS NULL AND revoked_at IS NULL;
        -- What /members reads: each person's latest report for a department.
        CREATE INDEX status_updates_by_author ON status_updates (author_id, dept, created_at);
        """,
    ),
)

PLAN_YEAR = "(SELECT value FROM temp.migration_values WHERE name = 'plan_year')"
"""In a migration: the year of the plan in TASKS_FILE when the database is upgraded."""

MIGRATIONS += (
    Migration(
        8,
        "plan_years",
        f"""
        -- Every plan the bot has run with; an earlier year stays readable after its file is gone.
        CREATE TABLE plans (
            year        INTEGER PRIMARY KEY CHECK (year BETWEEN 2000 AND 2100),
            title       TEXT NOT NULL,
            content     TEXT NOT NULL CHECK (json_valid(content)),  -- the tasks file as loaded
            fingerprint TEXT NOT NULL,                              -- sha256 of content
            is_current  INTEGER NOT NULL DEFAULT 0 CHECK (is_current IN (0, 1)),
            added_at    TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        );
        CREATE UNIQUE INDEX plans_one_current ON plans (is_current) WHERE is_current = 1;

        -- Each table that names a task names its plan year too; what was there before belongs
        -- to the plan in TASKS_FILE when the database is upgraded.
        CREATE TABLE status_updates_new (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            kind        TEXT NOT NULL CHECK (kind IN ('status', 'note')),
            old_status  TEXT NOT NULL CHECK (old_status IN {STATUSES_SQL}),
            status      TEXT NOT NULL CHECK (status IN {STATUSES_SQL}),
            progress    INTEGER CHECK (progress BETWEEN 0 AND 100),
            note        TEXT,
            author_id   INTEGER NOT NULL REFERENCES users (user_id),
            dept        TEXT,
            chat_id     INTEGER,
            created_at  TEXT NOT NULL,
            source_update INTEGER
        );
        INSERT INTO status_updates_new
            SELECT id, {PLAN_YEAR}, task, kind, old_status, status, progress, note, author_id,
                   dept, chat_id, created_at, source_update
            FROM status_updates;
        DROP TABLE status_updates;
        ALTER TABLE status_updates_new RENAME TO status_updates;
        CREATE INDEX status_updates_by_task ON status_updates (plan_year, task, id);
        CREATE INDEX status_updates_by_time ON status_updates (created_at);
        CREATE UNIQUE INDEX status_updates_by_source ON status_updates (source_update)
            WHERE source_update IS NOT NULL;
        CREATE INDEX status_updates_by_author ON status_updates (author_id, dept, created_at);
        CREATE TRIGGER status_updates_no_update BEFORE UPDATE ON status_updates
        BEGIN SELECT RAISE(ABORT, 'status history is append-only'); END;
        CREATE TRIGGER status_updates_no_delete BEFORE DELETE ON status_updates
        BEGIN SELECT RAISE(ABORT, 'status history is append-only'); END;

        CREATE TABLE task_state_new (
            plan_year       INTEGER NOT NULL,
            task            INTEGER NOT NULL,
            status          TEXT NOT NULL CHECK (status IN {STATUSES_SQL}),
            progress        INTEGER CHECK (progress BETWEEN 0 AND 100),
            last_update_id  INTEGER NOT NULL REFERENCES status_updates (id),
            updated_at      TEXT NOT NULL,
            status_changed_at TEXT,
            PRIMARY KEY (plan_year, task)
        );
        INSERT INTO task_state_new
            SELECT {PLAN_YEAR}, task, status, progress, last_update_id, updated_at,
                   status_changed_at
            FROM task_state;
        DROP TABLE task_state;
        ALTER TABLE task_state_new RENAME TO task_state;
        CREATE INDEX task_state_by_status ON task_state (plan_year, status);

        -- A task subscription is of one year's task (0: a department or the whole plan, which
        -- carry on from year to year); it ends with its year, and the chat is told once.
        CREATE TABLE subscriptions_new (
            chat_id     INTEGER NOT NULL
                        REFERENCES chats (chat_id) ON UPDATE CASCADE ON DELETE CASCADE,
            kind        TEXT NOT NULL CHECK (kind IN ('task', 'dept', 'all')),
            target      TEXT NOT NULL,
            plan_year   INTEGER NOT NULL DEFAULT 0,
            created_by  INTEGER,
            created_at  TEXT NOT NULL,
            ended_at    TEXT,
            ended_told  INTEGER NOT NULL DEFAULT 0 CHECK (ended_told IN (0, 1)),
            CHECK ((kind = 'task') = (plan_year > 0)),
            PRIMARY KEY (chat_id, kind, target, plan_year)
        ) WITHOUT ROWID;
        INSERT INTO subscriptions_new (chat_id, kind, target, plan_year, created_by, created_at)
            SELECT chat_id, kind, target, CASE kind WHEN 'task' THEN {PLAN_YEAR} ELSE 0 END,
                   created_by, created_at
            FROM subscriptions;
        DROP TABLE subscriptions;
        ALTER TABLE subscriptions_new RENAME TO subscriptions;
        CREATE INDEX subscriptions_by_target ON subscriptions (kind, target, plan_year)
            WHERE ended_at IS NULL;

        CREATE TABLE message_tasks_new (
            chat_id     INTEGER NOT NULL,
            message_id  INTEGER NOT NULL,
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            created_at  TEXT NOT NULL,
            PRIMARY KEY (chat_id, message_id)
        ) WITHOUT ROWID;
        INSERT INTO message_tasks_new
            SELECT chat_id, message_id, {PLAN_YEAR}, task, created_at FROM message_tasks;
        DROP TABLE message_tasks;
        ALTER TABLE message_tasks_new RENAME TO message_tasks;
        """,
        needs=("plan_year",),
    ),
)

MIGRATIONS += (
    Migration(
        9,
        "supervision_rounds",
        """
        -- A supervision round (报送): the office asks each department named on a task for a
        -- written statement on it by a due date (a local date). It belongs to the plan year
        -- current when it was opened. At most one round is open at a time.
        CREATE TABLE rounds (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            plan_year   INTEGER NOT NULL,
            title       TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
            due_date    TEXT NOT NULL
                        CHECK (due_date GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
            opened_by   INTEGER NOT NULL,
            opened_at   TEXT NOT NULL,
            opened_update INTEGER UNIQUE,       -- handled again, the update opens nothing more
            closed_by   INTEGER,
            closed_at   TEXT,
            closed_update INTEGER,
            CHECK ((closed_at IS NULL) = (closed_by IS NULL))
        );
        CREATE UNIQUE INDEX rounds_one_open ON rounds ((closed_at IS NULL))
            WHERE closed_at IS NULL;
        CREATE TRIGGER rounds_no_delete BEFORE DELETE ON rounds
        BEGIN SELECT RAISE(ABORT, 'rounds are kept'); END;

        -- What a round asks: one statement per task and department named on it (lead or
        -- taking part), fixed when the round opens.
        CREATE TABLE round_slots (
            round_id    INTEGER NOT NULL REFERENCES rounds (id),
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            dept        TEXT NOT NULL,
            is_lead     INTEGER NOT NULL CHECK (is_lead IN (0, 1)),
            PRIMARY KEY (round_id, task, dept)
        ) WITHOUT ROWID;
        CREATE INDEX round_slots_by_dept ON round_slots (round_id, dept);
        CREATE TRIGGER round_slots_no_delete BEFORE DELETE ON round_slots
        BEGIN SELECT RAISE(ABORT, 'round slots are kept'); END;

        -- A statement by someone in several of the task's departments, until they choose
        -- which one it is for.
        CREATE TABLE round_drafts (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            round_id    INTEGER NOT NULL REFERENCES rounds (id),
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            author_id   INTEGER NOT NULL REFERENCES users (user_id),
            text        TEXT NOT NULL DEFAULT '' CHECK (length(text) <= 3000),
            file_id     TEXT,
            file_unique_id TEXT,
            file_name   TEXT,
            file_size   INTEGER,
            chat_id     INTEGER NOT NULL,
            created_at  TEXT NOT NULL,
            source_update INTEGER UNIQUE,
            CHECK (text != '' OR file_id IS NOT NULL)
        );
        CREATE TRIGGER round_drafts_no_delete BEFORE DELETE ON round_drafts
        BEGIN SELECT RAISE(ABORT, 'round drafts are kept'); END;

        -- Every statement submitted, append-only: a resubmission is a new row and the latest
        -- one stands; late when submitted after the due date.
        CREATE TABLE round_statements (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            round_id    INTEGER NOT NULL,
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL,
            dept        TEXT NOT NULL,
            author_id   INTEGER NOT NULL REFERENCES users (user_id),
            text        TEXT NOT NULL DEFAULT '' CHECK (length(text) <= 3000),
            file_id     TEXT,               -- a document is kept by Telegram's file id
            file_unique_id TEXT,
            file_name   TEXT,
            file_size   INTEGER,
            late        INTEGER NOT NULL CHECK (late IN (0, 1)),
            chat_id     INTEGER,            -- where it was submitted
            created_at  TEXT NOT NULL,
            source_update INTEGER UNIQUE,   -- handled again, the update records nothing more
            draft_id    INTEGER UNIQUE REFERENCES round_drafts (id),
            FOREIGN KEY (round_id, task, dept) REFERENCES round_slots (round_id, task, dept),
            CHECK (text != '' OR file_id IS NOT NULL)
        );
        CREATE INDEX round_statements_by_slot ON round_statements (round_id, task, dept, id);
        CREATE TRIGGER round_statements_no_update BEFORE UPDATE ON round_statements
        BEGIN SELECT RAISE(ABORT, 'round statements are append-only'); END;
        CREATE TRIGGER round_statements_no_delete BEFORE DELETE ON round_statements
        BEGIN SELECT RAISE(ABORT, 'round statements are append-only'); END;

        -- Which forced-reply prompt asks for which statement: the answer to it is that one.
        CREATE TABLE round_prompts (
            chat_id     INTEGER NOT NULL,
            message_id  INTEGER NOT NULL,
            round_id    INTEGER NOT NULL REFERENCES rounds (id),
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            dept        TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            PRIMARY KEY (chat_id, message_id)
        ) WITHOUT ROWID;

        -- One row per round, department ('*': the office) and kind of reminder: the proof
        -- that it is owed no more, written with its outbox rows in one transaction.
        CREATE TABLE round_reminders (
            round_id    INTEGER NOT NULL REFERENCES rounds (id),
            dept        TEXT NOT NULL,
            kind        TEXT NOT NULL CHECK (kind IN ('before', 'due', 'missing')),
            chats       INTEGER NOT NULL,   -- how many chats it was owed to
            created_at  TEXT NOT NULL,
            PRIMARY KEY (round_id, dept, kind)
        ) WITHOUT ROWID;
        CREATE TRIGGER round_reminders_no_delete BEFORE DELETE ON round_reminders
        BEGIN SELECT RAISE(ABORT, 'round reminders are kept'); END;
        """,
    ),
    Migration(
        10,
        "due_dates_and_closing",
        """
        -- When a task falls due: every change the office made (who, when, from which date), and
        -- the date in force. A task without a row is due at the end of its plan's year.
        CREATE TABLE due_changes (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            due         TEXT NOT NULL CHECK (due GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
            previous    TEXT NOT NULL,
            set_by      INTEGER NOT NULL REFERENCES users (user_id),
            chat_id     INTEGER,
            set_at      TEXT NOT NULL,
            source_update INTEGER
        );
        CREATE INDEX due_changes_by_task ON due_changes (plan_year, task, id);
        CREATE UNIQUE INDEX due_changes_by_source ON due_changes (source_update, plan_year, task)
            WHERE source_update IS NOT NULL;
        CREATE TRIGGER due_changes_no_update BEFORE UPDATE ON due_changes
        BEGIN SELECT RAISE(ABORT, 'due date history is append-only'); END;
        CREATE TRIGGER due_changes_no_delete BEFORE DELETE ON due_changes
        BEGIN SELECT RAISE(ABORT, 'due date history is append-only'); END;
        CREATE TABLE due_dates (
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            due         TEXT NOT NULL,
            change_id   INTEGER NOT NULL REFERENCES due_changes (id),
            PRIMARY KEY (plan_year, task)
        ) WITHOUT ROWID;

        -- One row per task, due date and kind of reminder: the proof that it is owed no more
        -- (announced = 0: decided not to announce, e.g. found more than 7 days overdue).
        CREATE TABLE due_reminders (
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            due         TEXT NOT NULL,
            kind        TEXT NOT NULL CHECK (kind IN ('day14', 'day1', 'overdue')),
            announced   INTEGER NOT NULL CHECK (announced IN (0, 1)),
            created_at  TEXT NOT NULL,
            PRIMARY KEY (plan_year, task, due, kind)
        ) WITHOUT ROWID;

        -- Closing a task (销号): what happened, append-only. A department's done is a request,
        -- which the office confirms or returns (with a reason); an admin's own done, or any done
        -- when the office need not confirm, closes at once.
        CREATE TABLE closures (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            kind        TEXT NOT NULL CHECK (kind IN
                        ('request', 'close', 'confirm', 'return', 'withdraw', 'reopen')),
            request_id  INTEGER REFERENCES closures (id),   -- the request it answers
            update_id   INTEGER REFERENCES status_updates (id), -- the status update it came with
            reason      TEXT,
            by_user     INTEGER NOT NULL REFERENCES users (user_id),
            chat_id     INTEGER,
            created_at  TEXT NOT NULL,
            source_update INTEGER
        );
        CREATE INDEX closures_by_task ON closures (plan_year, task, id);
        CREATE UNIQUE INDEX closures_by_source ON closures (source_update)
            WHERE source_update IS NOT NULL;
        CREATE TRIGGER closures_no_update BEFORE UPDATE ON closures
        BEGIN SELECT RAISE(ABORT, 'closing history is append-only'); END;
        CREATE TRIGGER closures_no_delete BEFORE DELETE ON closures
        BEGIN SELECT RAISE(ABORT, 'closing history is append-only'); END;

        -- Where a task stands in closing, beside its status: NULL, awaiting the office, closed;
        -- and the event that put it there. A task done before closing existed was closed.
        ALTER TABLE task_state ADD COLUMN closure TEXT CHECK (closure IN ('awaiting', 'closed'));
        ALTER TABLE task_state ADD COLUMN closure_event INTEGER REFERENCES closures (id);
        UPDATE task_state SET closure = 'closed' WHERE status = 'done';

        -- What a sent message shows (a digest of its text and buttons), as sent or last edited:
        -- an edit that would show the same is not asked of Telegram, which refuses it.
        ALTER TABLE outbox ADD COLUMN shown TEXT;

        -- The forced replies that ask an admin why a task is returned: a reply to one is that
        -- reason, not a note.
        CREATE TABLE reason_prompts (
            chat_id     INTEGER NOT NULL,
            message_id  INTEGER NOT NULL,
            request_id  INTEGER NOT NULL REFERENCES closures (id),
            asked_by    INTEGER NOT NULL,
            created_at  TEXT NOT NULL,
            PRIMARY KEY (chat_id, message_id)
        ) WITHOUT ROWID;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        11,
        "plan_task_index",
        """
        -- The current plan's tasks as SQL can count them: each task's section and lead, and
        -- every department named on it. Written from the tasks file at start (whenever the
        -- plan's fingerprint differs from plan_index's), read by digests and scorecards, which
        -- count by section and department in SQL instead of reading every task's state.
        CREATE TABLE plan_tasks (
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL CHECK (task > 0),
            section     INTEGER NOT NULL,
            lead        TEXT NOT NULL,
            PRIMARY KEY (plan_year, task)
        ) WITHOUT ROWID;
        CREATE TABLE task_departments (
            plan_year   INTEGER NOT NULL,
            dept        TEXT NOT NULL,
            task        INTEGER NOT NULL,
            is_lead     INTEGER NOT NULL CHECK (is_lead IN (0, 1)),
            PRIMARY KEY (plan_year, dept, task)
        ) WITHOUT ROWID;
        CREATE TABLE plan_index (
            plan_year   INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            indexed_at  TEXT NOT NULL
        );
        """,
    ),
    Migration(
        12,
        "status_updates_by_dept",
        """
        -- Each department's latest report (a scorecard's "last report") by a seek per
        -- department, not a read of every update of the year.
        CREATE INDEX status_updates_by_dept ON status_updates (plan_year, dept, created_at);
        """,
    ),
)

MIGRATIONS += (
    Migration(
        13,
        "round_statements_by_dept",
        """
        -- A round's tally per department (owed, answered, on time) from range scans of
        -- covering indexes, not a look-up of each slot's statements: /scorecard at 100x.
        CREATE INDEX round_statements_by_dept ON round_statements (round_id, dept, task, late);
        """,
    ),
    Migration(
        14,
        "due_scan_indexes",
        """
        -- The due-date scan of every minute finds the few reminders owed by ranges of due dates:
        -- the dates in force, and the log of each kind, both in (due, task) order, so that
        -- SQL merges the two instead of the bot reading every due date and the whole log.
        CREATE INDEX due_dates_by_due ON due_dates (plan_year, due, task);
        CREATE INDEX due_reminders_by_kind ON due_reminders (plan_year, kind, due, task);
        """,
    ),
)

MIGRATIONS += (
    Migration(
        15,
        "scorecard_counts",
        """
        -- Each task of a plan with its lead and section, its due date in force (NULL: none,
        -- so due at the plan's year end) and its status and closure (NULL: no state yet):
        -- plan_tasks, due_dates and task_state in one row, kept by the triggers below on
        -- every write to those three, whoever makes it (a later migration that rebuilds one
        -- of them must create its triggers again). A scorecard counts each lead's tasks by
        -- stage and overdue from ranges of two covering indexes, and a digest the whole plan
        -- by section and lead from the third, instead of looking up each task's lead, due
        -- date and state (10,000 tasks at 100x).
        CREATE TABLE task_standing (
            plan_year   INTEGER NOT NULL,
            task        INTEGER NOT NULL,
            lead        TEXT NOT NULL,
            section     INTEGER NOT NULL,
            due         TEXT,
            status      TEXT,
            closure     TEXT,
            PRIMARY KEY (plan_year, task)
        ) WITHOUT ROWID;
        INSERT INTO task_standing (plan_year, task, lead, section, due, status, closure)
        SELECT t.plan_year, t.task, t.lead, t.section, d.due, s.status, s.closure
        FROM plan_tasks AS t
        LEFT JOIN due_dates AS d ON d.plan_year = t.plan_year AND d.task = t.task
        LEFT JOIN task_state AS s ON s.plan_year = t.plan_year AND s.task = t.task;
        CREATE INDEX task_standing_by_stage ON task_standing (plan_year, lead, status, closure);
        CREATE INDEX task_standing_by_due ON task_standing (plan_year, lead, due, closure);
        CREATE INDEX task_standing_by_section
            ON task_standing (plan_year, section, lead, status, closure, due);
        -- The due-date scan's candidates, in due-date order: tasks not closed (an overdue
        -- notice may be owed), and tasks not done (a reminder ahead may be); a closed or done
        -- task is never looked at again each minute.
        -- (The column the condition names is in each, so that the scan reads the index only.)
        CREATE INDEX task_standing_open_by_due ON task_standing (plan_year, due, task, closure)
            WHERE closure IS NOT 'closed';
        CREATE INDEX task_standing_undone_by_due ON task_standing (plan_year, due, task, status)
            WHERE status IS NOT 'done';

        CREATE TRIGGER task_standing_plan_insert AFTER INSERT ON plan_tasks
        BEGIN
            INSERT INTO task_standing (plan_year, task, lead, section, due, status, closure)
            SELECT NEW.plan_year, NEW.task, NEW.lead, NEW.section, d.due, s.status, s.closure
            FROM (SELECT 1)
            LEFT JOIN due_dates AS d ON d.plan_year = NEW.plan_year AND d.task = NEW.task
            LEFT JOIN task_state AS s ON s.plan_year = NEW.plan_year AND s.task = NEW.task;
        END;
        CREATE TRIGGER task_standing_plan_update AFTER UPDATE ON plan_tasks
        BEGIN
            DELETE FROM task_standing WHERE plan_year = OLD.plan_year AND task = OLD.task;
            INSERT INTO task_standing (plan_year, task, lead, section, due, status, closure)
            SELECT NEW.plan_year, NEW.task, NEW.lead, NEW.section, d.due, s.status, s.closure
            FROM (SELECT 1)
            LEFT JOIN due_dates AS d ON d.plan_year = NEW.plan_year AND d.task = NEW.task
            LEFT JOIN task_state AS s ON s.plan_year = NEW.plan_year AND s.task = NEW.task;
        END;
        CREATE TRIGGER task_standing_plan_delete AFTER DELETE ON plan_tasks
        BEGIN
            DELETE FROM task_standing WHERE plan_year = OLD.plan_year AND task = OLD.task;
        END;

        CREATE TRIGGER task_standing_due_insert AFTER INSERT ON due_dates
        BEGIN
            UPDATE task_standing SET due = NEW.due
            WHERE plan_year = NEW.plan_year AND task = NEW.task;
        END;
        CREATE TRIGGER task_standing_due_update AFTER UPDATE ON due_dates
        WHEN OLD.due IS NOT NEW.due OR OLD.plan_year != NEW.plan_year OR OLD.task != NEW.task
        BEGIN
            UPDATE task_standing SET due = NULL
            WHERE plan_year = OLD.plan_year AND task = OLD.task;
            UPDATE task_standing SET due = NEW.due
            WHERE plan_year = NEW.plan_year AND task = NEW.task;
        END;
        CREATE TRIGGER task_standing_due_delete AFTER DELETE ON due_dates
        BEGIN
            UPDATE task_standing SET due = NULL
            WHERE plan_year = OLD.plan_year AND task = OLD.task;
        END;

        CREATE TRIGGER task_standing_state_insert AFTER INSERT ON task_state
        BEGIN
            UPDATE task_standing SET status = NEW.status, closure = NEW.closure
            WHERE plan_year = NEW.plan_year AND task = NEW.task;
        END;
        CREATE TRIGGER task_standing_state_update AFTER UPDATE ON task_state
        WHEN OLD.status IS NOT NEW.status OR OLD.closure IS NOT NEW.closure
            OR OLD.plan_year != NEW.plan_year OR OLD.task != NEW.task
        BEGIN
            UPDATE task_standing SET status = NULL, closure = NULL
            WHERE plan_year = OLD.plan_year AND task = OLD.task;
            UPDATE task_standing SET status = NEW.status, closure = NEW.closure
            WHERE plan_year = NEW.plan_year AND task = NEW.task;
        END;
        CREATE TRIGGER task_standing_state_delete AFTER DELETE ON task_state
        BEGIN
            UPDATE task_standing SET status = NULL, closure = NULL
            WHERE plan_year = OLD.plan_year AND task = OLD.task;
        END;

        -- Each round's tally per department: the statements it owes (counted from its slots
        -- when the round opens, storage/rounds.py: count_owed), how many of those slots have
        -- a statement, and how many one on time; the statements' trigger keeps the last two.
        -- A scorecard reads a row per department, not every slot and statement of the round.
        CREATE TABLE round_tallies (
            round_id    INTEGER NOT NULL REFERENCES rounds (id),
            dept        TEXT NOT NULL,
            owed        INTEGER NOT NULL CHECK (owed > 0),
            answered    INTEGER NOT NULL DEFAULT 0,
            on_time     INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (round_id, dept),
            CHECK (0 <= on_time AND on_time <= answered AND answered <= owed)
        ) WITHOUT ROWID;
        INSERT INTO round_tallies (round_id, dept, owed, answered, on_time)
        SELECT l.round_id, l.dept, count(*),
               count(s.has_any), count(s.has_on_time)
        FROM round_slots AS l
        LEFT JOIN (
            SELECT round_id, task, dept, 1 AS has_any, CASE WHEN min(late) = 0 THEN 1 END
                AS has_on_time
            FROM round_statements GROUP BY round_id, task, dept
        ) AS s ON s.round_id = l.round_id AND s.task = l.task AND s.dept = l.dept
        GROUP BY l.round_id, l.dept;
        CREATE TRIGGER round_statements_need_tally BEFORE INSERT ON round_statements
        WHEN NOT EXISTS (SELECT 1 FROM round_tallies WHERE round_id = NEW.round_id
                         AND dept = NEW.dept)
        BEGIN
            SELECT RAISE(ABORT, 'a statement for a department the round has no tally of');
        END;
        CREATE TRIGGER round_tallies_on_statement AFTER INSERT ON round_statements
        BEGIN
            UPDATE round_tallies SET
                answered = answered + NOT EXISTS (
                    SELECT 1 FROM round_statements AS s
                    WHERE s.round_id = NEW.round_id AND s.task = NEW.task AND s.dept = NEW.dept
                      AND s.id != NEW.id),
                on_time = on_time + (NEW.late = 0 AND NOT EXISTS (
                    SELECT 1 FROM round_statements AS s
                    WHERE s.round_id = NEW.round_id AND s.task = NEW.task AND s.dept = NEW.dept
                      AND s.late = 0 AND s.id != NEW.id))
            WHERE round_id = NEW.round_id AND dept = NEW.dept;
        END;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        16,
        "reminders_owed",
        """
        -- Which reminders of its due date in force each task has had logged (the date in
        -- force of a task without one is its plan's year end: December 31), kept by the
        -- triggers below on every write to due_reminders and to task_standing's due date.
        -- The due-date scan of every minute then finds the reminders owed in three partial
        -- indexes that hold only tasks whose reminder of that kind is not logged yet, by
        -- ranges of due dates: what it reads is what is owed, not every task long reminded
        -- (thousands at 100x, merged against the log each minute before).
        ALTER TABLE task_standing ADD COLUMN day14_logged INTEGER NOT NULL DEFAULT 0
            CHECK (day14_logged IN (0, 1));
        ALTER TABLE task_standing ADD COLUMN day1_logged INTEGER NOT NULL DEFAULT 0
            CHECK (day1_logged IN (0, 1));
        ALTER TABLE task_standing ADD COLUMN overdue_logged INTEGER NOT NULL DEFAULT 0
            CHECK (overdue_logged IN (0, 1));
        CREATE VIEW task_reminders_logged (plan_year, task, day14, day1, overdue) AS
        SELECT t.plan_year, t.task,
               EXISTS (SELECT 1 FROM due_reminders AS r WHERE r.plan_year = t.plan_year
                       AND r.task = t.task AND r.due = coalesce(t.due, t.plan_year || '-12-31')
                       AND r.kind = 'day14'),
               EXISTS (SELECT 1 FROM due_reminders AS r WHERE r.plan_year = t.plan_year
                       AND r.task = t.task AND r.due = coalesce(t.due, t.plan_year || '-12-31')
                       AND r.kind = 'day1'),
               EXISTS (SELECT 1 FROM due_reminders AS r WHERE r.plan_year = t.plan_year
                       AND r.task = t.task AND r.due = coalesce(t.due, t.plan_year || '-12-31')
                       AND r.kind = 'overdue')
        FROM task_standing AS t;
        UPDATE task_standing SET (day14_logged, day1_logged, overdue_logged) = (
            SELECT day14, day1, overdue FROM task_reminders_logged AS l
            WHERE l.plan_year = task_standing.plan_year AND l.task = task_standing.task);

        -- The scan's candidates, one index per kind, in due-date order: tasks not closed whose
        -- overdue notice is not logged, tasks not done whose reminder 14 days or a day ahead
        -- is not (the columns the conditions name are in each, so it reads the index only).
        CREATE INDEX task_standing_overdue_owed
            ON task_standing (plan_year, due, task, closure, overdue_logged)
            WHERE closure IS NOT 'closed' AND overdue_logged = 0;
        CREATE INDEX task_standing_day14_owed
            ON task_standing (plan_year, due, task, status, day14_logged)
            WHERE status IS NOT 'done' AND day14_logged = 0;
        CREATE INDEX task_standing_day1_owed
            ON task_standing (plan_year, due, task, status, day1_logged)
            WHERE status IS NOT 'done' AND day1_logged = 0;

        -- A reminder logged marks its task, if the date it was logged for is still in force
        -- (the scan's hot write: one kind, one row, no look-up of the log).
        CREATE TRIGGER task_standing_day14_logged AFTER INSERT ON due_reminders
        WHEN NEW.kind = 'day14'
        BEGIN
            UPDATE task_standing SET day14_logged = 1
            WHERE plan_year = NEW.plan_year AND task = NEW.task
              AND coalesce(due, plan_year || '-12-31') = NEW.due;
        END;
        CREATE TRIGGER task_standing_day1_logged AFTER INSERT ON due_reminders
        WHEN NEW.kind = 'day1'
        BEGIN
            UPDATE task_standing SET day1_logged = 1
            WHERE plan_year = NEW.plan_year AND task = NEW.task
              AND coalesce(due, plan_year || '-12-31') = NEW.due;
        END;
        CREATE TRIGGER task_standing_overdue_logged AFTER INSERT ON due_reminders
        WHEN NEW.kind = 'overdue'
        BEGIN
            UPDATE task_standing SET overdue_logged = 1
            WHERE plan_year = NEW.plan_year AND task = NEW.task
              AND coalesce(due, plan_year || '-12-31') = NEW.due;
        END;
        -- Anything else read again from the log: a log row changed or taken back, a task
        -- planned (or moved by the plan's triggers), its due date changed.
        CREATE TRIGGER task_standing_log_update AFTER UPDATE ON due_reminders
        BEGIN
            UPDATE task_standing SET (day14_logged, day1_logged, overdue_logged) = (
                SELECT day14, day1, overdue FROM task_reminders_logged AS l
                WHERE l.plan_year = task_standing.plan_year AND l.task = task_standing.task)
            WHERE plan_year = OLD.plan_year AND task = OLD.task;
            UPDATE task_standing SET (day14_logged, day1_logged, overdue_logged) = (
                SELECT day14, day1, overdue FROM task_reminders_logged AS l
                WHERE l.plan_year = task_standing.plan_year AND l.task = task_standing.task)
            WHERE plan_year = NEW.plan_year AND task = NEW.task;
        END;
        CREATE TRIGGER task_standing_log_delete AFTER DELETE ON due_reminders
        BEGIN
            UPDATE task_standing SET (day14_logged, day1_logged, overdue_logged) = (
                SELECT day14, day1, overdue FROM task_reminders_logged AS l
                WHERE l.plan_year = task_standing.plan_year AND l.task = task_standing.task)
            WHERE plan_year = OLD.plan_year AND task = OLD.task;
        END;
        CREATE TRIGGER task_standing_logged_on_insert AFTER INSERT ON task_standing
        BEGIN
            UPDATE task_standing SET (day14_logged, day1_logged, overdue_logged) = (
                SELECT day14, day1, overdue FROM task_reminders_logged AS l
                WHERE l.plan_year = task_standing.plan_year AND l.task = task_standing.task)
            WHERE plan_year = NEW.plan_year AND task = NEW.task;
        END;
        CREATE TRIGGER task_standing_logged_on_due AFTER UPDATE OF due ON task_standing
        WHEN OLD.due IS NOT NEW.due
        BEGIN
            UPDATE task_standing SET (day14_logged, day1_logged, overdue_logged) = (
                SELECT day14, day1, overdue FROM task_reminders_logged AS l
                WHERE l.plan_year = task_standing.plan_year AND l.task = task_standing.task)
            WHERE plan_year = NEW.plan_year AND task = NEW.task;
        END;
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
