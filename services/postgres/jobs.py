"""`PgJobStore`: the background jobs of every replica in one PostgreSQL table.

- `jobs` holds one row per job (kind, JSON payload, status, progress, result or error, who
  holds it and its last heartbeat); `job_blobs` the bytes a job carries (an upload), deleted
  when the job ends.
- A worker claims the oldest claimable job with `SELECT ... FOR UPDATE SKIP LOCKED`, so
  replicas polling together never claim the same one. Claimable: `queued`, or `running` with
  a heartbeat older than the lease (its replica died or stalled), or at once a job whose
  worker's process `presence` (services/presence.py) reports dead (a replica killed and
  restarted): the claim takes it over and counts an attempt; one that took its worker down
  `MAX_ATTEMPTS` times is failed instead.
- Every later change names the worker (`WHERE worker = %s AND status = 'running'`), so a
  worker whose job was taken over changes nothing; it learns so at its next heartbeat or
  progress report and stops.
- A job with a `unique_key` exists once while queued or running (a partial unique index).
  The cap on waiting jobs of a kind (`max_pending`) is counted under a transaction-level
  advisory lock per kind, so concurrent submissions cannot overshoot it.
- Times are the database's (`now()`), the same clock for every replica.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from services.job_queue import (
    ABANDONED,
    LEASE_S,
    MAX_ATTEMPTS,
    ClaimedJob,
    StoredJob,
    busy_message,
)
from services.postgres.database import PgDatabase
from services.postgres.migrations import Migration, apply_migrations
from services.presence import Presence
from use_cases.jobs.queue import JobError
from use_cases.shared.errors import ServiceBusy

__all__ = ["MIGRATIONS", "PgJobStore"]

MIGRATIONS = [
    Migration(
        "jobs_pg_0001_jobs",
        """
        CREATE TABLE jobs (
            id           TEXT PRIMARY KEY,
            seq          BIGINT GENERATED ALWAYS AS IDENTITY,
            kind         TEXT NOT NULL,
            name         TEXT NOT NULL,
            payload      JSONB NOT NULL,
            unique_key   TEXT,
            status       TEXT NOT NULL
                         CHECK (status IN ('queued', 'running', 'done', 'failed')),
            created_by   TEXT,
            created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
            started_at   TIMESTAMPTZ,
            finished_at  TIMESTAMPTZ,
            worker       TEXT,
            heartbeat_at TIMESTAMPTZ,
            attempts     INTEGER NOT NULL DEFAULT 0,
            chunks_done  INTEGER NOT NULL DEFAULT 0,
            chunks_total INTEGER,
            result       JSONB,
            error_type   TEXT,
            error_detail TEXT
        );
        CREATE INDEX jobs_claimable ON jobs (seq) WHERE status IN ('queued', 'running');
        CREATE UNIQUE INDEX jobs_unique_active ON jobs (unique_key)
            WHERE unique_key IS NOT NULL AND status IN ('queued', 'running');
        CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
        CREATE TABLE job_blobs (
            job_id TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
            data   BYTEA NOT NULL
        );
        """,
    ),
]

_COLUMNS = (
    "id, kind, name, status, payload, created_by, created_at, started_at, finished_at, "
    "chunks_done, chunks_total, result, error_type, error_detail, attempts"
)
_HELD = "id = %s AND worker = %s AND status = 'running'"


class PgJobStore:
    """`JobStore` on PostgreSQL (see the module docstring). The newest `keep_finished`
    finished jobs stay readable."""

    def __init__(
        self,
        db: PgDatabase,
        *,
        presence: Presence | None = None,
        lease_s: float = LEASE_S,
        keep_finished: int = 1000,
    ) -> None:
        self._db = db
        self._presence = presence
        self._lease = lease_s
        self._keep_finished = keep_finished
        apply_migrations(db, MIGRATIONS)

    def add(
        self,
        kind: str,
        name: str,
        payload: Mapping[str, Any],
        *,
        data: bytes | None,
        created_by: str | None,
        unique_key: str | None,
        max_pending: int | None,
    ) -> StoredJob:
        with self._db.transaction() as conn:
            if max_pending is not None:
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext('almanac.jobs'), hashtext(%s))",
                    (kind,),
                )
                row = conn.execute(
                    "SELECT count(*) AS n FROM jobs "
                    "WHERE kind = %s AND status IN ('queued', 'running')",
                    (kind,),
                ).fetchone()
                if row is not None and row["n"] >= max_pending:
                    raise ServiceBusy(busy_message(row["n"]))
            added = conn.execute(
                f"INSERT INTO jobs (id, kind, name, payload, unique_key, status, created_by) "
                "VALUES (%s, %s, %s, %s, %s, 'queued', %s) "
                "ON CONFLICT (unique_key) "
                "WHERE unique_key IS NOT NULL AND status IN ('queued', 'running') DO NOTHING "
                f"RETURNING {_COLUMNS}",
                (uuid.uuid4().hex, kind, name, Jsonb(dict(payload)), unique_key, created_by),
            ).fetchone()
            if added is None:  # the job with this key is already queued or running
                existing = conn.execute(
                    f"SELECT {_COLUMNS} FROM jobs "
                    "WHERE unique_key = %s AND status IN ('queued', 'running')",
                    (unique_key,),
                ).fetchone()
                assert existing is not None
                return _job(existing)
            if data is not None:
                conn.execute(
                    "INSERT INTO job_blobs (job_id, data) VALUES (%s, %s)", (added["id"], data)
                )
            return _job(added)

    def claim(self, kinds: Sequence[str], worker: str) -> ClaimedJob | None:
        dead = self._dead_workers(kinds)
        with self._db.transaction() as conn:
            conn.execute(
                "WITH gone AS (UPDATE jobs SET status = 'failed', finished_at = now(), "
                "  worker = NULL, error_type = 'internal_error', error_detail = %s "
                "  WHERE status = 'running' AND kind = ANY(%s) AND attempts >= %s "
                "  AND (heartbeat_at < now() - make_interval(secs => %s) OR worker = ANY(%s)) "
                "  RETURNING id) "
                "DELETE FROM job_blobs WHERE job_id IN (SELECT id FROM gone)",
                (
                    ABANDONED.format(attempts=MAX_ATTEMPTS),
                    list(kinds),
                    MAX_ATTEMPTS,
                    self._lease,
                    dead,
                ),
            )
            row = conn.execute(
                "UPDATE jobs SET status = 'running', worker = %s, heartbeat_at = now(), "
                "started_at = coalesce(started_at, now()), attempts = attempts + 1, "
                "chunks_done = 0 "
                "WHERE id = ("
                "  SELECT id FROM jobs WHERE kind = ANY(%s) AND (status = 'queued' OR "
                "    (status = 'running' AND (heartbeat_at < now() - make_interval(secs => %s) "
                "     OR worker = ANY(%s))))"
                "  ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED"
                ") RETURNING id, kind, payload, attempts",
                (worker, list(kinds), self._lease, dead),
            ).fetchone()
            if row is None:
                return None
            blob = conn.execute(
                "SELECT data FROM job_blobs WHERE job_id = %s", (row["id"],)
            ).fetchone()
        return ClaimedJob(
            id=row["id"],
            kind=row["kind"],
            payload=row["payload"],
            data=bytes(blob["data"]) if blob is not None else None,
            attempt=row["attempts"],
        )

    def _dead_workers(self, kinds: Sequence[str]) -> list[str]:
        """Workers of running jobs whose process is dead (`presence`)."""
        if self._presence is None:
            return []
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT worker FROM jobs WHERE status = 'running' AND kind = ANY(%s) "
                "AND worker IS NOT NULL",
                (list(kinds),),
            ).fetchall()
        workers = {row["worker"] for row in rows}
        return sorted(workers - self._presence.alive(workers)) if workers else []

    def heartbeat(self, worker: str, job_ids: Sequence[str]) -> set[str]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "UPDATE jobs SET heartbeat_at = now() "
                "WHERE id = ANY(%s) AND worker = %s AND status = 'running' RETURNING id",
                (list(job_ids), worker),
            ).fetchall()
        return {row["id"] for row in rows}

    def progress(self, job_id: str, worker: str, done: int, total: int) -> bool:
        with self._db.connection() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET chunks_done = %s, chunks_total = %s, heartbeat_at = now() "
                f"WHERE {_HELD}",
                (done, total, job_id, worker),
            )
            return cursor.rowcount == 1

    def complete(self, job_id: str, worker: str, result: Mapping[str, Any] | None) -> bool:
        return self._end(
            job_id, worker, "done", Jsonb(dict(result)) if result is not None else None, None
        )

    def fail(self, job_id: str, worker: str, error: JobError) -> bool:
        return self._end(job_id, worker, "failed", None, error)

    def release(self, job_id: str, worker: str) -> None:
        """Back to the queue, bytes kept: another replica (or the next start) runs it."""
        with self._db.connection() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'queued', worker = NULL, heartbeat_at = NULL "
                f"WHERE {_HELD}",
                (job_id, worker),
            )

    def get(self, job_id: str) -> StoredJob | None:
        with self._db.connection() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = %s", (job_id,)).fetchone()
        return _job(row) if row is not None else None

    def close(self) -> None:
        """Nothing to do: queued jobs stay for the other replicas; the pool is bootstrap's."""

    def _end(
        self, job_id: str, worker: str, status: str, result: Jsonb | None, error: JobError | None
    ) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = %s, finished_at = now(), worker = NULL, "
                "heartbeat_at = NULL, result = %s, error_type = %s, error_detail = %s "
                f"WHERE {_HELD}",
                (
                    status,
                    result,
                    error.type if error else None,
                    error.detail if error else None,
                    job_id,
                    worker,
                ),
            )
            if cursor.rowcount != 1:
                return False
            conn.execute("DELETE FROM job_blobs WHERE job_id = %s", (job_id,))
            conn.execute(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL "
                "ORDER BY finished_at DESC, seq DESC OFFSET %s)",
                (self._keep_finished,),
            )
        return True


def _job(row: Mapping[str, Any]) -> StoredJob:
    error = None
    if row["error_type"] is not None:
        error = JobError(row["error_type"], row["error_detail"] or "")
    return StoredJob(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        status=row["status"],
        created_at=row["created_at"],
        payload=row["payload"],
        created_by=row["created_by"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        chunks_done=row["chunks_done"],
        chunks_total=row["chunks_total"],
        result=row["result"],
        error=error,
        attempts=row["attempts"],
    )
