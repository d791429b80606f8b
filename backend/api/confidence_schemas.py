"""HTTP shapes of `POST /feedback` and the `/confidence/*` endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from use_cases.calibration.analytics import (
    BrierReport,
    CalibrationReport,
    ConfidenceStats,
    PhraseStatus,
    RecalibrationResult,
    RecalibrationStatus,
    TuneResult,
)
from use_cases.chat.responses import MAX_NOTES_CHARS, FeedbackReceipt
from use_cases.confidence.domain import LoggedResponse, StoredCalibration
from use_cases.confidence.estimator import PhraseThresholds


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response_id: str = Field(
        min_length=1,
        max_length=64,
        description="The `response_id` of a chat answer or advice you were given.",
        examples=["resp_3f9c0a7d1e2b4c5a6d7e8f90"],
    )
    outcome: StrictBool = Field(description="true: the answer was right; false: it was not.")
    feedback_notes: str | None = Field(
        None,
        max_length=MAX_NOTES_CHARS,
        description=f"What was wrong or right (at most {MAX_NOTES_CHARS:,} characters).",
    )


class FeedbackOut(BaseModel):
    status: Literal["recorded", "replaced", "withdrawn"]
    message: str
    response_id: str

    @classmethod
    def of(cls, receipt: FeedbackReceipt) -> FeedbackOut:
        return cls(status=receipt.status, message=receipt.message, response_id=receipt.response_id)


class BandOut(_FromAttributes):
    label: str = Field(description="The confidence band, e.g. `0.7-0.8`.")
    lower: float
    upper: float
    responses: int = Field(description="Responses whose confidence falls in the band.")
    with_feedback: int
    mean_confidence: float | None
    observed_accuracy: float | None
    brier_score: float | None
    is_calibrated: bool | None = Field(
        description="Mean confidence within the tolerance of observed accuracy; null without "
        "feedback."
    )


class StatsOut(_FromAttributes):
    days_back: int
    scope: Literal["all", "own"] = Field(
        description="`own`: the caller's responses (users); `all`: everyone's (admins)."
    )
    total_responses: int
    with_feedback: int
    positive: int
    negative: int
    average_confidence: float | None
    observed_accuracy: float | None
    brier_score: float | None
    bands: list[BandOut]
    message: str | None = Field(description="Why figures are null, when they are.")

    @classmethod
    def of(cls, stats: ConfidenceStats) -> StatsOut:
        return cls.model_validate(stats)


class FeedbackShown(_FromAttributes):
    outcome: bool
    notes: str | None
    at: datetime


class LoggedResponseOut(_FromAttributes):
    response_id: str
    user_id: str
    kind: Literal["chat", "advice"]
    query: str
    response_text: str
    raw_confidence: float
    confidence: float
    confidence_phrase: str
    model: str
    search_ran: bool
    latency_ms: int
    created_at: datetime
    calibration_version: int | None
    phrase_version: int
    feedback: FeedbackShown | None


class RecentOut(BaseModel):
    scope: Literal["all", "own"]
    count: int
    responses: list[LoggedResponseOut]

    @classmethod
    def of(cls, responses: list[LoggedResponse], scope: str) -> RecentOut:
        return cls(
            scope=scope,  # type: ignore[arg-type]
            count=len(responses),
            responses=[LoggedResponseOut.model_validate(r) for r in responses],
        )


class CurvePoint(_FromAttributes):
    lower: float
    upper: float
    mean_confidence: float
    observed_accuracy: float
    count: int


class ReliabilityData(BaseModel):
    bins: list[CurvePoint]
    perfect_calibration: list[list[float]] = Field(
        description="The diagonal a calibrated system lies on."
    )


class BrierOut(BaseModel):
    days_back: int
    scope: Literal["all", "own"]
    brier_score: float | None = Field(description="Mean squared error of confidence; 0 is best.")
    total: int = Field(description="Responses with feedback in the window.")
    calibration_curve: list[CurvePoint]
    reliability_diagram: ReliabilityData
    message: str | None

    @classmethod
    def of(cls, report: BrierReport) -> BrierOut:
        curve = [CurvePoint.model_validate(b) for b in report.calibration_curve]
        return cls(
            days_back=report.days_back,
            scope=report.scope,  # type: ignore[arg-type]
            brier_score=report.brier_score,
            total=report.total,
            calibration_curve=curve,
            reliability_diagram=ReliabilityData(
                bins=curve, perfect_calibration=[[0.0, 0.0], [1.0, 1.0]]
            ),
            message=report.message,
        )


class WeekOut(_FromAttributes):
    week: str = Field(examples=["2026-W09"])
    responses: int
    ece: float | None
    brier_score: float | None


class CalibrationOut(_FromAttributes):
    days_back: int
    scope: Literal["all", "own"]
    responses_with_feedback: int
    average_confidence: float | None
    observed_accuracy: float | None
    overconfidence: float | None = Field(
        description="Average confidence minus observed accuracy (> 0: claims too much)."
    )
    ece: float | None = Field(description="Expected calibration error of the shown confidence.")
    raw_ece: float | None = Field(description="The same for the raw (uncalibrated) confidence.")
    tolerance: float
    bands: list[BandOut]
    drift: list[WeekOut] = Field(description="ECE per ISO week, oldest first.")
    message: str | None

    @classmethod
    def of(cls, report: CalibrationReport) -> CalibrationOut:
        return cls.model_validate(report)


class ThresholdsOut(BaseModel):
    version: int = Field(description="0 is the built-in default.")
    source: str
    author: str | None
    created_at: datetime | None
    thresholds: dict[str, float] = Field(description="The lower bound of each phrase.")
    ranges: list[dict[str, Any]]

    @classmethod
    def of(cls, t: PhraseThresholds) -> ThresholdsOut:
        return cls(
            version=t.version,
            source=t.source,
            author=t.author,
            created_at=t.created_at,
            thresholds=t.as_dict(),
            ranges=t.ranges(),
        )


class ThresholdMoveOut(BaseModel):
    phrase: str
    promise: float = Field(description="The least observed accuracy the phrase stands for.")
    current: float = Field(description="Its lower bound in force before this call.")
    target: float = Field(description="Where the promise alone puts it on the feedback.")
    suggested: float = Field(description="Where tuning puts it (evidence and order applied).")
    action: str = Field(description="keep, lower or raise.")
    rated_answers: int = Field(
        description="Rated answers between the bound in force and the target."
    )
    reason: str


class TuneOut(BaseModel):
    days_back: int
    dry_run: bool
    applied: bool
    current: ThresholdsOut = Field(description="The thresholds in force after this call.")
    suggested: dict[str, float] | None
    changes: list[ThresholdMoveOut] = Field(
        description="What tuning does (or, in a dry run, would do) with each phrase, and why."
    )
    bands: list[BandOut]
    min_band_feedback: int
    min_move_feedback: int = Field(
        description="Rated answers a bound's move must rest on; with fewer it is kept."
    )
    message: str

    @classmethod
    def of(cls, result: TuneResult) -> TuneOut:
        suggested = (
            None if result.suggested is None else PhraseThresholds(result.suggested).as_dict()
        )
        return cls(
            days_back=result.days_back,
            dry_run=result.dry_run,
            applied=result.applied,
            current=ThresholdsOut.of(result.current),
            suggested=suggested,
            changes=[
                ThresholdMoveOut(
                    phrase=m.phrase,
                    promise=m.promise,
                    current=m.current,
                    target=m.target,
                    suggested=m.suggested,
                    action=m.action,
                    rated_answers=m.rated,
                    reason=m.reason,
                )
                for m in result.moves
            ],
            bands=[BandOut.model_validate(b) for b in result.bands],
            min_band_feedback=result.min_band_feedback,
            min_move_feedback=result.min_move_feedback,
            message=result.message,
        )


class FitOut(BaseModel):
    version: int | None
    method: str
    active: bool
    feedback_used: int
    train_size: int
    heldout_size: int
    ece_before: float | None = Field(description="Held-out ECE of the raw confidence.")
    ece_after: float | None = Field(description="Held-out ECE after the map.")
    brier_before: float | None
    brier_after: float | None
    created_at: datetime | None
    author: str | None

    @classmethod
    def of(cls, stored: StoredCalibration) -> FitOut:
        fit = stored.fit
        return cls(
            version=stored.version,
            method=fit.map.method,
            active=fit.active,
            feedback_used=fit.feedback_used,
            train_size=fit.train_size,
            heldout_size=fit.heldout_size,
            ece_before=fit.ece_before,
            ece_after=fit.ece_after,
            brier_before=fit.brier_before,
            brier_after=fit.brier_after,
            created_at=stored.created_at,
            author=stored.author,
        )


class RecalibrationStatusOut(BaseModel):
    method: str
    auto: bool
    min_feedback: int
    feedback: int = Field(description="Answers with feedback, all time.")
    next_fit_at: int = Field(description="Feedback count at which the next automatic fit runs.")
    active: FitOut | None
    latest: FitOut | None

    @classmethod
    def of(cls, status: RecalibrationStatus) -> RecalibrationStatusOut:
        return cls(
            method=status.method,
            auto=status.auto,
            min_feedback=status.min_feedback,
            feedback=status.feedback,
            next_fit_at=status.next_fit_at,
            active=FitOut.of(status.active) if status.active else None,
            latest=FitOut.of(status.latest) if status.latest else None,
        )


class PhraseStatusOut(BaseModel):
    thresholds: ThresholdsOut
    promises: dict[str, float] = Field(
        description="The least observed accuracy each phrase stands for."
    )
    recalibration: RecalibrationStatusOut

    @classmethod
    def of(cls, status: PhraseStatus) -> PhraseStatusOut:
        return cls(
            thresholds=ThresholdsOut.of(status.thresholds),
            promises=status.promises,
            recalibration=RecalibrationStatusOut.of(status.recalibration),
        )


class RecalibrationOut(BaseModel):
    stored: bool
    fit: FitOut
    message: str

    @classmethod
    def of(cls, result: RecalibrationResult) -> RecalibrationOut:
        if result.stored is not None:
            fit = FitOut.of(result.stored)
        else:
            fit = FitOut.of(StoredCalibration(0, result.fit, None, None))  # type: ignore[arg-type]
            fit.version = None
        return cls(stored=result.stored is not None, fit=fit, message=result.message)
