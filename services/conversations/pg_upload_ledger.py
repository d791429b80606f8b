"""`PgUploadLedger`: the files attached to chats in flight, every replica's, in PostgreSQL
(the `UploadLedger` port of use_cases/conversations/upload_limits.py).

One row per attachment being read or waiting (a ticket): its user, its bytes, the process
that reads it, whether it runs yet, and its order. The checks of one user (the byte cap when a
ticket enters, the concurrency when one starts) run in a transaction holding a
transaction-scoped advisory lock for that user, so two replicas cannot both admit past the
cap. A ticket of a process that is dead (its row in `processes` older than the timeout:
services/presence.py) no longer counts, and is deleted by the next check of its user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.postgres.database import PgDatabase
from services.postgres.migrations import Migration, apply_migrations

if TYPE_CHECKING:
    from services.postgres.database import Connection

__all__ = ["MIGRATIONS", "PgUploadLedger"]

MIGRATIONS = [
    Migration(
        "uploads_pg_0001_tickets",
        """
        CREATE TABLE upload_tickets (
            ticket     TEXT PRIMARY KEY,
            seq        BIGINT GENERATED ALWAYS AS IDENTITY,
            user_id    TEXT NOT NULL,
            bytes      BIGINT NOT NULL,
            process_id TEXT NOT NULL,
            running    BOOLEAN NOT NULL DEFAULT false,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX upload_tickets_user ON upload_tickets (user_id, seq);
        """,
    ),
]

_LOCK = "SELECT pg_advisory_xact_lock(hashtext('almanac.uploads'), hashtext(%s))"
_ALIVE = (
    "process_id IN (SELECT id FROM processes "
    "WHERE heartbeat_at > now() - make_interval(secs => %s))"
)


class PgUploadLedger:
    def __init__(self, db: PgDatabase, process_id: str, *, process_timeout_s: float) -> None:
        self._db = db
        self._process = process_id
        self._timeout = process_timeout_s
        apply_migrations(db, MIGRATIONS)

    def _lock_user(self, conn: Connection, user_id: str) -> None:
        """The user's lock, and their dead processes' tickets gone."""
        conn.execute(_LOCK, (user_id,))
        conn.execute(
            f"DELETE FROM upload_tickets WHERE user_id = %s AND NOT {_ALIVE}",
            (user_id, self._timeout),
        )

    def enter(self, ticket: str, user_id: str, size: int, max_bytes: int) -> tuple[int, int] | None:
        with self._db.transaction() as conn:
            self._lock_user(conn, user_id)
            row = conn.execute(
                "SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM upload_tickets "
                "WHERE user_id = %s",
                (user_id,),
            ).fetchone()
            uploads, held = (int(row["n"]), int(row["b"])) if row else (0, 0)
            if uploads and held + size > max_bytes:
                return uploads, held
            conn.execute(
                "INSERT INTO upload_tickets (ticket, user_id, bytes, process_id) "
                "VALUES (%s, %s, %s, %s)",
                (ticket, user_id, size, self._process),
            )
        return None

    def start(self, ticket: str, user_id: str, concurrent: int) -> bool:
        with self._db.transaction() as conn:
            self._lock_user(conn, user_id)
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE running) AS running, "
                "(array_agg(ticket ORDER BY seq) FILTER (WHERE NOT running))[1] AS next "
                "FROM upload_tickets WHERE user_id = %s",
                (user_id,),
            ).fetchone()
            if row is None or row["next"] != ticket or int(row["running"]) >= concurrent:
                return False
            conn.execute("UPDATE upload_tickets SET running = true WHERE ticket = %s", (ticket,))
        return True

    def leave(self, ticket: str) -> None:
        with self._db.connection() as conn:
            conn.execute("DELETE FROM upload_tickets WHERE ticket = %s", (ticket,))

    def in_flight(self, user_id: str) -> tuple[int, int]:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM upload_tickets "
                f"WHERE user_id = %s AND {_ALIVE}",
                (user_id, self._timeout),
            ).fetchone()
        return (int(row["n"]), int(row["b"])) if row else (0, 0)
