"""The app database's schema for `HistoryStore` (users, chats, messages and their previous
versions): `MIGRATIONS` for SQLite, `PG_MIGRATIONS` for PostgreSQL, both named with a
`history` prefix (see `history_store`'s docstring)."""

from __future__ import annotations

from typing import Any

from services.postgres.migrations import Migration as PgMigration
from services.sqlite.migrations import Migration
from use_cases.chat.prompts import NOT_FOUND_ANSWER, reads_as_not_found

# Conversations imported from elsewhere (use_cases/conversations/import_domain.py): where
# they came from, and the source's id of each, unique per user so a second import finds it.
_IMPORTED_CHATS = """
        ALTER TABLE chats ADD COLUMN source TEXT;
        ALTER TABLE chats ADD COLUMN source_url TEXT;
        ALTER TABLE chats ADD COLUMN external_id TEXT;
        CREATE UNIQUE INDEX chats_imported ON chats(user_id, source, external_id)
            WHERE external_id IS NOT NULL;
        """

#: Answers marked by the backfill in one UPDATE at most.
_BACKFILL_BATCH = 500


def _not_found_ids(rows: Any) -> list[str]:
    """The ids of the answers, among `(id, content)` rows, that give the can't-find answer in
    words: the test the answers API made at read time before the column existed, made once."""
    return [row[0] for row in rows if reads_as_not_found(row[1])]


def _backfill_sqlite(conn: Any) -> None:
    """Mark the answers stored before `not_found` was stored as they read (nothing changes for
    them); only answers holding the sentence are read back."""
    rows = conn.execute(
        "SELECT id, content FROM messages WHERE role = 'assistant' AND instr(content, ?) > 0",
        (NOT_FOUND_ANSWER,),
    ).fetchall()
    ids = _not_found_ids(rows)
    for start in range(0, len(ids), _BACKFILL_BATCH):
        batch = ids[start : start + _BACKFILL_BATCH]
        conn.execute(
            f"UPDATE messages SET not_found = 1 WHERE id IN ({', '.join('?' * len(batch))})",
            batch,
        )


def _backfill_postgres(conn: Any) -> None:
    """`_backfill_sqlite` on PostgreSQL (its placeholders and dict rows)."""
    rows = conn.execute(
        "SELECT id, content FROM messages WHERE role = 'assistant' AND strpos(content, %s) > 0",
        (NOT_FOUND_ANSWER,),
    ).fetchall()
    ids = _not_found_ids((row["id"], row["content"]) for row in rows)
    for start in range(0, len(ids), _BACKFILL_BATCH):
        conn.execute(
            "UPDATE messages SET not_found = TRUE WHERE id = ANY(%s)",
            (ids[start : start + _BACKFILL_BATCH],),
        )


# Names are prefixed because the app database is shared with other stores (response log,
# evals), which record their migrations in the same `schema_migrations` table.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "history_0001_users_chats_messages",
        """
        CREATE TABLE users (
            id          TEXT PRIMARY KEY,
            name        TEXT,
            email       TEXT,
            created_at  TEXT NOT NULL
        );
        CREATE TABLE chats (
            id          TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title       TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        );
        CREATE INDEX chats_by_user_recent ON chats(user_id, updated_at DESC);
        CREATE TABLE messages (
            id            TEXT PRIMARY KEY,
            chat_id       TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            seq           INTEGER NOT NULL CHECK (seq >= 1),
            role          TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content       TEXT NOT NULL,
            tool_calls    JSON NOT NULL DEFAULT '[]' CHECK (json_valid(tool_calls)),
            sources       JSON NOT NULL DEFAULT '[]' CHECK (json_valid(sources)),
            model         TEXT,
            latency_ms    INTEGER,
            input_tokens  INTEGER,
            output_tokens INTEGER,
            requests      INTEGER,
            status        TEXT NOT NULL DEFAULT 'complete'
                          CHECK (status IN ('complete', 'streaming', 'interrupted', 'failed')),
            created_at    TEXT NOT NULL
        );
        -- Unique: two turns can never share a position. Also serves the FK and seq-order reads.
        CREATE UNIQUE INDEX messages_by_chat_seq ON messages(chat_id, seq);
        """,
    ),
    # The process streaming an answer (services/presence.py): a dead one's answers are
    # interrupted at the next start instead of after the turn time limit.
    Migration(
        "history_0002_message_owner",
        """
        ALTER TABLE messages ADD COLUMN owner TEXT;
        CREATE INDEX messages_streaming ON messages(owner) WHERE status = 'streaming';
        """,
    ),
    # Answers replaced by "Retry" or an edited question, kept as the new answer's previous
    # versions (deleted with it, and with its chat).
    Migration(
        "history_0003_message_versions",
        """
        CREATE TABLE message_versions (
            id          TEXT PRIMARY KEY,
            message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL CHECK (seq >= 1),
            question    TEXT NOT NULL,
            content     TEXT NOT NULL,
            sources     JSON NOT NULL DEFAULT '[]' CHECK (json_valid(sources)),
            model       TEXT,
            status      TEXT NOT NULL,
            created_at  TEXT NOT NULL
        );
        CREATE UNIQUE INDEX message_versions_by_message ON message_versions(message_id, seq);
        """,
    ),
    Migration(
        "history_0004_imported_chats",
        _IMPORTED_CHATS,
    ),
    # Whether an answer is the can't-find answer, as its turn decided it (the offline model
    # reports it as a value), so a history reads it back instead of guessing from the text;
    # older answers are marked from their text, as they were read before.
    Migration(
        "history_0005_message_not_found",
        "ALTER TABLE messages ADD COLUMN not_found INTEGER NOT NULL DEFAULT 0 "
        "CHECK (not_found IN (0, 1))",
        _backfill_sqlite,
    ),
)

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
        "history_pg_0001_users_chats_messages",
        """
        CREATE TABLE users (
            id          TEXT PRIMARY KEY,
            name        TEXT,
            email       TEXT,
            created_at  TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE chats (
            id          TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title       TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL,
            updated_at  TIMESTAMPTZ NOT NULL,
            rowid       BIGINT GENERATED ALWAYS AS IDENTITY
        );
        CREATE INDEX chats_by_user_recent ON chats(user_id, updated_at DESC, rowid DESC);
        CREATE TABLE messages (
            id            TEXT PRIMARY KEY,
            chat_id       TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            seq           INTEGER NOT NULL CHECK (seq >= 1),
            role          TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content       TEXT NOT NULL,
            tool_calls    JSON NOT NULL DEFAULT '[]',
            sources       JSON NOT NULL DEFAULT '[]',
            model         TEXT,
            latency_ms    INTEGER,
            input_tokens  INTEGER,
            output_tokens INTEGER,
            requests      INTEGER,
            status        TEXT NOT NULL DEFAULT 'complete'
                          CHECK (status IN ('complete', 'streaming', 'interrupted', 'failed')),
            created_at    TIMESTAMPTZ NOT NULL
        );
        -- Unique: two turns can never share a position. Also serves the FK and seq-order reads.
        CREATE UNIQUE INDEX messages_by_chat_seq ON messages(chat_id, seq);
        """,
    ),
    PgMigration(
        "history_pg_0002_message_owner",
        """
        ALTER TABLE messages ADD COLUMN owner TEXT;
        CREATE INDEX messages_streaming ON messages(owner) WHERE status = 'streaming';
        """,
    ),
    PgMigration(
        "history_pg_0003_message_versions",
        """
        CREATE TABLE message_versions (
            id          TEXT PRIMARY KEY,
            message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL CHECK (seq >= 1),
            question    TEXT NOT NULL,
            content     TEXT NOT NULL,
            sources     JSON NOT NULL DEFAULT '[]',
            model       TEXT,
            status      TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL
        );
        CREATE UNIQUE INDEX message_versions_by_message ON message_versions(message_id, seq);
        """,
    ),
    PgMigration("history_pg_0004_imported_chats", _IMPORTED_CHATS),
    PgMigration(
        "history_pg_0005_message_not_found",
        "ALTER TABLE messages ADD COLUMN not_found BOOLEAN NOT NULL DEFAULT FALSE",
        _backfill_postgres,
    ),
]
