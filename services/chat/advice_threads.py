"""SQLite adapter for the `AdviceThreadStore` port: advice threads kept on the server.

A thread is a user's list of questions and the `StructuredAdvice` each got, stored whole as
JSON (the advice exactly as the client received it, so a reopened thread shows what was
shown live). The same file and concurrency rules as the history store
(`services/chat/history_store.py`): a connection per thread, WAL, and `BEGIN IMMEDIATE` for
adding an advice (it reads the next `seq` and may create the thread). Ids follow the chat id
rule; a malformed id is treated as absent by lookups and refused by `add_entry`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

from services.chat.history_store import _now, chat_title, is_valid_id, require_valid_id
from services.sqlite.connection import Row, immediate_transaction
from services.sqlite.migrations import apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.advice.domain import AdviceEntry, AdviceThread, StructuredAdvice
from use_cases.advice.manage_threads import thread_not_found
from use_cases.shared.errors import InvalidRequest

__all__ = ["MIGRATIONS", "SqliteAdviceThreads"]

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "advice_0001_threads",
        """
        CREATE TABLE advice_threads (
            id          TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL,
            title       TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        );
        CREATE INDEX advice_threads_by_user_recent ON advice_threads(user_id, updated_at DESC);
        CREATE TABLE advice_entries (
            id          TEXT PRIMARY KEY,
            thread_id   TEXT NOT NULL REFERENCES advice_threads(id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL CHECK (seq >= 1),
            question    TEXT NOT NULL,
            advice      JSON NOT NULL CHECK (json_valid(advice)),
            created_at  TEXT NOT NULL
        );
        CREATE UNIQUE INDEX advice_entries_by_thread_seq ON advice_entries(thread_id, seq);
        """,
    ),
)


class SqliteAdviceThreads:
    """`AdviceThreadStore` on one SQLite file; safe for many threads and processes at once."""

    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path, row_factory=Row)
        apply_migrations(self._connections.get(), MIGRATIONS)

    def get_thread(self, thread_id: str) -> AdviceThread | None:
        if not is_valid_id(thread_id):
            return None
        row = (
            self._connections.get()
            .execute("SELECT * FROM advice_threads WHERE id = ?", (thread_id,))
            .fetchone()
        )
        return _thread(row) if row else None

    def list_threads(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[AdviceThread]:
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        rows = self._connections.get().execute(
            "SELECT * FROM advice_threads WHERE user_id = ? "
            "ORDER BY updated_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [_thread(row) for row in rows]

    def list_entries(self, thread_id: str, *, limit: int | None = None) -> list[AdviceEntry]:
        if limit is not None and limit < 0:
            raise InvalidRequest("limit must not be negative.")
        if not is_valid_id(thread_id):
            return []
        rows = (
            self._connections.get()
            .execute(
                "SELECT * FROM advice_entries WHERE thread_id = ? ORDER BY seq DESC LIMIT ?",
                (thread_id, -1 if limit is None else limit),
            )
            .fetchall()
        )
        return [_entry(row) for row in reversed(rows)]

    def add_entry(
        self, thread_id: str, user_id: str, question: str, advice: StructuredAdvice
    ) -> AdviceEntry:
        require_valid_id(thread_id, "thread id")
        require_valid_id(user_id, "user id")
        now = _now()
        entry_id = uuid.uuid4().hex
        with immediate_transaction(self._connections.get()) as conn:
            owner = conn.execute(
                "SELECT user_id FROM advice_threads WHERE id = ?", (thread_id,)
            ).fetchone()
            if owner is None:
                conn.execute(
                    "INSERT INTO advice_threads (id, user_id, title, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (thread_id, user_id, chat_title(question), now, now),
                )
            elif owner[0] != user_id:
                raise thread_not_found(thread_id)
            (seq,) = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM advice_entries WHERE thread_id = ?",
                (thread_id,),
            ).fetchone()
            conn.execute(
                "INSERT INTO advice_entries (id, thread_id, seq, question, advice, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (entry_id, thread_id, seq, question, advice.model_dump_json(), now),
            )
            conn.execute("UPDATE advice_threads SET updated_at = ? WHERE id = ?", (now, thread_id))
        return AdviceEntry(entry_id, thread_id, question, advice, datetime.fromisoformat(now))

    def delete_thread(self, thread_id: str) -> bool:
        if not is_valid_id(thread_id):
            return False
        with immediate_transaction(self._connections.get()) as conn:
            conn.execute("DELETE FROM advice_entries WHERE thread_id = ?", (thread_id,))
            gone = conn.execute("DELETE FROM advice_threads WHERE id = ?", (thread_id,))
            return gone.rowcount > 0

    def close(self) -> None:
        self._connections.close()


def _thread(row: Row) -> AdviceThread:
    return AdviceThread(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def _entry(row: Row) -> AdviceEntry:
    return AdviceEntry(
        id=row["id"],
        thread_id=row["thread_id"],
        question=row["question"],
        advice=StructuredAdvice.model_validate_json(row["advice"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )
