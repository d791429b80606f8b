"""The `SummaryStore` port in the app database, on SQLite or PostgreSQL (`services/sql`):
one summary per chat, in `conversation_summaries`.

A row goes with its chat (`REFERENCES chats(id) ON DELETE CASCADE`), so the history store
must have migrated first (`backend/stores/app.py` builds it first). Times follow the history
store's formats (ISO text with microseconds on SQLite, `timestamptz` on PostgreSQL). `save`
is one upsert (`ON CONFLICT (chat_id) DO UPDATE`, which both dialects say the same way) that
keeps the first `created_at`; `edit` is one UPDATE: neither needs a read-then-write
transaction.

The search index (`services/conversations/search_index.py`) reads `text` from this table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.chat.history_store import is_valid_id
from services.postgres.migrations import Migration as PgMigration
from services.sql import StoreTarget, sql_db
from use_cases.conversations.search_ports import ConversationSummary
from use_cases.shared.errors import InvalidRequest

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "SqlSummaryStore"]

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "conversation_summaries_0001",
        """
        CREATE TABLE conversation_summaries (
            chat_id          TEXT PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
            text             TEXT NOT NULL,
            model            TEXT NOT NULL,
            edited           INTEGER NOT NULL DEFAULT 0 CHECK (edited IN (0, 1)),
            message_count    INTEGER NOT NULL CHECK (message_count >= 0),
            last_message_id  TEXT,
            created_at       TEXT NOT NULL,
            updated_at       TEXT NOT NULL
        );
        """,
    ),
)

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
        "conversation_summaries_pg_0001",
        """
        CREATE TABLE conversation_summaries (
            chat_id          TEXT PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
            text             TEXT NOT NULL,
            model            TEXT NOT NULL,
            edited           BOOLEAN NOT NULL DEFAULT FALSE,
            message_count    INTEGER NOT NULL CHECK (message_count >= 0),
            last_message_id  TEXT,
            created_at       TIMESTAMPTZ NOT NULL,
            updated_at       TIMESTAMPTZ NOT NULL
        );
        """,
    ),
]

_COLUMNS = "chat_id, text, model, edited, message_count, last_message_id, created_at, updated_at"


class SqlSummaryStore:
    """`SummaryStore` on one database; safe for many threads, processes and replicas."""

    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def get(self, chat_id: str) -> ConversationSummary | None:
        if not is_valid_id(chat_id):
            return None
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM conversation_summaries WHERE chat_id = ?", (chat_id,)
            ).fetchone()
        return self._summary(row) if row else None

    def save(self, summary: ConversationSummary) -> ConversationSummary:
        self._refuse_nul(summary.text)
        stamp = self._db.put_time(summary.updated_at)
        with self._db.write() as conn:
            conn.execute(
                f"INSERT INTO conversation_summaries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET text = excluded.text, "
                "model = excluded.model, edited = excluded.edited, "
                "message_count = excluded.message_count, "
                "last_message_id = excluded.last_message_id, updated_at = excluded.updated_at",
                (
                    summary.chat_id,
                    summary.text,
                    summary.model,
                    self._flag(summary.edited),
                    summary.message_count,
                    summary.last_message_id,
                    self._db.put_time(summary.created_at),
                    stamp,
                ),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM conversation_summaries WHERE chat_id = ?",
                (summary.chat_id,),
            ).fetchone()
        return self._summary(row)

    def edit(self, chat_id: str, text: str, at: datetime) -> ConversationSummary | None:
        if not is_valid_id(chat_id):
            return None
        self._refuse_nul(text)
        with self._db.write() as conn:
            changed = conn.execute(
                "UPDATE conversation_summaries SET text = ?, edited = ?, updated_at = ? "
                "WHERE chat_id = ?",
                (text, self._flag(True), self._db.put_time(at), chat_id),
            )
            if changed.rowcount == 0:
                return None
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM conversation_summaries WHERE chat_id = ?", (chat_id,)
            ).fetchone()
        return self._summary(row)

    def close(self) -> None:
        self._db.close()

    def _flag(self, value: bool) -> Any:
        return value if self._db.dialect == "postgresql" else int(value)

    def _refuse_nul(self, text: str) -> None:
        if self._db.dialect == "postgresql" and "\x00" in text:
            raise InvalidRequest("Text must not contain NUL characters.")

    def _summary(self, row: Any) -> ConversationSummary:
        time = self._db.get_time
        return ConversationSummary(
            chat_id=row["chat_id"],
            text=row["text"],
            model=row["model"],
            edited=bool(row["edited"]),
            message_count=row["message_count"],
            last_message_id=row["last_message_id"],
            created_at=time(row["created_at"]),
            updated_at=time(row["updated_at"]),
        )
