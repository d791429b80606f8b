"""The `AdviceThreadStore` port: advice threads kept on the server, in the app database, on
SQLite or PostgreSQL (`services/sql`).

A thread is a user's list of questions and the `StructuredAdvice` each got, stored whole as
JSON text (the advice exactly as the client received it, so a reopened thread shows what was
shown live). Ids follow the chat id rule; a malformed id is treated as absent by lookups and
refused by `add_entry`. Times are ISO text with microseconds on SQLite (`db.put_time`, the
format the history store writes, so text order is time order) and `timestamptz` on
PostgreSQL.

Concurrency: adding an advice reads the next `seq` and may create the thread, so it runs in
one write transaction. The same file rules as the history store
(`services/chat/history_store.py`) on SQLite: a connection per thread, WAL, and
`BEGIN IMMEDIATE`, whose write lock orders concurrent appends. On PostgreSQL the thread's
row is locked (`SELECT ... FOR UPDATE`) to order appends to one thread, and a racing creator
of the same id waits for the other's commit, then skips (`ON CONFLICT (id) DO NOTHING`,
which SQLite says the same way). `rowid` orders threads updated at the same time (SQLite's
own; an identity column on PostgreSQL).

What the dialects still say differently (`self._db.dialect`):
* PostgreSQL refuses a NUL character in text, so `add_entry` refuses a question holding one
  there (`InvalidRequest`); SQLite stores it;
* the row lock (`db.for_update`), empty on SQLite, where the write lock is already held;
* the schemas (`MIGRATIONS`, `PG_MIGRATIONS`): time types, `advice` checked by `json_valid`
  on SQLite (plain text on PostgreSQL), and PostgreSQL's `rowid` identity column.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.chat.history_store import chat_title, is_valid_id, require_valid_id
from services.postgres.migrations import Migration as PgMigration
from services.sql import StoreTarget, sql_db
from use_cases.advice.domain import AdviceEntry, AdviceThread, StructuredAdvice
from use_cases.advice.manage_threads import thread_not_found
from use_cases.shared.errors import InvalidRequest

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "AdviceThreads"]

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

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
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
_ENTRY_COLUMNS = "id, thread_id, question, advice, created_at"


class AdviceThreads:
    """`AdviceThreadStore` on one database; safe for many threads, processes and replicas."""

    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        # `MIGRATIONS` holds (name, sql) pairs, which `apply_migrations` takes as well.
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def get_thread(self, thread_id: str) -> AdviceThread | None:
        if not is_valid_id(thread_id):
            return None
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM advice_threads WHERE id = ?", (thread_id,)
            ).fetchone()
        return self._thread(row) if row else None

    def list_threads(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[AdviceThread]:
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM advice_threads WHERE user_id = ? "
                "ORDER BY updated_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (user_id, limit, offset),
            ).fetchall()
        return [self._thread(row) for row in rows]

    def list_entries(self, thread_id: str, *, limit: int | None = None) -> list[AdviceEntry]:
        """Oldest first: the last `limit` entries (all when None)."""
        if limit is not None and limit < 0:
            raise InvalidRequest("limit must not be negative.")
        if not is_valid_id(thread_id):
            return []
        bound, args = ("", (thread_id,)) if limit is None else (" LIMIT ?", (thread_id, limit))
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM advice_entries WHERE thread_id = ? "
                f"ORDER BY seq DESC{bound}",
                args,
            ).fetchall()
        return [self._entry(row) for row in reversed(rows)]

    def add_entry(
        self, thread_id: str, user_id: str, question: str, advice: StructuredAdvice
    ) -> AdviceEntry:
        require_valid_id(thread_id, "thread id")
        require_valid_id(user_id, "user id")
        if self._db.dialect == "postgresql" and "\x00" in question:
            raise InvalidRequest("Text must not contain NUL characters.")
        now = datetime.now(UTC)
        stamp = self._db.put_time(now)
        entry_id = uuid.uuid4().hex
        with self._db.write() as conn:
            # A racing creator of the same id makes this wait for its commit, then skip.
            conn.execute(
                "INSERT INTO advice_threads (id, user_id, title, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (thread_id, user_id, chat_title(question), stamp, stamp),
            )
            owner = conn.execute(
                f"SELECT user_id FROM advice_threads WHERE id = ?{self._db.for_update}",
                (thread_id,),
            ).fetchone()
            if owner is None or owner["user_id"] != user_id:
                raise thread_not_found(thread_id)
            seq = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 AS seq FROM advice_entries WHERE thread_id = ?",
                (thread_id,),
            ).fetchone()["seq"]
            conn.execute(
                "INSERT INTO advice_entries (id, thread_id, seq, question, advice, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (entry_id, thread_id, seq, question, advice.model_dump_json(), stamp),
            )
            conn.execute(
                "UPDATE advice_threads SET updated_at = ? WHERE id = ?", (stamp, thread_id)
            )
        return AdviceEntry(entry_id, thread_id, question, advice, now)

    def delete_thread(self, thread_id: str) -> bool:
        if not is_valid_id(thread_id):
            return False
        with self._db.write() as conn:
            # The entries first, as SQLite always did (the cascade would remove them too).
            conn.execute("DELETE FROM advice_entries WHERE thread_id = ?", (thread_id,))
            gone = conn.execute("DELETE FROM advice_threads WHERE id = ?", (thread_id,))
            return gone.rowcount > 0

    def delete_for_user(self, user_id: str) -> int:
        """Delete every thread of `user_id` and its entries; how many threads there were."""
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM advice_entries WHERE thread_id IN "
                "(SELECT id FROM advice_threads WHERE user_id = ?)",
                (user_id,),
            )
            return conn.execute("DELETE FROM advice_threads WHERE user_id = ?", (user_id,)).rowcount

    def close(self) -> None:
        self._db.close()

    def _thread(self, row: Any) -> AdviceThread:
        time = self._db.get_time
        return AdviceThread(
            id=row["id"],
            user_id=row["user_id"],
            title=row["title"],
            created_at=time(row["created_at"]),
            updated_at=time(row["updated_at"]),
        )

    def _entry(self, row: Any) -> AdviceEntry:
        return AdviceEntry(
            id=row["id"],
            thread_id=row["thread_id"],
            question=row["question"],
            advice=StructuredAdvice.model_validate_json(row["advice"]),
            created_at=self._db.get_time(row["created_at"]),
        )
