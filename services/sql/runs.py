"""What the stores of background runs share (evaluation runs, cleaning runs).

A run table has `run_id` (its key), `status`, `created_by`, `created_at`, `started_at`,
`finished_at`, `error` and a `rowid` (SQLite's own; an identity column on PostgreSQL), besides
columns of its own. `RunTable` answers the lifecycle queries on it and checks a new run
against its `QueueLimits` (`check_limits`, inside the insert's transaction: serialised by
`BEGIN IMMEDIATE` on SQLite, by a transaction-level advisory lock per table on PostgreSQL, so
concurrent starts cannot overshoot the caps); `insert_once` and `finite_json` write the rows
of each run's results.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any, Generic, TypeVar

from services.sql import SqlDb
from use_cases.jobs.queue import QueueLimits

__all__ = ["RunTable", "finite_json", "insert_once"]

T = TypeVar("T")

#: The statuses a run does not leave.
_FINAL = ("completed", "failed", "cancelled")


def insert_once(db: SqlDb, into: str) -> str:
    """`INSERT INTO {into}` that skips a row whose key is already stored."""
    if db.dialect == "sqlite":
        return f"INSERT OR IGNORE INTO {into}"
    return f"INSERT INTO {into} ON CONFLICT DO NOTHING"


def finite_json(value: Any) -> str:
    """`value` as JSON, a number that is not finite (NaN, infinity) stored as null: JSON has
    no such value, and SQLite's `json_valid` check would refuse the row, which an
    `insert_once` would then drop as if it were recorded already."""
    return json.dumps(_finite(value), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


class RunTable(Generic[T]):
    """The lifecycle queries of run table `table`: `columns` are read and `parse` makes a run
    of a row; `unfinished` are the statuses a run resumes from at start-up."""

    def __init__(
        self,
        db: SqlDb,
        table: str,
        columns: str,
        parse: Callable[[Any], T],
        unfinished: Collection[str],
    ) -> None:
        self._db = db
        self._select = f"SELECT {columns} FROM {table}"
        self._table = table
        self._parse = parse
        self._unfinished = tuple(unfinished)

    def check_limits(self, conn: Any, limits: QueueLimits | None, created_by: str) -> None:
        """Raise `ServiceBusy` when the runs queued or running, everyone's or `created_by`'s,
        fill `limits`; `conn` is the write transaction that then inserts the new run."""
        if limits is None:
            return
        if self._db.dialect == "postgresql":  # SQLite: BEGIN IMMEDIATE already holds the write lock
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('almanac.runs'), hashtext(?))",
                (self._table,),
            )
        marks = ", ".join("?" for _ in self._unfinished)
        row = conn.execute(
            "SELECT count(*) AS n, "
            "coalesce(sum(CASE WHEN created_by = ? THEN 1 ELSE 0 END), 0) AS mine "
            f"FROM {self._table} WHERE status IN ({marks})",
            (created_by, *self._unfinished),
        ).fetchone()
        limits.check(int(row["n"]), int(row["mine"]))

    def get(self, run_id: str) -> T | None:
        with self._db.read() as conn:
            row = conn.execute(f"{self._select} WHERE run_id = ?", (run_id,)).fetchone()
        return self._parse(row) if row else None

    def latest(self, status: str | None = None) -> T | None:
        """The newest run, or the newest with `status`."""
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        with self._db.read() as conn:
            row = conn.execute(
                f"{self._select} {where} ORDER BY created_at DESC, rowid DESC LIMIT 1", args
            ).fetchone()
        return self._parse(row) if row else None

    def page(self, limit: int, offset: int) -> list[T]:
        """Newest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"{self._select} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return [self._parse(row) for row in rows]

    def unfinished(self) -> list[T]:
        """Oldest first."""
        marks = ", ".join("?" for _ in self._unfinished)
        with self._db.read() as conn:
            rows = conn.execute(
                f"{self._select} WHERE status IN ({marks}) ORDER BY created_at, rowid",
                self._unfinished,
            ).fetchall()
        return [self._parse(row) for row in rows]

    def delete(self, run_id: str, *results: str) -> bool:
        """Delete the run and its rows in the tables `results` (by their `run_id`), in one
        transaction; False when there was no such run."""
        with self._db.write() as conn:
            for table in results:
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            cursor = conn.execute(f"DELETE FROM {self._table} WHERE run_id = ?", (run_id,))
            return bool(cursor.rowcount == 1)

    def set_status(self, run_id: str, status: str, *, at: str, error: str | None = None) -> None:
        """`started_at` is set the first time the run runs, `finished_at` when it reaches
        completed, failed or cancelled (and cleared otherwise). A cancelled run stays
        cancelled: the update skips it, in the same statement (a run cancelled while it
        executes is not set running or completed afterwards)."""
        finished = status in _FINAL
        with self._db.write() as conn:
            conn.execute(
                f"UPDATE {self._table} SET status = ?, error = ?, "
                "started_at = CASE WHEN ? THEN COALESCE(started_at, ?) ELSE started_at END, "
                "finished_at = CASE WHEN ? THEN ? ELSE NULL END "
                "WHERE run_id = ? AND status != 'cancelled'",
                (status, error, status == "running", at, finished, at, run_id),
            )

    def cancel(self, run_id: str, *, at: str, error: str | None = None) -> bool:
        """Mark the run cancelled (`error` saying by whom) if it is still unfinished, in one
        statement; False (and no change) if not."""
        marks = ", ".join("?" for _ in self._unfinished)
        with self._db.write() as conn:
            changed = conn.execute(
                f"UPDATE {self._table} SET status = 'cancelled', finished_at = ?, error = ? "
                f"WHERE run_id = ? AND status IN ({marks})",
                (at, error, run_id, *self._unfinished),
            ).rowcount
        return changed > 0
