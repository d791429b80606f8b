"""In-memory fakes of the response-log and calibration ports (see `tests/fakes.py`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from use_cases.calibration_domain import (
    CalibrationFit,
    Feedback,
    LoggedResponse,
    ScoredResponse,
    StoredCalibration,
)
from use_cases.confidence import PhraseThresholds


class InMemoryResponseLog:
    def __init__(self) -> None:
        self.rows: dict[str, LoggedResponse] = {}

    def add(self, response: LoggedResponse) -> None:
        assert response.response_id not in self.rows
        self.rows[response.response_id] = response

    def get(self, response_id: str) -> LoggedResponse | None:
        return self.rows.get(response_id)

    def put_feedback(
        self, response_id: str, outcome: bool, notes: str | None, at: datetime
    ) -> bool:
        row = self.rows[response_id]
        self.rows[response_id] = replace(row, feedback=Feedback(outcome, notes, at))
        return row.feedback is not None

    def remove_feedback(self, response_id: str) -> bool:
        row = self.rows[response_id]
        self.rows[response_id] = replace(row, feedback=None)
        return row.feedback is not None

    def recent(self, *, limit: int, user_id: str | None = None) -> list[LoggedResponse]:
        rows = [r for r in self.rows.values() if user_id is None or r.user_id == user_id]
        return sorted(rows, key=lambda r: r.created_at, reverse=True)[:limit]

    def for_chat(self, chat_id: str) -> list[LoggedResponse]:
        rows = [r for r in self.rows.values() if r.chat_id == chat_id]
        return sorted(rows, key=lambda r: r.created_at)

    def scored(
        self, *, since: datetime | None = None, user_id: str | None = None
    ) -> list[ScoredResponse]:
        return [
            ScoredResponse(
                r.response_id,
                r.created_at,
                r.raw_confidence,
                r.confidence,
                None if r.feedback is None else r.feedback.outcome,
            )
            for r in sorted(self.rows.values(), key=lambda r: r.created_at)
            if (since is None or r.created_at >= since)
            and (user_id is None or r.user_id == user_id)
        ]

    def feedback_count(self) -> int:
        return sum(r.feedback is not None for r in self.rows.values())

    def forget_user(self, user_id: str) -> int:
        gone = [k for k, r in self.rows.items() if r.user_id == user_id]
        for key in gone:
            del self.rows[key]
        return len(gone)


class InMemoryCalibrationStore:
    def __init__(self) -> None:
        self.thresholds: list[PhraseThresholds] = []
        self.calibrations: list[StoredCalibration] = []

    def current_thresholds(self) -> PhraseThresholds | None:
        return self.thresholds[-1] if self.thresholds else None

    def save_thresholds(
        self, bounds: tuple[float, ...], source: str, author: str, at: datetime
    ) -> PhraseThresholds:
        saved = PhraseThresholds(bounds, len(self.thresholds) + 1, source, author, at)
        self.thresholds.append(saved)
        return saved

    def active_calibration(self) -> StoredCalibration | None:
        active = [c for c in self.calibrations if c.fit.active]
        return active[-1] if active else None

    def latest_calibration(self) -> StoredCalibration | None:
        return self.calibrations[-1] if self.calibrations else None

    def save_calibration(self, fit: CalibrationFit, author: str, at: datetime) -> StoredCalibration:
        stored = StoredCalibration(len(self.calibrations) + 1, fit, at, author)
        self.calibrations.append(stored)
        return stored
