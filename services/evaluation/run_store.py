"""The `DatasetStore` and `RunStore` ports in the app database, on SQLite or PostgreSQL
(`services/sql`).

`eval_datasets` keeps every version of every dataset, with its source text (parsed again when
used, so there is one parser); a version is a content hash, so the same upload twice is one
row. `eval_runs` holds a run and its settings; `eval_run_rows` one row per executed item
(model, case, variant), written once (the primary key refuses a second), so a run resumed
after a crash, or run twice at once (two processes, or two replicas on PostgreSQL), never
counts an item twice.

The ports carry times as ISO-8601 text (UTC, seconds), so the time columns are `TEXT` on both
databases rather than `timestamptz` (stored and read back exactly as given: no
`db.put_time`); on PostgreSQL in the "C" collation, like the ids, so their order is SQLite's
byte order. JSON values are written with `json.dumps` (ASCII-escaped, as they always were)
into `TEXT` checked by `json_valid` on SQLite and `JSON` (not JSONB) on PostgreSQL, so a row
or a run's settings read back with their keys in the order written (exports show them).
SQLite's `rowid` orders equal times and a run's rows by insertion; PostgreSQL's identity
column `rowid` stands in for it.

What the dialects still say differently (`self._db.dialect`):
* writing a row once: SQLite's `INSERT OR IGNORE` (which also skips, silently, a row a
  NOT NULL or CHECK constraint refuses), PostgreSQL's `ON CONFLICT DO NOTHING` (which skips
  only the duplicate key; any other refusal raises);
* the schemas (`MIGRATIONS`, `PG_MIGRATIONS`): types (`failed` is 0/1 or a boolean, JSON
  text or `JSON`), collations, and PostgreSQL's `rowid` identity columns.
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
from use_cases.evaluation.run_domain import (
    UNFINISHED,
    ItemKey,
    PromptRef,
    RunRecord,
    RunSettings,
    RunStatus,
    StoredDataset,
)
from use_cases.jobs.queue import QueueLimits
from use_cases.prompts.library_domain import VersionStats

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "DatasetStore", "RunStore"]

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

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
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
    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def close(self) -> None:
        self._db.close()

    def _insert_once(self, into: str) -> str:
        """`INSERT INTO {into}` that skips a row whose key is already stored (see the module
        docstring for what else SQLite's `OR IGNORE` skips)."""
        return insert_once(self._db, into)


class DatasetStore(_Store):
    def put(self, dataset: StoredDataset) -> StoredDataset:
        """Store a version; the same id and version again keeps (and returns) the first."""
        with self._db.write() as conn:
            conn.execute(
                self._insert_once(
                    f"eval_datasets ({_DATASET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
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
                f"SELECT {_DATASET_COLUMNS} FROM eval_datasets WHERE id = ? AND version = ?",
                (dataset.id, dataset.version),
            ).fetchone()
        assert row is not None
        return _dataset(row)

    def latest(self, dataset_id: str) -> StoredDataset | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_DATASET_COLUMNS} FROM eval_datasets WHERE id = ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (dataset_id,),
            ).fetchone()
        return _dataset(row) if row else None

    def version(self, dataset_id: str, version: str) -> StoredDataset | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_DATASET_COLUMNS} FROM eval_datasets WHERE id = ? AND version = ?",
                (dataset_id, version),
            ).fetchone()
        return _dataset(row) if row else None

    def list(self) -> list[StoredDataset]:
        """The latest version of each dataset, by id."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_DATASET_COLUMNS} FROM eval_datasets AS d WHERE rowid = "
                "(SELECT rowid FROM eval_datasets WHERE id = d.id "
                " ORDER BY created_at DESC, rowid DESC LIMIT 1) ORDER BY id"
            ).fetchall()
        return [_dataset(row) for row in rows]

    def put_latest(self, dataset: StoredDataset) -> StoredDataset:
        """Deleted and stored again when the version exists, so it takes the newest rowid."""
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM eval_datasets WHERE id = ? AND version = ?",
                (dataset.id, dataset.version),
            )
            conn.execute(
                f"INSERT INTO eval_datasets ({_DATASET_COLUMNS}) "
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
        return dataset

    def delete(self, dataset_id: str) -> int:
        with self._db.write() as conn:
            return int(
                conn.execute("DELETE FROM eval_datasets WHERE id = ?", (dataset_id,)).rowcount
            )


class RunStore(_Store):
    def __init__(self, target: StoreTarget) -> None:
        super().__init__(target)
        self._runs = RunTable(self._db, "eval_runs", _RUN_COLUMNS, self._run, UNFINISHED)

    def create(self, run: RunRecord, limits: QueueLimits | None = None) -> None:
        with self._db.write() as conn:
            self._runs.check_limits(conn, limits, run.created_by)
            conn.execute(
                f"INSERT INTO eval_runs ({_RUN_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
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
                ),
            )

    def get(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    def latest(self, status: RunStatus | None = None) -> RunRecord | None:
        return self._runs.latest(status)

    def list(self, limit: int, offset: int) -> list[RunRecord]:
        return self._runs.page(limit, offset)

    def unfinished(self) -> builtins.list[RunRecord]:
        return self._runs.unfinished()

    def set_status(
        self, run_id: str, status: RunStatus, *, at: str, error: str | None = None
    ) -> None:
        self._runs.set_status(run_id, status, at=at, error=error)

    def delete(self, run_id: str) -> bool:
        return self._runs.delete(run_id, "eval_run_rows")

    def cancel(self, run_id: str, *, at: str, error: str | None = None) -> bool:
        return self._runs.cancel(run_id, at=at, error=error)

    def add_row(self, run_id: str, key: ItemKey, row: Mapping[str, Any]) -> bool:
        """Record one item's row; False (and no change) when the item already has one."""
        model, case_id, variant = key
        with self._db.write() as conn:
            cursor = conn.execute(
                self._insert_once(
                    "eval_run_rows (run_id, model, case_id, variant, failed, row) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                # `failed` is a bool: stored as 0/1 by SQLite, as a boolean by PostgreSQL.
                (run_id, model, case_id, variant, row.get("error") is not None, finite_json(row)),
            )
            return cursor.rowcount == 1

    def done(self, run_id: str) -> set[ItemKey]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT model, case_id, variant FROM eval_run_rows WHERE run_id = ?", (run_id,)
            ).fetchall()
        return {(r["model"], r["case_id"], r["variant"]) for r in rows}

    def rows(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """In the order they were recorded."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT row FROM eval_run_rows WHERE run_id = ? ORDER BY rowid", (run_id,)
            ).fetchall()
        return [self._db.get_json(r["row"]) for r in rows]

    def progress(self, run_id: str) -> tuple[int, int]:
        """(rows recorded, rows with an error)."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT COUNT(*) AS done, COUNT(CASE WHEN failed THEN 1 END) AS failed "
                "FROM eval_run_rows WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        assert row is not None
        return int(row["done"]), int(row["failed"])

    def dataset_runs(self, dataset_id: str) -> int:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM eval_runs WHERE task_id = ?", (dataset_id,)
            ).fetchone()
        return int(row["n"])

    def count(self) -> int:
        """How many runs there are (the total of `list`'s pages)."""
        with self._db.read() as conn:
            row = conn.execute("SELECT count(*) AS n FROM eval_runs").fetchone()
        return int(row["n"])

    def version_stats(self, key: str) -> dict[int, VersionStats]:
        """The `PromptRunStats` port: per version of the prompt `key`, over the runs whose
        recorded prompt version is it (see `VersionStats` for each figure). The rows are
        summed by the database, per run (a run's rows are never read whole here)."""
        field = _JSON_FIELD[self._db.dialect]
        type_of = field.format(column="e.prompt_version", name="type")
        error, correct, latency, cost = (
            field.format(column="r.row", name=name)
            for name in ("error", "correct", "latency_ms", "cost_usd")
        )
        with self._db.read() as conn:
            runs = conn.execute(
                f"SELECT e.run_id, e.status, e.created_at, e.prompt_version FROM eval_runs e "
                f"WHERE {type_of} = ? ORDER BY e.created_at, e.rowid",
                (key,),
            ).fetchall()
            sums = conn.execute(
                "SELECT r.run_id, count(*) AS cases, "
                f"count(CASE WHEN {correct} = 'true' THEN 1 END) AS correct, "
                f"count(CASE WHEN {error} IS NULL THEN 1 END) AS timed, "
                f"sum(CASE WHEN {error} IS NULL THEN CAST({latency} AS REAL) END) AS latency, "
                f"count({cost}) AS priced, sum(CAST({cost} AS REAL)) AS cost "
                "FROM eval_run_rows r JOIN eval_runs e USING (run_id) "
                f"WHERE {type_of} = ? AND r.variant = 'clean' GROUP BY r.run_id",
                (key,),
            ).fetchall()
        by_run = {row["run_id"]: row for row in sums}
        versions: dict[int, list[Any]] = {}
        for run in runs:
            version = int(self._db.get_json(run["prompt_version"])["version"])
            versions.setdefault(version, []).append(run)
        return {number: _version_stats(found, by_run) for number, found in versions.items()}

    def _run(self, row: Any) -> RunRecord:
        json_value = self._db.get_json
        prompt = json_value(row["prompt_version"]) if row["prompt_version"] else None
        return RunRecord(
            run_id=row["run_id"],
            status=row["status"],
            task_id=row["task_id"],
            task_version=row["task_version"],
            models=tuple(json_value(row["models"])),
            prompt_version=PromptRef(prompt["type"], int(prompt["version"])) if prompt else None,
            settings=RunSettings.from_dict(json_value(row["settings"])),
            created_by=row["created_by"],
            created_at=row["created_at"],
            total=row["total"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            error=row["error"],
        )


#: One field of a JSON column as text (`true`/`false` for a boolean, NULL for null or absent).
_JSON_FIELD = {
    "sqlite": "(CASE json_type({column}, '$.{name}') WHEN 'true' THEN 'true' "
    "WHEN 'false' THEN 'false' ELSE json_extract({column}, '$.{name}') END)",
    "postgresql": "({column}->>'{name}')",
}


def _version_stats(runs: list[Any], sums: Mapping[str, Any]) -> VersionStats:
    """`runs` (rows of eval_runs) oldest first; `sums` the clean rows' sums, by run."""
    found = [sums[run["run_id"]] for run in runs if run["run_id"] in sums]
    cases = sum(int(s["cases"]) for s in found)
    correct = sum(int(s["correct"]) for s in found)
    timed = sum(int(s["timed"]) for s in found)
    latency = sum(float(s["latency"] or 0) for s in found)
    priced = sum(int(s["priced"]) for s in found)
    cost = sum(float(s["cost"] or 0) for s in found)
    completed = [run for run in runs if run["status"] == "completed"]
    return VersionStats(
        runs=len(runs),
        cases=cases,
        pass_rate=round(correct / cases, 4) if cases else None,
        mean_latency_ms=round(latency / timed, 1) if timed else None,
        cost_usd=round(cost, 6) if priced else None,
        last_run_at=str(runs[-1]["created_at"]),
        last_run_id=str(runs[-1]["run_id"]),
        last_completed_run_id=str(completed[-1]["run_id"]) if completed else None,
    )


def _dataset(row: Any) -> StoredDataset:
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
