"""SQLite adapters for the `DatasetStore` and `RunStore` ports, in the app DB.

`eval_datasets` keeps every version of every dataset, with its source text (parsed again when
used, so there is one parser); a version is a content hash, so the same upload twice is one
row. `eval_runs` holds a run and its settings; `eval_run_rows` one row per executed item
(model, case, variant), written once (the primary key refuses a second), so a run resumed
after a crash, or run twice at once, never counts an item twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.sqlite.connection import Connection, Row, immediate_transaction
from services.sqlite.migrations import Migration, apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.evaluation.run_domain import (
    UNFINISHED,
    ItemKey,
    PromptRef,
    RunRecord,
    RunSettings,
    RunStatus,
    StoredDataset,
)

__all__ = ["MIGRATIONS", "SqliteDatasetStore", "SqliteRunStore"]

MIGRATIONS = (
    Migration(
        "eval_0001_datasets_and_runs",
        """
        CREATE TABLE eval_datasets (
            id           TEXT NOT NULL,
            version      TEXT NOT NULL,
            name         TEXT NOT NULL,
            description  TEXT NOT NULL DEFAULT '',
            source       TEXT NOT NULL CHECK (source IN ('bundled', 'upload')),
            format       TEXT NOT NULL CHECK (format IN ('jsonl', 'csv')),
            text         TEXT NOT NULL,
            cases        INTEGER NOT NULL,
            created_at   TEXT NOT NULL,
            PRIMARY KEY (id, version)
        );
        CREATE TABLE eval_runs (
            run_id         TEXT PRIMARY KEY,
            status         TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
            task_id        TEXT NOT NULL,
            task_version   TEXT NOT NULL,
            models         TEXT NOT NULL CHECK (json_valid(models)),
            prompt_version TEXT CHECK (prompt_version IS NULL OR json_valid(prompt_version)),
            settings       TEXT NOT NULL CHECK (json_valid(settings)),
            total          INTEGER NOT NULL,
            created_by     TEXT NOT NULL,
            created_at     TEXT NOT NULL,
            started_at     TEXT,
            finished_at    TEXT,
            error          TEXT
        );
        CREATE INDEX eval_runs_by_status ON eval_runs(status, created_at);
        CREATE TABLE eval_run_rows (
            run_id   TEXT NOT NULL REFERENCES eval_runs(run_id),
            model    TEXT NOT NULL,
            case_id  TEXT NOT NULL,
            variant  TEXT NOT NULL,
            failed   INTEGER NOT NULL CHECK (failed IN (0, 1)),
            row      TEXT NOT NULL CHECK (json_valid(row)),
            PRIMARY KEY (run_id, model, case_id, variant)
        );
        """,
    ),
)

_DATASET_COLUMNS = "id, version, name, description, source, format, text, cases, created_at"
_RUN_COLUMNS = (
    "run_id, status, task_id, task_version, models, prompt_version, settings, total, "
    "created_by, created_at, started_at, finished_at, error"
)


class _Store:
    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path, row_factory=Row)
        apply_migrations(self._connections.get(), MIGRATIONS)

    def _conn(self) -> Connection:
        return self._connections.get()

    def close(self) -> None:
        self._connections.close()


class SqliteDatasetStore(_Store):
    def put(self, dataset: StoredDataset) -> StoredDataset:
        with immediate_transaction(self._conn()) as conn:
            conn.execute(
                f"INSERT OR IGNORE INTO eval_datasets ({_DATASET_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            stored = self._one(conn, "id = ? AND version = ?", (dataset.id, dataset.version))
        assert stored is not None
        return stored

    def latest(self, dataset_id: str) -> StoredDataset | None:
        return self._one(self._conn(), "id = ?", (dataset_id,))

    def version(self, dataset_id: str, version: str) -> StoredDataset | None:
        return self._one(self._conn(), "id = ? AND version = ?", (dataset_id, version))

    def list(self) -> list[StoredDataset]:
        rows = self._conn().execute(
            f"SELECT {_DATASET_COLUMNS} FROM eval_datasets AS d WHERE rowid = "
            "(SELECT rowid FROM eval_datasets WHERE id = d.id "
            " ORDER BY created_at DESC, rowid DESC LIMIT 1) ORDER BY id"
        )
        return [dataset_from_row(row) for row in rows]

    @staticmethod
    def _one(conn: Connection, where: str, args: tuple[Any, ...]) -> StoredDataset | None:
        row = conn.execute(
            f"SELECT {_DATASET_COLUMNS} FROM eval_datasets WHERE {where} "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1",
            args,
        ).fetchone()
        return dataset_from_row(row) if row else None


def dataset_from_row(row: Mapping[str, Any] | Row) -> StoredDataset:
    """A stored dataset from its row (both backends' stores keep the same columns)."""
    return StoredDataset(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        description=row["description"],
        source=row["source"],
        fmt=row["format"],
        text=row["text"],
        created_at=row["created_at"],
        cases=row["cases"],
    )


class SqliteRunStore(_Store):
    def create(self, run: RunRecord) -> None:
        with immediate_transaction(self._conn()) as conn:
            conn.execute(
                f"INSERT INTO eval_runs ({_RUN_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                run_values(run),
            )

    def get(self, run_id: str) -> RunRecord | None:
        row = (
            self._conn()
            .execute(f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE run_id = ?", (run_id,))
            .fetchone()
        )
        return _run(row) if row else None

    def latest(self, status: RunStatus | None = None) -> RunRecord | None:
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        row = (
            self._conn()
            .execute(
                f"SELECT {_RUN_COLUMNS} FROM eval_runs {where} "
                "ORDER BY created_at DESC, rowid DESC LIMIT 1",
                args,
            )
            .fetchone()
        )
        return _run(row) if row else None

    def list(self, limit: int, offset: int) -> list[RunRecord]:
        rows = self._conn().execute(
            f"SELECT {_RUN_COLUMNS} FROM eval_runs ORDER BY created_at DESC, rowid DESC "
            "LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_run(row) for row in rows]

    def unfinished(self) -> list[RunRecord]:
        marks = ", ".join("?" for _ in UNFINISHED)
        rows = self._conn().execute(
            f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE status IN ({marks}) "
            "ORDER BY created_at, rowid",
            UNFINISHED,
        )
        return [_run(row) for row in rows]

    def set_status(
        self, run_id: str, status: RunStatus, *, at: str, error: str | None = None
    ) -> None:
        finished = status in ("completed", "failed", "cancelled")
        with immediate_transaction(self._conn()) as conn:
            conn.execute(
                "UPDATE eval_runs SET status = ?, error = ?, "
                "started_at = CASE WHEN ? = 'running' THEN COALESCE(started_at, ?) "
                "  ELSE started_at END, "
                "finished_at = CASE WHEN ? THEN ? ELSE NULL END "
                "WHERE run_id = ?",
                (status, error, status, at, finished, at, run_id),
            )

    def add_row(self, run_id: str, key: ItemKey, row: Mapping[str, Any]) -> bool:
        model, case_id, variant = key
        with immediate_transaction(self._conn()) as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO eval_run_rows (run_id, model, case_id, variant, failed, "
                "row) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    model,
                    case_id,
                    variant,
                    int(row.get("error") is not None),
                    json.dumps(row),
                ),
            )
            return cursor.rowcount == 1

    def done(self, run_id: str) -> set[ItemKey]:
        rows = self._conn().execute(
            "SELECT model, case_id, variant FROM eval_run_rows WHERE run_id = ?", (run_id,)
        )
        return {(r["model"], r["case_id"], r["variant"]) for r in rows}

    def rows(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT row FROM eval_run_rows WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return [json.loads(r["row"]) for r in rows]

    def progress(self, run_id: str) -> tuple[int, int]:
        row = (
            self._conn()
            .execute(
                "SELECT COUNT(*) AS done, COALESCE(SUM(failed), 0) AS failed "
                "FROM eval_run_rows WHERE run_id = ?",
                (run_id,),
            )
            .fetchone()
        )
        return int(row["done"]), int(row["failed"])


def run_values(run: RunRecord) -> tuple[Any, ...]:
    """The `eval_runs` values of a new run, in `_RUN_COLUMNS` order (both backends)."""
    return (
        run.run_id,
        run.status,
        run.task_id,
        run.task_version,
        json.dumps(list(run.models)),
        json.dumps(run.prompt_version.as_dict()) if run.prompt_version else None,
        json.dumps(run.settings.as_dict()),
        run.total,
        run.created_by,
        run.created_at,
        run.started_at,
        run.finished_at,
        run.error,
    )


def _run(row: Row) -> RunRecord:
    prompt = json.loads(row["prompt_version"]) if row["prompt_version"] else None
    return RunRecord(
        run_id=row["run_id"],
        status=row["status"],
        task_id=row["task_id"],
        task_version=row["task_version"],
        models=tuple(json.loads(row["models"])),
        prompt_version=PromptRef(prompt["type"], int(prompt["version"])) if prompt else None,
        settings=RunSettings.from_dict(json.loads(row["settings"])),
        created_by=row["created_by"],
        created_at=row["created_at"],
        total=row["total"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
    )
