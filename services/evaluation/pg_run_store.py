"""PostgreSQL adapters for the `DatasetStore` and `RunStore` ports (the same rules as
`services/evaluation/run_store.py`).

`eval_datasets` keeps every version of every dataset (a content hash: the same upload twice
is one row, `ON CONFLICT DO NOTHING`); `eval_runs` a run and its settings; `eval_run_rows`
one row per executed item, written once (the primary key refuses a second), so a run resumed
after a crash, or run twice at once on two replicas, never counts an item twice.

The ports carry times as ISO-8601 text (UTC, seconds), so these columns stay `TEXT` (in the
"C" collation, like ids, so their order is SQLite's byte order) rather than `TIMESTAMPTZ`: a
stored string reads back exactly as it was given. `rowid` (an identity column) keeps SQLite's
insertion order as the tie-breaker of equal times and the order of a run's rows. JSON
columns are `JSON`, not JSONB, so a row or a run's settings read back with their keys in the
order written (exports show them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from services.evaluation.run_store import dataset_from_row, run_values
from services.postgres import Migration, PgDatabase, apply_migrations
from use_cases.evaluation.run_domain import (
    UNFINISHED,
    ItemKey,
    PromptRef,
    RunRecord,
    RunSettings,
    RunStatus,
    StoredDataset,
)

__all__ = ["MIGRATIONS", "PgDatasetStore", "PgRunStore"]

MIGRATIONS: list[Migration] = [
    Migration(
        "eval_pg_0001_datasets_and_runs",
        """
        CREATE TABLE eval_datasets (
            id           TEXT COLLATE "C" NOT NULL,
            version      TEXT COLLATE "C" NOT NULL,
            name         TEXT NOT NULL,
            description  TEXT NOT NULL DEFAULT '',
            source       TEXT NOT NULL CHECK (source IN ('bundled', 'upload')),
            format       TEXT NOT NULL CHECK (format IN ('jsonl', 'csv')),
            text         TEXT NOT NULL,
            cases        INTEGER NOT NULL,
            created_at   TEXT COLLATE "C" NOT NULL,
            rowid        BIGINT GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (id, version)
        );
        CREATE TABLE eval_runs (
            run_id         TEXT PRIMARY KEY,
            status         TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
            task_id        TEXT NOT NULL,
            task_version   TEXT NOT NULL,
            models         JSON NOT NULL,
            prompt_version JSON,
            settings       JSON NOT NULL,
            total          INTEGER NOT NULL,
            created_by     TEXT NOT NULL,
            created_at     TEXT COLLATE "C" NOT NULL,
            started_at     TEXT,
            finished_at    TEXT,
            error          TEXT,
            rowid          BIGINT GENERATED ALWAYS AS IDENTITY
        );
        CREATE INDEX eval_runs_by_status ON eval_runs(status, created_at);
        CREATE TABLE eval_run_rows (
            run_id   TEXT NOT NULL REFERENCES eval_runs(run_id),
            model    TEXT NOT NULL,
            case_id  TEXT NOT NULL,
            variant  TEXT NOT NULL,
            failed   BOOLEAN NOT NULL,
            row      JSON NOT NULL,
            rowid    BIGINT GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (run_id, model, case_id, variant)
        );
        """,
    ),
]

_DATASET_COLUMNS = "id, version, name, description, source, format, text, cases, created_at"
_RUN_COLUMNS = (
    "run_id, status, task_id, task_version, models, prompt_version, settings, total, "
    "created_by, created_at, started_at, finished_at, error"
)


class _Store:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        apply_migrations(db, MIGRATIONS)

    def close(self) -> None:
        """Nothing to release: the pool is shared and closed by its owner."""


class PgDatasetStore(_Store):
    def put(self, dataset: StoredDataset) -> StoredDataset:
        """Store a version; the same id and version again keeps (and returns) the first."""
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO eval_datasets ({_DATASET_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    dataset.id,
                    dataset.version,
                    dataset.name,
                    dataset.description,
                    dataset.source,
                    dataset.fmt,
                    dataset.text,
                    dataset.cases,
                    dataset.created_at,
                ),
            )
            row = conn.execute(
                f"SELECT {_DATASET_COLUMNS} FROM eval_datasets WHERE id = %s AND version = %s",
                (dataset.id, dataset.version),
            ).fetchone()
        assert row is not None
        return dataset_from_row(row)

    def latest(self, dataset_id: str) -> StoredDataset | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_DATASET_COLUMNS} FROM eval_datasets WHERE id = %s "
                "ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (dataset_id,),
            ).fetchone()
        return dataset_from_row(row) if row else None

    def version(self, dataset_id: str, version: str) -> StoredDataset | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_DATASET_COLUMNS} FROM eval_datasets WHERE id = %s AND version = %s",
                (dataset_id, version),
            ).fetchone()
        return dataset_from_row(row) if row else None

    def list(self) -> list[StoredDataset]:
        """The latest version of each dataset, by id."""
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT DISTINCT ON (id) {_DATASET_COLUMNS} FROM eval_datasets "
                "ORDER BY id, created_at DESC, rowid DESC"
            ).fetchall()
        return [dataset_from_row(row) for row in rows]


class PgRunStore(_Store):
    def create(self, run: RunRecord) -> None:
        with self._db.connection() as conn:
            conn.execute(
                f"INSERT INTO eval_runs ({_RUN_COLUMNS}) VALUES (%s, %s, %s, %s, %s::json, "
                "%s::json, %s::json, %s, %s, %s, %s, %s, %s)",
                run_values(run),
            )

    def get(self, run_id: str) -> RunRecord | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE run_id = %s", (run_id,)
            ).fetchone()
        return _run(row) if row else None

    def latest(self, status: RunStatus | None = None) -> RunRecord | None:
        with self._db.connection() as conn:
            if status:
                row = conn.execute(
                    f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE status = %s "
                    "ORDER BY created_at DESC, rowid DESC LIMIT 1",
                    (status,),
                ).fetchone()
            else:
                row = conn.execute(
                    f"SELECT {_RUN_COLUMNS} FROM eval_runs "
                    "ORDER BY created_at DESC, rowid DESC LIMIT 1"
                ).fetchone()
        return _run(row) if row else None

    def list(self, limit: int, offset: int) -> list[RunRecord]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM eval_runs ORDER BY created_at DESC, rowid DESC "
                "LIMIT %s OFFSET %s",
                (limit, offset),
            ).fetchall()
        return [_run(row) for row in rows]

    def unfinished(self) -> list[RunRecord]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE status = ANY(%s) "
                "ORDER BY created_at, rowid",
                (list(UNFINISHED),),
            ).fetchall()
        return [_run(row) for row in rows]

    def set_status(
        self, run_id: str, status: RunStatus, *, at: str, error: str | None = None
    ) -> None:
        """`started_at` is set the first time the run runs, `finished_at` when it reaches
        completed, failed or cancelled (and cleared otherwise)."""
        finished = status in ("completed", "failed", "cancelled")
        with self._db.connection() as conn:
            conn.execute(
                "UPDATE eval_runs SET status = %(status)s, error = %(error)s, "
                "started_at = CASE WHEN %(running)s THEN COALESCE(started_at, %(at)s::text) "
                "  ELSE started_at END, "
                "finished_at = CASE WHEN %(finished)s THEN %(at)s::text ELSE NULL END "
                "WHERE run_id = %(run_id)s",
                {
                    "status": status,
                    "error": error,
                    "running": status == "running",
                    "at": at,
                    "finished": finished,
                    "run_id": run_id,
                },
            )

    def add_row(self, run_id: str, key: ItemKey, row: Mapping[str, Any]) -> bool:
        """Record one item's row; False (and no change) when the item already has one."""
        model, case_id, variant = key
        data = json.dumps(row)
        with self._db.connection() as conn:
            cursor = conn.execute(
                "INSERT INTO eval_run_rows (run_id, model, case_id, variant, failed, row) "
                "VALUES (%s, %s, %s, %s, %s, %s::json) ON CONFLICT DO NOTHING",
                (run_id, model, case_id, variant, row.get("error") is not None, data),
            )
            return cursor.rowcount == 1

    def done(self, run_id: str) -> set[ItemKey]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT model, case_id, variant FROM eval_run_rows WHERE run_id = %s", (run_id,)
            ).fetchall()
        return {(r["model"], r["case_id"], r["variant"]) for r in rows}

    def rows(self, run_id: str) -> list[dict[str, Any]]:
        """In the order they were recorded."""
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT row FROM eval_run_rows WHERE run_id = %s ORDER BY rowid", (run_id,)
            ).fetchall()
        return [r["row"] for r in rows]

    def progress(self, run_id: str) -> tuple[int, int]:
        """(rows recorded, rows with an error)."""
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS done, count(*) FILTER (WHERE failed) AS failed "
                "FROM eval_run_rows WHERE run_id = %s",
                (run_id,),
            ).fetchone()
        assert row is not None
        return int(row["done"]), int(row["failed"])


def _run(row: dict[str, Any]) -> RunRecord:
    prompt = row["prompt_version"]
    return RunRecord(
        run_id=row["run_id"],
        status=row["status"],
        task_id=row["task_id"],
        task_version=row["task_version"],
        models=tuple(row["models"]),
        prompt_version=PromptRef(prompt["type"], int(prompt["version"])) if prompt else None,
        settings=RunSettings.from_dict(row["settings"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        total=row["total"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
    )
