"""The `CalibrationStore` port in the app DB, on SQLite or PostgreSQL (`services/sql`; tables
in `schema.py`).

`confidence_phrase_versions` (phrase thresholds) and `confidence_calibrations`
(recalibration maps) are numbered 1, 2, ...; versions are never changed or deleted
(triggers refuse it). Maps are stored as JSON (knots or the logistic's coefficients) with the
figures of their fit; times in UTC (`schema.utc`).

Each save is one write transaction that takes the next version number (`MAX + 1`) in the
statement that inserts it, so two admins saving at once, on any replicas, get consecutive
versions. What locks the table differs by dialect:
* SQLite: `BEGIN IMMEDIATE` holds the database's write lock from the start;
* PostgreSQL: the save first locks its table in EXCLUSIVE mode (reads go on), as row locks
  (`FOR UPDATE`) cannot cover a row not yet inserted.

The schemas differ too (`MIGRATIONS`, shared with `response_log.py`, and `PG_MIGRATIONS`):
JSON text checked by `json_valid`, a 0/1 `active` and ISO text times on SQLite; `JSONB`,
`BOOLEAN` and `timestamptz` on PostgreSQL, where one trigger function refuses UPDATE, DELETE
and TRUNCATE.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from services.calibration.schema import MIGRATIONS, utc
from services.postgres.migrations import Migration as PgMigration
from services.sql import Session, StoreTarget, sql_db
from use_cases.confidence.domain import CalibrationFit, FittedMap, StoredCalibration
from use_cases.confidence.estimator import PHRASES, PhraseThresholds

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "CalibrationStore"]

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
        "calibration_versions_pg_0001_phrase_thresholds_and_maps",
        """
        CREATE TABLE confidence_phrase_versions (
            version     INTEGER PRIMARY KEY CHECK (version >= 1),
            thresholds  JSONB NOT NULL,
            source      TEXT NOT NULL,
            author      TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE confidence_calibrations (
            version     INTEGER PRIMARY KEY CHECK (version >= 1),
            method      TEXT NOT NULL CHECK (method IN ('isotonic', 'platt')),
            fit         JSONB NOT NULL,
            active      BOOLEAN NOT NULL,
            author      TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL
        );
        CREATE FUNCTION calibration_versions_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% versions are never changed or deleted: add a version',
                TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
        END;
        $$;
        CREATE TRIGGER confidence_phrase_versions_kept
            BEFORE UPDATE OR DELETE ON confidence_phrase_versions
            FOR EACH ROW EXECUTE FUNCTION calibration_versions_kept();
        CREATE TRIGGER confidence_phrase_versions_no_truncate
            BEFORE TRUNCATE ON confidence_phrase_versions
            FOR EACH STATEMENT EXECUTE FUNCTION calibration_versions_kept();
        CREATE TRIGGER confidence_calibrations_kept
            BEFORE UPDATE OR DELETE ON confidence_calibrations
            FOR EACH ROW EXECUTE FUNCTION calibration_versions_kept();
        CREATE TRIGGER confidence_calibrations_no_truncate
            BEFORE TRUNCATE ON confidence_calibrations
            FOR EACH STATEMENT EXECUTE FUNCTION calibration_versions_kept();
        """,
    ),
]

_CALIBRATION = "SELECT version, fit, author, created_at FROM confidence_calibrations"


class CalibrationStore:
    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def current_thresholds(self) -> PhraseThresholds | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT version, thresholds, source, author, created_at "
                "FROM confidence_phrase_versions ORDER BY version DESC LIMIT 1"
            ).fetchone()
        return self._thresholds(row) if row else None

    def save_thresholds(
        self, bounds: tuple[float, ...], source: str, author: str, at: datetime
    ) -> PhraseThresholds:
        PhraseThresholds(bounds)  # validates before anything is written
        data = json.dumps(dict(zip(PHRASES[1:], bounds, strict=True)))
        with self._db.write() as conn:
            self._lock(conn, "confidence_phrase_versions")
            row = conn.execute(
                "INSERT INTO confidence_phrase_versions "
                "(version, thresholds, source, author, created_at) VALUES ("
                "(SELECT COALESCE(MAX(version), 0) + 1 FROM confidence_phrase_versions), "
                "?, ?, ?, ?) RETURNING version, created_at",
                (data, source, author, self._db.put_time(utc(at))),
            ).fetchone()
        assert row is not None
        return PhraseThresholds(
            tuple(bounds), int(row["version"]), source, author, self._db.get_time(row["created_at"])
        )

    def active_calibration(self) -> StoredCalibration | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"{_CALIBRATION} WHERE active ORDER BY version DESC LIMIT 1"
            ).fetchone()
        return self._calibration(row) if row else None

    def latest_calibration(self) -> StoredCalibration | None:
        with self._db.read() as conn:
            row = conn.execute(f"{_CALIBRATION} ORDER BY version DESC LIMIT 1").fetchone()
        return self._calibration(row) if row else None

    def save_calibration(self, fit: CalibrationFit, author: str, at: datetime) -> StoredCalibration:
        data = json.dumps(asdict(fit))
        with self._db.write() as conn:
            self._lock(conn, "confidence_calibrations")
            row = conn.execute(
                "INSERT INTO confidence_calibrations "
                "(version, method, fit, active, author, created_at) VALUES ("
                "(SELECT COALESCE(MAX(version), 0) + 1 FROM confidence_calibrations), "
                "?, ?, ?, ?, ?) RETURNING version, created_at",
                (fit.map.method, data, bool(fit.active), author, self._db.put_time(utc(at))),
            ).fetchone()
        assert row is not None
        return StoredCalibration(
            int(row["version"]), fit, self._db.get_time(row["created_at"]), author
        )

    def close(self) -> None:
        self._db.close()

    def _lock(self, conn: Session, table: str) -> None:
        """PostgreSQL only: take the table's EXCLUSIVE lock before the next number is read
        (SQLite's `BEGIN IMMEDIATE` already holds the write lock)."""
        if self._db.dialect == "postgresql":
            conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")

    def _thresholds(self, row: Any) -> PhraseThresholds:
        values = self._db.get_json(row["thresholds"])
        return PhraseThresholds(
            bounds=tuple(float(values[p]) for p in PHRASES[1:]),
            version=int(row["version"]),
            source=row["source"],
            author=row["author"],
            created_at=self._db.get_time(row["created_at"]),
        )

    def _calibration(self, row: Any) -> StoredCalibration:
        data = dict(self._db.get_json(row["fit"]))
        raw_map = data.pop("map")
        fitted = FittedMap(
            method=raw_map["method"],
            xs=tuple(raw_map["xs"]),
            ys=tuple(raw_map["ys"]),
            slope=float(raw_map["slope"]),
            intercept=float(raw_map["intercept"]),
        )
        return StoredCalibration(
            int(row["version"]),
            CalibrationFit(map=fitted, **data),
            self._db.get_time(row["created_at"]),
            row["author"],
        )
