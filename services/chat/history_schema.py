"""The app database's schema for `HistoryStore` (users, chats, messages and their previous
versions): `MIGRATIONS` for SQLite, `PG_MIGRATIONS` for PostgreSQL, both named with a
`history` prefix (see `history_store`'s docstring)."""

from __future__ import annotations

from services.postgres.migrations import Migration as PgMigration

# Conversations imported from elsewhere (use_cases/conversations/import_domain.py): where
# they came from, and the source's id of each, unique per user so a second import finds it.
_IMPORTED_CHATS = """
        ALTER TABLE chats ADD COLUMN source TEXT;
        ALTER TABLE chats ADD COLUMN source_url TEXT;
        ALTER TABLE chats ADD COLUMN external_id TEXT;
        CREATE UNIQUE INDEX chats_imported ON chats(user_id, source, external_id)
            WHERE external_id IS NOT NULL;
        """

# Names are prefixed because the app database is shared with other stores (response log,
# evals), which record their migrations in the same `schema_migrations` table.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
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
    (
        "history_0002_message_owner",
        """
        ALTER TABLE messages ADD COLUMN owner TEXT;
        CREATE INDEX messages_streaming ON messages(owner) WHERE status = 'streaming';
        """,
    ),
    # Answers replaced by "Retry" or an edited question, kept as the new answer's previous
    # versions (deleted with it, and with its chat).
    (
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
    (
        "history_0004_imported_chats",
        _IMPORTED_CHATS,
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
]
