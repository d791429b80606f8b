"""The `CleaningStore` port in the app database, on SQLite or PostgreSQL (`services/sql`).

`cleaning_tasks` keeps each task (dirty table and ground truth, as JSON) by (task id, seed,
table version), written once: a task is a pure function of these, so a later run with the same
seed on the same table reads the same task. `cleaning_runs` holds a run and its settings;
`cleaning_results` one row per (run, model, task, repeat), written once (the primary key
refuses a second), so a resumed run never scores a task twice.

As in `services/evaluation/run_store.py`: times are ISO-8601 text; JSON is `TEXT` checked by
`json_valid` on SQLite and `JSON` on PostgreSQL; SQLite's `rowid` orders equal times and the
results by insertion, PostgreSQL's identity column `rowid` stands in for it. The dialects
differ only in writing a row once (`INSERT OR IGNORE` / `ON CONFLICT DO NOTHING`) and in the
schemas.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from typing import Any

from services.postgres.migrations import Migration as PgMigration
from services.sql import StoreTarget, sql_db
from services.sql.runs import RunTable, finite_json, insert_once
from services.sqlite.migrations import Migration
from use_cases.cleaning.domain import Task
from use_cases.cleaning.ports import UNFINISHED, CleaningRun, ResultKey, RunStatus
from use_cases.jobs.queue import QueueLimits

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "CleaningStore"]

_STATUS = "CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled'))"

MIGRATIONS = (
    Migration(
        "cleaning_0001_tasks_runs_results",
        f"""
        CREATE TABLE cleaning_tasks (
            task_id  TEXT NOT NULL,
            seed     INTEGER NOT NULL,
            version  TEXT NOT NULL,
            task     TEXT NOT NULL CHECK (json_valid(task)),
            PRIMARY KEY (task_id, seed, version)
        );
        CREATE TABLE cleaning_runs (
            run_id       TEXT PRIMARY KEY,
            status       TEXT NOT NULL {_STATUS},
            models       TEXT NOT NULL CHECK (json_valid(models)),
            task_ids     TEXT NOT NULL CHECK (json_valid(task_ids)),
            settings     TEXT NOT NULL CHECK (json_valid(settings)),
            total        INTEGER NOT NULL,
            created_by   TEXT NOT NULL,
            created_at   TEXT NOT NULL,
            started_at   TEXT,
            finished_at  TEXT,
            error        TEXT
        );
        CREATE INDEX cleaning_runs_by_status ON cleaning_runs(status, created_at);
        CREATE TABLE cleaning_results (
            run_id   TEXT NOT NULL REFERENCES cleaning_runs(run_id),
            model    TEXT NOT NULL,
            task_id  TEXT NOT NULL,
            repeat   INTEGER NOT NULL,
            row      TEXT NOT NULL CHECK (json_valid(row)),
            PRIMARY KEY (run_id, model, task_id, repeat)
        );
        """,
    ),
)

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
        "cleaning_pg_0001_tasks_runs_results",
        f"""
        CREATE TABLE cleaning_tasks (
            task_id  TEXT COLLATE "C" NOT NULL,
            seed     BIGINT NOT NULL,
            version  TEXT NOT NULL,
            task     JSON NOT NULL,
            PRIMARY KEY (task_id, seed, version)
        );
        CREATE TABLE cleaning_runs (
            run_id       TEXT PRIMARY KEY,
            status       TEXT NOT NULL {_STATUS},
            models       JSON NOT NULL,
            task_ids     JSON NOT NULL,
            settings     JSON NOT NULL,
            total        INTEGER NOT NULL,
            created_by   TEXT NOT NULL,
            created_at   TEXT COLLATE "C" NOT NULL,
            started_at   TEXT,
            finished_at  TEXT,
            error        TEXT,
            rowid        BIGINT GENERATED ALWAYS AS IDENTITY
        );
        CREATE INDEX cleaning_runs_by_status ON cleaning_runs(status, created_at);
        CREATE TABLE cleaning_results (
            run_id   TEXT NOT NULL REFERENCES cleaning_runs(run_id),
            model    TEXT NOT NULL,
            task_id  TEXT NOT NULL,
            repeat   INTEGER NOT NULL,
            row      JSON NOT NULL,
            rowid    BIGINT GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (run_id, model, task_id, repeat)
        );
        """,
    ),
]

_RUN_COLUMNS = (
    "run_id, status, models, task_ids, settings, total, created_by, created_at, started_at, "
    "finished_at, error"
)


class CleaningStore:
    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)
        self._runs = RunTable(self._db, "cleaning_runs", _RUN_COLUMNS, self._run, UNFINISHED)

    def close(self) -> None:
        self._db.close()

    def _insert_once(self, into: str) -> str:
        return insert_once(self._db, into)

    # --- tasks ------------------------------------------------------------------------------

    def put_task(self, task: Task) -> None:
        with self._db.write() as conn:
            conn.execute(
                self._insert_once(
                    "cleaning_tasks (task_id, seed, version, task) VALUES (?, ?, ?, ?)"
                ),
                (task.id, task.seed, task.table_version, json.dumps(task.as_dict())),
            )

    def task(self, task_id: str, seed: int, version: str) -> Task | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT task FROM cleaning_tasks WHERE task_id = ? AND seed = ? AND version = ?",
                (task_id, seed, version),
            ).fetchone()
        return Task.from_dict(self._db.get_json(row["task"])) if row else None

    # --- runs -------------------------------------------------------------------------------

    def create(self, run: CleaningRun, limits: QueueLimits | None = None) -> None:
        with self._db.write() as conn:
            self._runs.check_limits(conn, limits, run.created_by)
            conn.execute(
                f"INSERT INTO cleaning_runs ({_RUN_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.run_id,
                    run.status,
                    json.dumps(list(run.models)),
                    json.dumps(list(run.task_ids)),
                    json.dumps(dict(run.settings)),
                    run.total,
                    run.created_by,
                    run.created_at,
                    run.started_at,
                    run.finished_at,
                    run.error,
                ),
            )

    def get(self, run_id: str) -> CleaningRun | None:
        return self._runs.get(run_id)

    def latest(self, status: RunStatus | None = None) -> CleaningRun | None:
        return self._runs.latest(status)

    def list(self, limit: int, offset: int) -> list[CleaningRun]:
        return self._runs.page(limit, offset)

    def unfinished(self) -> builtins.list[CleaningRun]:
        return self._runs.unfinished()

    def set_status(
        self, run_id: str, status: RunStatus, *, at: str, error: str | None = None
    ) -> None:
        self._runs.set_status(run_id, status, at=at, error=error)

    def delete(self, run_id: str) -> bool:
        return self._runs.delete(run_id, "cleaning_results")

    def add_result(self, run_id: str, key: ResultKey, row: Mapping[str, Any]) -> bool:
        model, task_id, repeat = key
        with self._db.write() as conn:
            cursor = conn.execute(
                self._insert_once(
                    "cleaning_results (run_id, model, task_id, repeat, row) VALUES (?, ?, ?, ?, ?)"
                ),
                (run_id, model, task_id, repeat, finite_json(row)),
            )
            return cursor.rowcount == 1

    def done(self, run_id: str) -> set[ResultKey]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT model, task_id, repeat FROM cleaning_results WHERE run_id = ?", (run_id,)
            ).fetchall()
        return {(r["model"], r["task_id"], int(r["repeat"])) for r in rows}

    def results(self, run_id: str) -> builtins.list[dict[str, Any]]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT row FROM cleaning_results WHERE run_id = ? ORDER BY rowid", (run_id,)
            ).fetchall()
        return [self._db.get_json(r["row"]) for r in rows]

    def _run(self, row: Any) -> CleaningRun:
        value = self._db.get_json
        return CleaningRun(
            run_id=row["run_id"],
            status=row["status"],
            models=tuple(value(row["models"])),
            task_ids=tuple(value(row["task_ids"])),
            settings=value(row["settings"]),
            created_by=row["created_by"],
            created_at=row["created_at"],
            total=row["total"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            error=row["error"],
        )
