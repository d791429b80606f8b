"""PostgreSQL adapter for the `AdviceThreadStore` port: the rules of `SqliteAdviceThreads`
(`services/chat/advice_threads.py`) on the shared pool. A twin, not a copy: the dialects
differ in placeholders, time types, the row lock that orders concurrent appends to one thread
(`SELECT ... FOR UPDATE`, where SQLite takes the file's write lock with `BEGIN IMMEDIATE`) and
the creation race (`ON CONFLICT DO NOTHING`). The advice is stored as JSON text, shown back
exactly as it was stored; `rowid` stands in for SQLite's tie-breaker.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.chat.history_store import chat_title, is_valid_id, require_valid_id
from services.postgres import Migration, PgDatabase, apply_migrations
from use_cases.advice.domain import AdviceEntry, AdviceThread, StructuredAdvice
from use_cases.advice.manage_threads import thread_not_found
from use_cases.shared.errors import InvalidRequest

__all__ = ["MIGRATIONS", "PgAdviceThreads"]

MIGRATIONS: list[Migration] = [
    Migration(
        "advice_pg_0001_threads",
        """
        CREATE TABLE advice_threads (
            id          TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL,
            title       TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL,
            updated_at  TIMESTAMPTZ NOT NULL,
            rowid       BIGINT GENERATED ALWAYS AS IDENTITY
        );
        CREATE INDEX advice_threads_by_user_recent
            ON advice_threads(user_id, updated_at DESC, rowid DESC);
        CREATE TABLE advice_entries (
            id          TEXT PRIMARY KEY,
            thread_id   TEXT NOT NULL REFERENCES advice_threads(id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL CHECK (seq >= 1),
            question    TEXT NOT NULL,
            advice      TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL
        );
        CREATE UNIQUE INDEX advice_entries_by_thread_seq ON advice_entries(thread_id, seq);
        """,
    ),
]

_THREAD_COLUMNS = "id, user_id, title, created_at, updated_at"


class PgAdviceThreads:
    """`AdviceThreadStore` on PostgreSQL; safe for many threads and replicas at once."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        apply_migrations(db, MIGRATIONS)

    def get_thread(self, thread_id: str) -> AdviceThread | None:
        if not is_valid_id(thread_id):
            return None
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM advice_threads WHERE id = %s", (thread_id,)
            ).fetchone()
        return _thread(row) if row else None

    def list_threads(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[AdviceThread]:
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM advice_threads WHERE user_id = %s "
                "ORDER BY updated_at DESC, rowid DESC LIMIT %s OFFSET %s",
                (user_id, limit, offset),
            ).fetchall()
        return [_thread(row) for row in rows]

    def list_entries(self, thread_id: str, *, limit: int | None = None) -> list[AdviceEntry]:
        if limit is not None and limit < 0:
            raise InvalidRequest("limit must not be negative.")
        if not is_valid_id(thread_id):
            return []
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT id, thread_id, question, advice, created_at FROM advice_entries "
                "WHERE thread_id = %s ORDER BY seq DESC LIMIT %s",
                (thread_id, limit),
            ).fetchall()
        return [_entry(row) for row in reversed(rows)]

    def add_entry(
        self, thread_id: str, user_id: str, question: str, advice: StructuredAdvice
    ) -> AdviceEntry:
        require_valid_id(thread_id, "thread id")
        require_valid_id(user_id, "user id")
        if "\x00" in question:
            raise InvalidRequest("Text must not contain NUL characters.")
        now = datetime.now(UTC)
        entry_id = uuid.uuid4().hex
        with self._db.transaction() as conn:
            # A racing creator of the same id makes this wait for its commit, then skip.
            conn.execute(
                "INSERT INTO advice_threads (id, user_id, title, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (thread_id, user_id, chat_title(question), now, now),
            )
            row = conn.execute(
                "SELECT user_id FROM advice_threads WHERE id = %s FOR UPDATE", (thread_id,)
            ).fetchone()
            if row is None or row["user_id"] != user_id:
                raise thread_not_found(thread_id)
            seq = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 AS seq FROM advice_entries WHERE thread_id = %s",
                (thread_id,),
            ).fetchone()["seq"]
            conn.execute(
                "INSERT INTO advice_entries (id, thread_id, seq, question, advice, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (entry_id, thread_id, seq, question, advice.model_dump_json(), now),
            )
            conn.execute(
                "UPDATE advice_threads SET updated_at = %s WHERE id = %s", (now, thread_id)
            )
        return AdviceEntry(entry_id, thread_id, question, advice, now)

    def delete_thread(self, thread_id: str) -> bool:
        if not is_valid_id(thread_id):
            return False
        with self._db.transaction() as conn:
            gone = conn.execute("DELETE FROM advice_threads WHERE id = %s", (thread_id,))
            return gone.rowcount > 0

    def close(self) -> None:
        """The pool belongs to the database; nothing of this store's to close."""


def _thread(row: dict[str, Any]) -> AdviceThread:
    return AdviceThread(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        created_at=row["created_at"].astimezone(UTC),
        updated_at=row["updated_at"].astimezone(UTC),
    )


def _entry(row: dict[str, Any]) -> AdviceEntry:
    return AdviceEntry(
        id=row["id"],
        thread_id=row["thread_id"],
        question=row["question"],
        advice=StructuredAdvice.model_validate_json(row["advice"]),
        created_at=row["created_at"].astimezone(UTC),
    )
