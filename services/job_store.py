"""`JobStore`: the background jobs in a table, on SQLite (`app.db`) or PostgreSQL (`services/sql`).

On SQLite a job outlives the process that ran it: after a crash it is still there (GET
/api/jobs/{id}) and runs again at the next start. On PostgreSQL every replica works on the
one table.

- `jobs` holds one row per job (kind, JSON payload, status, progress, result or error, who
  holds it and its last heartbeat); `job_blobs` the bytes a job carries (an upload), deleted
  when the job ends.
- A worker claims the oldest claimable job, so two processes (replicas) never claim the same
  one. Claimable: `queued`, or `running` with a heartbeat older than the lease (its worker
  died or stalled), or a job whose worker's process `presence` (services/presence.py) reports
  dead (a crash, `kill -9`, a replica killed and restarted: at once on SQLite, once its
  heartbeat row is stale on PostgreSQL): the claim takes it over
  and counts an attempt; one that took its worker down `MAX_ATTEMPTS` times is failed instead.
  A claim with `take_over=False` (a worker that could not reach the database a moment ago:
  services/job_queue.py) takes queued jobs only. The claim answers the job's previous worker.
- Every later change names the worker (`WHERE worker = ? AND status = 'running'`), so a
  worker whose job was taken over changes nothing; it learns so at its next heartbeat or
  progress report and stops. Each claim also counts the job's `lease` up: what the job writes
  elsewhere in the database (an ingest's document) carries the lease and is refused in its
  own transaction once the job was claimed again (a fencing token:
  `use_cases/shared/leases.py`), so a worker resuming after a long stall publishes nothing.
- A job with a `unique_key` exists once while queued or running (a partial unique index); a
  second submission answers the first job, even when the kind's queue is full. The caps on
  waiting jobs of a kind, everyone's and the submitting user's (`QueueLimits`), are counted
  in the same transaction as the insert.
- The newest `keep_finished` finished jobs stay readable; older ones are deleted.

What differs by dialect (chosen with `self._db.dialect` where it is used):
- Claiming: on SQLite every write is a `BEGIN IMMEDIATE` transaction, so two processes on
  one file take turns; on PostgreSQL the claimed row is picked with `FOR UPDATE SKIP LOCKED`,
  so replicas polling together skip each other's row instead of waiting for it.
- The `QueueLimits` counts: serialised by `BEGIN IMMEDIATE` on SQLite, by a
  transaction-level advisory lock per kind on PostgreSQL (so concurrent submissions cannot
  overshoot it). A concurrent second submission of one `unique_key` can only happen on
  PostgreSQL; its `INSERT ... ON CONFLICT DO NOTHING` then answers the first job.
- Times: on PostgreSQL the database's (`now()`), the same clock for every replica; on SQLite
  this process's clock, bound as ISO text (`isoformat`, microseconds, `+00:00`).
- `seq` (claim order): an identity column on PostgreSQL, `max(seq) + 1` on SQLite.
- Keeping the newest finished jobs: `LIMIT -1 OFFSET ?` on SQLite (which needs a LIMIT
  before OFFSET), `OFFSET ?` on PostgreSQL (which refuses a negative LIMIT).
- Schemas (two migration lists): TEXT times and JSON on SQLite, `timestamptz` and `jsonb`
  on PostgreSQL. JSON is bound as the text `json.dumps` writes (ASCII-escaped, the format
  SQLite `app.db` files hold), which PostgreSQL parses into `jsonb`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.job_queue import (
    ABANDONED,
    LEASE_S,
    MAX_ATTEMPTS,
    ClaimedJob,
    QueueLimits,
    StoredJob,
)
from services.postgres.migrations import Migration as PgMigration
from services.presence import Presence
from services.sql import StoreTarget, sql_db
from use_cases.jobs.queue import JobError

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "JobStore"]

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
    ("jobs_0002_lease", "ALTER TABLE jobs ADD COLUMN lease INTEGER NOT NULL DEFAULT 0"),
]

PG_MIGRATIONS = [
    PgMigration(
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
    PgMigration(
        "jobs_pg_0002_lease", "ALTER TABLE jobs ADD COLUMN lease BIGINT NOT NULL DEFAULT 0"
    ),
]

_COLUMNS = (
    "id, kind, name, status, payload, created_by, created_at, started_at, finished_at, "
    "chunks_done, chunks_total, result, error_type, error_detail, attempts"
)
_ACTIVE = "status IN ('queued', 'running')"
_HELD = "id = ? AND worker = ? AND status = 'running'"


class JobStore:
    """The `JobStore` port (services/job_queue.py) in the app database (module docstring).
    The newest `keep_finished` finished jobs stay readable."""

    def __init__(
        self,
        target: StoreTarget,
        *,
        presence: Presence | None = None,
        lease_s: float = LEASE_S,
        keep_finished: int = 1000,
    ) -> None:
        self._db = sql_db(target)
        self._postgres = self._db.dialect == "postgresql"
        self._presence = presence
        self._lease_s = lease_s
        self._keep_finished = keep_finished
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def add(
        self,
        kind: str,
        name: str,
        payload: Mapping[str, Any],
        *,
        data: bytes | None,
        created_by: str | None,
        unique_key: str | None,
        limits: QueueLimits | None,
    ) -> StoredJob:
        with self._db.write() as conn:
            if unique_key is not None:
                existing = conn.execute(
                    f"SELECT {_COLUMNS} FROM jobs WHERE unique_key = ? AND {_ACTIVE}",
                    (unique_key,),
                ).fetchone()
                if existing is not None:
                    return self._job(existing)
            if limits is not None:
                if self._postgres:  # SQLite: BEGIN IMMEDIATE already holds the write lock
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext('almanac.jobs'), hashtext(?))",
                        (kind,),
                    )
                row = conn.execute(
                    "SELECT count(*) AS n, "
                    "coalesce(sum(CASE WHEN created_by = ? THEN 1 ELSE 0 END), 0) AS mine "
                    f"FROM jobs WHERE kind = ? AND {_ACTIVE}",
                    (created_by, kind),
                ).fetchone()
                limits.check(row["n"], row["mine"] if created_by is not None else None)
            # PostgreSQL's `seq` is an identity column; SQLite numbers it here.
            seq, seq_value = ("", "") if self._postgres else ("seq, ", _NEXT_SEQ)
            now, at = self._now()
            added = conn.execute(
                f"INSERT INTO jobs (id, {seq}kind, name, payload, unique_key, status, "
                f"created_by, created_at) VALUES (?, {seq_value}?, ?, ?, ?, 'queued', ?, {now}) "
                f"ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND {_ACTIVE} "
                f"DO NOTHING RETURNING {_COLUMNS}",
                (uuid.uuid4().hex, kind, name, _json(payload), unique_key, created_by, *at),
            ).fetchone()
            if added is None:  # PostgreSQL: a concurrent submission with this key won
                existing = conn.execute(
                    f"SELECT {_COLUMNS} FROM jobs WHERE unique_key = ? AND {_ACTIVE}",
                    (unique_key,),
                ).fetchone()
                assert existing is not None
                return self._job(existing)
            if data is not None:
                conn.execute(
                    "INSERT INTO job_blobs (job_id, data) VALUES (?, ?)", (added["id"], data)
                )
            return self._job(added)

    def claim(
        self, kinds: Sequence[str], worker: str, *, take_over: bool = True
    ) -> ClaimedJob | None:
        kinds = list(kinds)
        if not kinds:
            return None
        dead = self._dead_workers(kinds) if take_over else []
        with self._db.write() as conn:
            now, at = self._now()
            stale, stale_at = self._stale()
            taken_over = f"heartbeat_at < {stale}"
            if dead:
                taken_over = f"({taken_over} OR worker IN ({_marks(dead)}))"
            if take_over:
                gone = [
                    row["id"]
                    for row in conn.execute(
                        f"UPDATE jobs SET status = 'failed', finished_at = {now}, "
                        "worker = NULL, error_type = 'internal_error', error_detail = ? "
                        f"WHERE status = 'running' AND kind IN ({_marks(kinds)}) "
                        f"AND attempts >= ? AND {taken_over} RETURNING id",
                        (
                            *at,
                            ABANDONED.format(attempts=MAX_ATTEMPTS),
                            *kinds,
                            MAX_ATTEMPTS,
                            *stale_at,
                            *dead,
                        ),
                    ).fetchall()
                ]
                if gone:
                    conn.execute(f"DELETE FROM job_blobs WHERE job_id IN ({_marks(gone)})", gone)
                claimable = f"(status = 'queued' OR (status = 'running' AND {taken_over}))"
                claimable_at: tuple[Any, ...] = (*stale_at, *dead)
            else:
                claimable, claimable_at = "status = 'queued'", ()
            # PostgreSQL: replicas claiming together skip each other's row; SQLite: the
            # BEGIN IMMEDIATE transaction already excludes every other writer.
            skip_locked = " FOR UPDATE SKIP LOCKED" if self._postgres else ""
            picked = conn.execute(
                f"SELECT id, worker FROM jobs WHERE kind IN ({_marks(kinds)}) AND {claimable} "
                f"ORDER BY seq LIMIT 1{skip_locked}",
                (*kinds, *claimable_at),
            ).fetchone()
            if picked is None:
                return None
            row = conn.execute(
                f"UPDATE jobs SET status = 'running', worker = ?, heartbeat_at = {now}, "
                f"started_at = coalesce(started_at, {now}), attempts = attempts + 1, "
                "lease = lease + 1, chunks_done = 0 WHERE id = ? "
                "RETURNING id, kind, payload, attempts, lease",
                (worker, *at, *at, picked["id"]),
            ).fetchone()
            blob = conn.execute(
                "SELECT data FROM job_blobs WHERE job_id = ?", (row["id"],)
            ).fetchone()
        return ClaimedJob(
            id=row["id"],
            kind=row["kind"],
            payload=self._db.get_json(row["payload"]),
            data=bytes(blob["data"]) if blob is not None else None,
            attempt=row["attempts"],
            lease=int(row["lease"]),
            previous_worker=picked["worker"],
        )

    def _dead_workers(self, kinds: Sequence[str]) -> list[str]:
        """Workers of running jobs whose process is dead (`presence`), checked outside the
        write transaction."""
        if self._presence is None:
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT DISTINCT worker FROM jobs WHERE status = 'running' AND kind IN "
                f"({_marks(kinds)}) AND worker IS NOT NULL",
                list(kinds),
            ).fetchall()
        workers = {row["worker"] for row in rows}
        return sorted(workers - self._presence.alive(workers)) if workers else []

    def heartbeat(self, worker: str, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        with self._db.write() as conn:
            now, at = self._now()
            rows = conn.execute(
                f"UPDATE jobs SET heartbeat_at = {now} WHERE id IN ({_marks(job_ids)}) "
                "AND worker = ? AND status = 'running' RETURNING id",
                (*at, *job_ids, worker),
            ).fetchall()
        return {row["id"] for row in rows}

    def progress(self, job_id: str, worker: str, done: int, total: int) -> bool:
        with self._db.write() as conn:
            now, at = self._now()
            cursor = conn.execute(
                f"UPDATE jobs SET chunks_done = ?, chunks_total = ?, heartbeat_at = {now} "
                f"WHERE {_HELD}",
                (done, total, *at, job_id, worker),
            )
            return cursor.rowcount == 1

    def complete(self, job_id: str, worker: str, result: Mapping[str, Any] | None) -> bool:
        encoded = _json(result) if result is not None else None
        return self._end(job_id, worker, "done", encoded, None)

    def fail(self, job_id: str, worker: str, error: JobError) -> bool:
        return self._end(job_id, worker, "failed", None, error)

    def release(self, job_id: str, worker: str) -> None:
        """Back to the queue, bytes kept: another replica (or the next start) runs it."""
        with self._db.write() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'queued', worker = NULL, heartbeat_at = NULL "
                f"WHERE {_HELD}",
                (job_id, worker),
            )

    def get(self, job_id: str) -> StoredJob | None:
        with self._db.read() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row is not None else None

    def waiting(self) -> dict[str, int]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT kind, count(*) AS n FROM jobs WHERE status = 'queued' GROUP BY kind"
            ).fetchall()
        return {str(row["kind"]): int(row["n"]) for row in rows}

    def close(self) -> None:
        """SQLite: this store's connections; PostgreSQL: nothing (queued jobs stay for the
        other replicas; the pool is bootstrap's)."""
        self._db.close()

    def _end(
        self, job_id: str, worker: str, status: str, result: str | None, error: JobError | None
    ) -> bool:
        with self._db.write() as conn:
            now, at = self._now()
            cursor = conn.execute(
                f"UPDATE jobs SET status = ?, finished_at = {now}, worker = NULL, "
                "heartbeat_at = NULL, result = ?, error_type = ?, error_detail = ? "
                f"WHERE {_HELD}",
                (
                    status,
                    *at,
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
            # SQLite needs a LIMIT before OFFSET (-1: none); PostgreSQL refuses a negative one.
            no_limit = "" if self._postgres else " LIMIT -1"
            conn.execute(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL "
                f"ORDER BY finished_at DESC, seq DESC{no_limit} OFFSET ?)",
                (self._keep_finished,),
            )
        return True

    def _now(self) -> tuple[str, tuple[object, ...]]:
        """The current time in a statement, and its parameters: PostgreSQL's `now()` (one
        clock for every replica), or on SQLite this process's clock as bound ISO text."""
        if self._postgres:
            return "now()", ()
        return "?", (self._db.put_time(datetime.now(UTC)),)

    def _stale(self) -> tuple[str, tuple[Any, ...]]:
        """A heartbeat before this time is older than the lease (as `_now`)."""
        if self._postgres:
            return "now() - make_interval(secs => ?)", (self._lease_s,)
        return "?", (self._db.put_time(datetime.now(UTC) - timedelta(seconds=self._lease_s)),)

    def _job(self, row: Mapping[str, Any]) -> StoredJob:
        error = None
        if row["error_type"] is not None:
            error = JobError(row["error_type"], row["error_detail"] or "")
        return StoredJob(
            id=row["id"],
            kind=row["kind"],
            name=row["name"],
            status=row["status"],
            created_at=self._db.get_time(row["created_at"]),
            payload=self._db.get_json(row["payload"]),
            created_by=row["created_by"],
            started_at=self._time(row["started_at"]),
            finished_at=self._time(row["finished_at"]),
            chunks_done=row["chunks_done"],
            chunks_total=row["chunks_total"],
            result=self._db.get_json(row["result"]) if row["result"] is not None else None,
            error=error,
            attempts=row["attempts"],
        )

    def _time(self, value: Any) -> datetime | None:
        return self._db.get_time(value) if value is not None else None


#: SQLite's next `seq` (PostgreSQL's is an identity column).
_NEXT_SEQ = "(SELECT coalesce(max(seq), 0) + 1 FROM jobs), "


def _marks(values: Sequence[Any]) -> str:
    """`?, ?, ...`: one placeholder per value, for `IN (...)`."""
    return ", ".join("?" * len(values))


def _json(value: Mapping[str, Any]) -> str:
    """JSON as the SQLite store has always written it (`json.dumps`, ASCII-escaped);
    PostgreSQL parses it into `jsonb`."""
    return json.dumps(dict(value))
