"""`SqliteJobStore`: the background jobs of a SQLite installation in its `app.db`, so a job
outlives the process that ran it: after a crash it is still there (GET /api/jobs/{id}) and
runs again at the next start.

The rules are `PgJobStore`'s (services/postgres/jobs.py): a job is claimed by one worker; every
later change names the worker; a running job is taken over when its worker stopped sending
heartbeats for the lease, or at once when `presence` says its worker's process is dead (a
crash, `kill -9`); one that took its worker down `MAX_ATTEMPTS` times is failed instead. The
bytes a job carries (`job_blobs`) are deleted when it ends. Claims are `BEGIN IMMEDIATE`
transactions, so two processes on one file never claim the same job.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.job_queue import (
    ABANDONED,
    LEASE_S,
    MAX_ATTEMPTS,
    ClaimedJob,
    StoredJob,
    busy_message,
)
from services.presence import Presence
from services.sqlite.connection import Connection, Row, immediate_transaction
from services.sqlite.migrations import apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.jobs.queue import JobError
from use_cases.shared.errors import ServiceBusy

__all__ = ["MIGRATIONS", "SqliteJobStore"]

MIGRATIONS = [
    (
        "jobs_0001_base",
        """
        CREATE TABLE jobs (
            id           TEXT PRIMARY KEY,
            seq          INTEGER NOT NULL UNIQUE,
            kind         TEXT NOT NULL,
            name         TEXT NOT NULL,
            payload      TEXT NOT NULL,
            unique_key   TEXT,
            status       TEXT NOT NULL
                         CHECK (status IN ('queued', 'running', 'done', 'failed')),
            created_by   TEXT,
            created_at   TEXT NOT NULL,
            started_at   TEXT,
            finished_at  TEXT,
            worker       TEXT,
            heartbeat_at TEXT,
            attempts     INTEGER NOT NULL DEFAULT 0,
            chunks_done  INTEGER NOT NULL DEFAULT 0,
            chunks_total INTEGER,
            result       TEXT,
            error_type   TEXT,
            error_detail TEXT
        );
        CREATE INDEX jobs_claimable ON jobs (seq) WHERE status IN ('queued', 'running');
        CREATE UNIQUE INDEX jobs_unique_active ON jobs (unique_key)
            WHERE unique_key IS NOT NULL AND status IN ('queued', 'running');
        CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
        CREATE TABLE job_blobs (
            job_id TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
            data   BLOB NOT NULL
        );
        """,
    ),
]

_COLUMNS = (
    "id, kind, name, status, payload, created_by, created_at, started_at, finished_at, "
    "chunks_done, chunks_total, result, error_type, error_detail, attempts"
)
_HELD = "id = ? AND worker = ? AND status = 'running'"


class SqliteJobStore:
    """`JobStore` in a SQLite file (module docstring). The newest `keep_finished` finished
    jobs stay readable."""

    def __init__(
        self,
        path: str | Path,
        *,
        presence: Presence | None = None,
        lease_s: float = LEASE_S,
        keep_finished: int = 1000,
    ) -> None:
        self._connections = ThreadConnections(path, row_factory=Row)
        self._presence = presence
        self._lease = timedelta(seconds=lease_s)
        self._keep_finished = keep_finished
        apply_migrations(self._conn(), MIGRATIONS)

    def _conn(self) -> Connection:
        return self._connections.get()

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
        with immediate_transaction(self._conn()) as conn:
            if unique_key is not None:
                existing = conn.execute(
                    f"SELECT {_COLUMNS} FROM jobs "
                    "WHERE unique_key = ? AND status IN ('queued', 'running')",
                    (unique_key,),
                ).fetchone()
                if existing is not None:
                    return _job(existing)
            if max_pending is not None:
                (waiting,) = conn.execute(
                    "SELECT count(*) FROM jobs WHERE kind = ? AND status IN ('queued', 'running')",
                    (kind,),
                ).fetchone()
                if waiting >= max_pending:
                    raise ServiceBusy(busy_message(waiting))
            job_id = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO jobs (id, seq, kind, name, payload, unique_key, status, created_by, "
                "created_at) VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM jobs), ?, ?, ?, "
                "?, 'queued', ?, ?)",
                (job_id, kind, name, json.dumps(dict(payload)), unique_key, created_by, _now()),
            )
            if data is not None:
                conn.execute("INSERT INTO job_blobs (job_id, data) VALUES (?, ?)", (job_id, data))
            row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return _job(row)

    def claim(self, kinds: Sequence[str], worker: str) -> ClaimedJob | None:
        kinds = list(kinds)
        marks = ",".join("?" * len(kinds))
        dead = self._dead_workers(kinds)
        dead_marks = ",".join("?" * len(dead))
        stale = _iso(datetime.now(UTC) - self._lease)
        taken_over = (
            f"(heartbeat_at < ? OR worker IN ({dead_marks}))" if dead else "heartbeat_at < ?"
        )
        with immediate_transaction(self._conn()) as conn:
            gone = [
                row[0]
                for row in conn.execute(
                    f"UPDATE jobs SET status = 'failed', finished_at = ?, worker = NULL, "
                    f"error_type = 'internal_error', error_detail = ? WHERE status = 'running' "
                    f"AND kind IN ({marks}) AND attempts >= ? AND {taken_over} RETURNING id",
                    (
                        _now(),
                        ABANDONED.format(attempts=MAX_ATTEMPTS),
                        *kinds,
                        MAX_ATTEMPTS,
                        stale,
                        *dead,
                    ),
                ).fetchall()
            ]
            for job_id in gone:
                conn.execute("DELETE FROM job_blobs WHERE job_id = ?", (job_id,))
            row = conn.execute(
                f"SELECT id, kind, payload, attempts FROM jobs WHERE kind IN ({marks}) AND "
                f"(status = 'queued' OR (status = 'running' AND {taken_over})) "
                "ORDER BY seq LIMIT 1",
                (*kinds, stale, *dead),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET status = 'running', worker = ?, heartbeat_at = ?, "
                "started_at = coalesce(started_at, ?), attempts = attempts + 1, chunks_done = 0 "
                "WHERE id = ?",
                (worker, _now(), _now(), row["id"]),
            )
            blob = conn.execute(
                "SELECT data FROM job_blobs WHERE job_id = ?", (row["id"],)
            ).fetchone()
        return ClaimedJob(
            id=row["id"],
            kind=row["kind"],
            payload=json.loads(row["payload"]),
            data=bytes(blob["data"]) if blob is not None else None,
            attempt=row["attempts"] + 1,
        )

    def _dead_workers(self, kinds: Sequence[str]) -> list[str]:
        """Workers of running jobs whose process is dead (`presence`), checked outside the
        write transaction."""
        if self._presence is None:
            return []
        marks = ",".join("?" * len(kinds))
        workers = {
            row[0]
            for row in self._conn().execute(
                f"SELECT DISTINCT worker FROM jobs WHERE status = 'running' AND kind IN ({marks}) "
                "AND worker IS NOT NULL",
                list(kinds),
            )
        }
        return sorted(workers - self._presence.alive(workers)) if workers else []

    def heartbeat(self, worker: str, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        marks = ",".join("?" * len(job_ids))
        with immediate_transaction(self._conn()) as conn:
            rows = conn.execute(
                f"UPDATE jobs SET heartbeat_at = ? WHERE id IN ({marks}) AND worker = ? "
                "AND status = 'running' RETURNING id",
                (_now(), *job_ids, worker),
            ).fetchall()
        return {row[0] for row in rows}

    def progress(self, job_id: str, worker: str, done: int, total: int) -> bool:
        with immediate_transaction(self._conn()) as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET chunks_done = ?, chunks_total = ?, heartbeat_at = ? "
                f"WHERE {_HELD}",
                (done, total, _now(), job_id, worker),
            )
            return cursor.rowcount == 1

    def complete(self, job_id: str, worker: str, result: Mapping[str, Any] | None) -> bool:
        encoded = json.dumps(dict(result)) if result is not None else None
        return self._end(job_id, worker, "done", encoded, None)

    def fail(self, job_id: str, worker: str, error: JobError) -> bool:
        return self._end(job_id, worker, "failed", None, error)

    def release(self, job_id: str, worker: str) -> None:
        """Back to the queue, bytes kept: the next start runs it."""
        with immediate_transaction(self._conn()) as conn:
            conn.execute(
                f"UPDATE jobs SET status = 'queued', worker = NULL, heartbeat_at = NULL "
                f"WHERE {_HELD}",
                (job_id, worker),
            )

    def get(self, job_id: str) -> StoredJob | None:
        row = (
            self._conn().execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        )
        return _job(row) if row is not None else None

    def close(self) -> None:
        self._connections.close()

    def _end(
        self, job_id: str, worker: str, status: str, result: str | None, error: JobError | None
    ) -> bool:
        with immediate_transaction(self._conn()) as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, worker = NULL, heartbeat_at = NULL, "
                f"result = ?, error_type = ?, error_detail = ? WHERE {_HELD}",
                (
                    status,
                    _now(),
                    result,
                    error.type if error else None,
                    error.detail if error else None,
                    job_id,
                    worker,
                ),
            )
            if cursor.rowcount != 1:
                return False
            conn.execute("DELETE FROM job_blobs WHERE job_id = ?", (job_id,))
            conn.execute(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL "
                "ORDER BY finished_at DESC, seq DESC LIMIT -1 OFFSET ?)",
                (self._keep_finished,),
            )
        return True


def _job(row: Row) -> StoredJob:
    error = None
    if row["error_type"] is not None:
        error = JobError(row["error_type"], row["error_detail"] or "")
    return StoredJob(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        status=row["status"],
        created_at=_parse(row["created_at"]) or datetime.now(UTC),
        payload=json.loads(row["payload"]),
        created_by=row["created_by"],
        started_at=_parse(row["started_at"]),
        finished_at=_parse(row["finished_at"]),
        chunks_done=row["chunks_done"],
        chunks_total=row["chunks_total"],
        result=json.loads(row["result"]) if row["result"] is not None else None,
        error=error,
        attempts=row["attempts"],
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _now() -> str:
    return _iso(datetime.now(UTC))


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
