"""PostgreSQL adapter for the `CalibrationStore` port (the same rules as
`SqliteCalibrationStore`).

`confidence_phrase_versions` (phrase thresholds) and `confidence_calibrations`
(recalibration maps) are numbered 1, 2, ...; versions are never changed or deleted
(triggers refuse it). Each save locks its table in EXCLUSIVE mode (reads go on) before it
takes the next number, so two admins saving at once, on any replicas, get consecutive
versions.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from services.calibration.pg_response_log import aware
from services.postgres import Migration, PgDatabase, apply_migrations
from use_cases.confidence.domain import CalibrationFit, FittedMap, StoredCalibration
from use_cases.confidence.estimator import PHRASES, PhraseThresholds

__all__ = ["MIGRATIONS", "PgCalibrationStore"]

MIGRATIONS: list[Migration] = [
    Migration(
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


class PgCalibrationStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        apply_migrations(db, MIGRATIONS)

    def current_thresholds(self) -> PhraseThresholds | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT version, thresholds, source, author, created_at "
                "FROM confidence_phrase_versions ORDER BY version DESC LIMIT 1"
            ).fetchone()
        return _thresholds(row) if row else None

    def save_thresholds(
        self, bounds: tuple[float, ...], source: str, author: str, at: datetime
    ) -> PhraseThresholds:
        PhraseThresholds(bounds)  # validates before anything is written
        data = json.dumps(dict(zip(PHRASES[1:], bounds, strict=True)))
        with self._db.transaction() as conn:
            conn.execute("LOCK TABLE confidence_phrase_versions IN EXCLUSIVE MODE")
            row = conn.execute(
                "INSERT INTO confidence_phrase_versions "
                "(version, thresholds, source, author, created_at) VALUES ("
                "(SELECT COALESCE(MAX(version), 0) + 1 FROM confidence_phrase_versions), "
                "%s::jsonb, %s, %s, %s) RETURNING version, created_at",
                (data, source, author, aware(at)),
            ).fetchone()
        assert row is not None
        return PhraseThresholds(
            tuple(bounds), int(row["version"]), source, author, row["created_at"].astimezone(UTC)
        )

    def active_calibration(self) -> StoredCalibration | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"{_CALIBRATION} WHERE active ORDER BY version DESC LIMIT 1"
            ).fetchone()
        return _calibration(row) if row else None

    def latest_calibration(self) -> StoredCalibration | None:
        with self._db.connection() as conn:
            row = conn.execute(f"{_CALIBRATION} ORDER BY version DESC LIMIT 1").fetchone()
        return _calibration(row) if row else None

    def save_calibration(self, fit: CalibrationFit, author: str, at: datetime) -> StoredCalibration:
        data = json.dumps(asdict(fit))
        with self._db.transaction() as conn:
            conn.execute("LOCK TABLE confidence_calibrations IN EXCLUSIVE MODE")
            row = conn.execute(
                "INSERT INTO confidence_calibrations "
                "(version, method, fit, active, author, created_at) VALUES ("
                "(SELECT COALESCE(MAX(version), 0) + 1 FROM confidence_calibrations), "
                "%s, %s::jsonb, %s, %s, %s) RETURNING version, created_at",
                (fit.map.method, data, bool(fit.active), author, aware(at)),
            ).fetchone()
        assert row is not None
        return StoredCalibration(
            int(row["version"]), fit, row["created_at"].astimezone(UTC), author
        )

    def close(self) -> None:
        """Nothing to release: the pool is shared and closed by its owner."""


def _thresholds(row: dict[str, Any]) -> PhraseThresholds:
    values = row["thresholds"]
    return PhraseThresholds(
        bounds=tuple(float(values[p]) for p in PHRASES[1:]),
        version=int(row["version"]),
        source=row["source"],
        author=row["author"],
        created_at=row["created_at"].astimezone(UTC),
    )


def _calibration(row: dict[str, Any]) -> StoredCalibration:
    data = dict(row["fit"])
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
        row["created_at"].astimezone(UTC),
        row["author"],
    )
