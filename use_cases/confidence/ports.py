"""Ports of confidence: the response log with its feedback, and the calibration in force."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from use_cases.confidence.domain import (
    CalibrationFit,
    LoggedResponse,
    ScoredResponse,
    StoredCalibration,
)
from use_cases.confidence.estimator import PhraseThresholds


class ResponseLog(Protocol):
    """Logged answers and their feedback (at most one per response: a new one replaces it)."""

    def add(self, response: LoggedResponse) -> None: ...

    def get(self, response_id: str) -> LoggedResponse | None: ...

    def put_feedback(
        self, response_id: str, outcome: bool, notes: str | None, at: datetime
    ) -> bool:
        """Store the response's feedback; True if it replaced an earlier one. The response
        must exist."""
        ...

    def remove_feedback(self, response_id: str) -> bool:
        """Withdraw the response's feedback; True if it had any."""
        ...

    def recent(self, *, limit: int, user_id: str | None = None) -> list[LoggedResponse]:
        """Newest first; only `user_id`'s when given."""
        ...

    def for_chat(self, chat_id: str) -> list[LoggedResponse]:
        """The logged answers of one chat, oldest first (with their feedback)."""
        ...

    def scored(
        self, *, since: datetime | None = None, user_id: str | None = None
    ) -> list[ScoredResponse]:
        """Every response created at or after `since` (all when None), oldest first, with its
        outcome (None without feedback)."""
        ...

    def feedback_count(self) -> int: ...

    def forget_user(self, user_id: str) -> int:
        """Delete the user's responses and their feedback; returns how many."""
        ...


class CalibrationStore(Protocol):
    """Versioned phrase thresholds and recalibration maps (versions 1, 2, ...; never changed).

    The newest thresholds version is in force (none stored: the built-in default); the newest
    recalibration marked active is in force (none: no recalibration)."""

    def current_thresholds(self) -> PhraseThresholds | None: ...

    def save_thresholds(
        self, bounds: tuple[float, ...], source: str, author: str, at: datetime
    ) -> PhraseThresholds: ...

    def active_calibration(self) -> StoredCalibration | None: ...

    def latest_calibration(self) -> StoredCalibration | None:
        """The newest fit, active or not."""
        ...

    def save_calibration(
        self, fit: CalibrationFit, author: str, at: datetime
    ) -> StoredCalibration: ...
