"""`SqlConflictReports`: the latest conflict scan, stored where every replica reads it (the
`ConflictReports` port of use_cases/knowledge/conflicts.py), one SQL for both databases.

One row (`id = 1`): the knowledge base's generation the scan read, the report as JSON, when
it ended. A save keeps the row unless it holds a later generation already (two scans of
different changes ending out of order keep the newer one).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from services.postgres.migrations import Migration as PgMigration
from services.sql import StoreTarget, sql_db
from use_cases.knowledge.conflicts import (
    ConflictReport,
    ConflictSide,
    DocumentConflict,
    StoredScan,
)

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "SqlConflictReports"]

MIGRATIONS = [
    (
        "conflicts_0001_reports",
        """
        CREATE TABLE conflict_reports (
            id          INTEGER PRIMARY KEY CHECK (id = 1),
            generation  INTEGER NOT NULL,
            report      TEXT NOT NULL,
            finished_at TEXT NOT NULL
        )
        """,
    ),
]

PG_MIGRATIONS = [
    PgMigration(
        "conflicts_pg_0001_reports",
        """
        CREATE TABLE conflict_reports (
            id          INTEGER PRIMARY KEY CHECK (id = 1),
            generation  BIGINT NOT NULL,
            report      JSONB NOT NULL,
            finished_at TIMESTAMPTZ NOT NULL
        )
        """,
    ),
]


class SqlConflictReports:
    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def latest(self) -> StoredScan | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT generation, report, finished_at FROM conflict_reports WHERE id = 1"
            ).fetchone()
        if row is None:
            return None
        return StoredScan(
            int(row["generation"]),
            _report(self._db.get_json(row["report"])),
            self._db.get_time(row["finished_at"]),
        )

    def save(self, scan: StoredScan) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO conflict_reports (id, generation, report, finished_at) "
                "VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "generation = excluded.generation, report = excluded.report, "
                "finished_at = excluded.finished_at "
                "WHERE conflict_reports.generation <= excluded.generation",
                (
                    scan.generation,
                    json.dumps(asdict(scan.report)),
                    self._db.put_time(scan.finished_at),
                ),
            )

    def close(self) -> None:
        self._db.close()


def _side(data: dict[str, Any]) -> ConflictSide:
    return ConflictSide(**{**data, "values": tuple(data["values"])})


def _report(data: dict[str, Any]) -> ConflictReport:
    return ConflictReport(
        conflicts=tuple(
            DocumentConflict(c["unit"], _side(c["first"]), _side(c["second"]))
            for c in data["conflicts"]
        ),
        sections_checked=int(data["sections_checked"]),
        complete=bool(data["complete"]),
    )
