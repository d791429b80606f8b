"""SQLite adapter for the `CalibrationStore` port, in the app DB (see `schema.py`).

Each save is one `BEGIN IMMEDIATE` transaction that takes the next version number, so two
admins saving at once get consecutive versions. Maps are stored as JSON (knots or the
logistic's coefficients) with the figures of their fit.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from services.calibration.response_log import stamp
from services.calibration.schema import MIGRATIONS
from services.sqlite.connection import Connection, immediate_transaction
from services.sqlite.migrations import apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.confidence.domain import CalibrationFit, FittedMap, StoredCalibration
from use_cases.confidence.estimator import PHRASES, PhraseThresholds

__all__ = ["SqliteCalibrationStore"]

_CALIBRATION = "SELECT version, fit, author, created_at FROM confidence_calibrations"


class SqliteCalibrationStore:
    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path)
        apply_migrations(self._connections.get(), MIGRATIONS)

    def current_thresholds(self) -> PhraseThresholds | None:
        row = (
            self._conn()
            .execute(
                "SELECT version, thresholds, source, author, created_at "
                "FROM confidence_phrase_versions ORDER BY version DESC LIMIT 1"
            )
            .fetchone()
        )
        return _thresholds(row) if row else None

    def save_thresholds(
        self, bounds: tuple[float, ...], source: str, author: str, at: datetime
    ) -> PhraseThresholds:
        PhraseThresholds(bounds)  # validates before anything is written
        data = json.dumps(dict(zip(PHRASES[1:], bounds, strict=True)))
        with immediate_transaction(self._conn()) as conn:
            (version,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM confidence_phrase_versions"
            ).fetchone()
            conn.execute(
                "INSERT INTO confidence_phrase_versions "
                "(version, thresholds, source, author, created_at) VALUES (?, ?, ?, ?, ?)",
                (version, data, source, author, stamp(at)),
            )
        return PhraseThresholds(tuple(bounds), int(version), source, author, _time(stamp(at)))

    def active_calibration(self) -> StoredCalibration | None:
        row = (
            self._conn()
            .execute(f"{_CALIBRATION} WHERE active = 1 ORDER BY version DESC LIMIT 1")
            .fetchone()
        )
        return _calibration(row) if row else None

    def latest_calibration(self) -> StoredCalibration | None:
        row = self._conn().execute(f"{_CALIBRATION} ORDER BY version DESC LIMIT 1").fetchone()
        return _calibration(row) if row else None

    def save_calibration(self, fit: CalibrationFit, author: str, at: datetime) -> StoredCalibration:
        data = json.dumps(asdict(fit))
        with immediate_transaction(self._conn()) as conn:
            (version,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM confidence_calibrations"
            ).fetchone()
            conn.execute(
                "INSERT INTO confidence_calibrations "
                "(version, method, fit, active, author, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (version, fit.map.method, data, int(fit.active), author, stamp(at)),
            )
        return StoredCalibration(int(version), fit, _time(stamp(at)), author)

    def close(self) -> None:
        self._connections.close()

    def _conn(self) -> Connection:
        return self._connections.get()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _thresholds(row: tuple[Any, ...]) -> PhraseThresholds:
    values = json.loads(row[1])
    return PhraseThresholds(
        bounds=tuple(float(values[p]) for p in PHRASES[1:]),
        version=int(row[0]),
        source=row[2],
        author=row[3],
        created_at=_time(row[4]),
    )


def _calibration(row: tuple[Any, ...]) -> StoredCalibration:
    data = json.loads(row[1])
    raw_map = data.pop("map")
    fitted = FittedMap(
        method=raw_map["method"],
        xs=tuple(raw_map["xs"]),
        ys=tuple(raw_map["ys"]),
        slope=float(raw_map["slope"]),
        intercept=float(raw_map["intercept"]),
    )
    return StoredCalibration(int(row[0]), CalibrationFit(map=fitted, **data), _time(row[3]), row[2])
