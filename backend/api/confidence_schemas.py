"""HTTP shapes of `POST /feedback` and the `/confidence/*` endpoints.

Each response carries Almanac's fields and, beside them, the fields the advice-backend
contract names for the same figures (`responses_with_feedback`, `calibration_data`, `logs`,
`suggested_adjustments`, ...: docs/seeds.md). Both are read from the one use-case result.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
    status: Literal["success"] = Field(
        "success", description="Always `success` (a failure is a problem response instead)."
    )
    result: Literal["recorded", "replaced", "withdrawn"] = Field(
        description="What the call did: a first verdict, one replacing an earlier verdict, "
        "or a verdict taken back."
    )
    message: str
    response_id: str

    @classmethod
    def of(cls, receipt: FeedbackReceipt) -> FeedbackOut:
        return cls(result=receipt.status, message=receipt.message, response_id=receipt.response_id)


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


class BandFigures(BaseModel):
    """A band as the contract names it (`calibration_data`)."""

    confidence_band: str = Field(examples=["0.7-0.8"])
    count: int = Field(description="Responses whose confidence falls in the band.")
    observed_accuracy: float | None
    brier_score_band: float | None


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
    responses_with_feedback: int = Field(description="`with_feedback` again.")
    positive_feedback_count: int = Field(description="`positive` again.")
    negative_feedback_count: int = Field(description="`negative` again.")
    avg_confidence_score: float | None = Field(description="`average_confidence` again.")
    brier_score_overall: float | None = Field(description="`brier_score` again.")
    calibration_data: list[BandFigures] = Field(description="`bands`, in the contract's names.")
    last_updated: datetime = Field(description="When these figures were computed (UTC).")

    @classmethod
    def of(cls, stats: ConfidenceStats) -> StatsOut:
        return cls(
            **{name: getattr(stats, name) for name in _STATS_FIELDS},
            bands=[BandOut.model_validate(b) for b in stats.bands],
            responses_with_feedback=stats.with_feedback,
            positive_feedback_count=stats.positive,
            negative_feedback_count=stats.negative,
            avg_confidence_score=stats.average_confidence,
            brier_score_overall=stats.brier_score,
            calibration_data=[
                BandFigures(
                    confidence_band=b.label,
                    count=b.responses,
                    observed_accuracy=b.observed_accuracy,
                    brier_score_band=b.brier_score,
                )
                for b in stats.bands
            ],
            last_updated=datetime.now(UTC),
        )


_STATS_FIELDS = (
    "days_back",
    "scope",
    "total_responses",
    "with_feedback",
    "positive",
    "negative",
    "average_confidence",
    "observed_accuracy",
    "brier_score",
    "message",
)


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


class LogOut(BaseModel):
    """A logged response as the contract names it (`logs`)."""

    id: str = Field(description="The response's id (`response_id` again).")
    response_text: str
    confidence_score: float = Field(description="The confidence shown (`confidence`).")
    user_query: str
    model_used: str
    web_search_used: bool = Field(
        description="Whether the turn searched (the knowledge base: Almanac's search)."
    )
    outcome: bool | None = Field(description="The asker's verdict; null if none.")
    timestamp: datetime
    feedback_timestamp: datetime | None
    response_id: str

    @classmethod
    def of(cls, r: LoggedResponse) -> LogOut:
        return cls(
            id=r.response_id,
            response_text=r.response_text,
            confidence_score=r.confidence,
            user_query=r.query,
            model_used=r.model,
            web_search_used=r.search_ran,
            outcome=r.feedback.outcome if r.feedback else None,
            timestamp=r.created_at,
            feedback_timestamp=r.feedback.at if r.feedback else None,
            response_id=r.response_id,
        )


class RecentOut(BaseModel):
    scope: Literal["all", "own"]
    count: int
    responses: list[LoggedResponseOut]
    logs: list[LogOut] = Field(description="`responses`, in the contract's names.")
    total_count: int = Field(description="`count` again.")
    timestamp: datetime | None = Field(description="When the newest listed response was logged.")

    @classmethod
    def of(cls, responses: list[LoggedResponse], scope: str) -> RecentOut:
        return cls(
            scope=scope,
            count=len(responses),
            responses=[LoggedResponseOut.model_validate(r) for r in responses],
            logs=[LogOut.of(r) for r in responses],
            total_count=len(responses),
            timestamp=max((r.created_at for r in responses), default=None),
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


class CurvePair(BaseModel):
    """A point of the calibration curve as the contract names it."""

    predicted_probability: float = Field(description="The band's mean confidence.")
    observed_frequency: float = Field(description="The band's observed accuracy.")


class BrierOut(BaseModel):
    days_back: int
    scope: Literal["all", "own"]
    brier_score: float | None = Field(description="Mean squared error of confidence; 0 is best.")
    total: int = Field(description="Responses with feedback in the window.")
    calibration_curve: list[CurvePoint]
    reliability_diagram: ReliabilityData
    message: str | None
    total_predictions: int = Field(description="`total` again.")
    calibration_curve_data: list[CurvePair] = Field(
        description="`calibration_curve`, in the contract's names."
    )
    reliability_diagram_data: ReliabilityData = Field(description="`reliability_diagram` again.")

    @classmethod
    def of(cls, report: BrierReport) -> BrierOut:
        curve = [CurvePoint.model_validate(b) for b in report.calibration_curve]
        diagram = ReliabilityData(bins=curve, perfect_calibration=[[0.0, 0.0], [1.0, 1.0]])
        return cls(
            days_back=report.days_back,
            scope=report.scope,
            brier_score=report.brier_score,
            total=report.total,
            calibration_curve=curve,
            reliability_diagram=diagram,
            message=report.message,
            total_predictions=report.total,
            calibration_curve_data=[
                CurvePair(
                    predicted_probability=p.mean_confidence, observed_frequency=p.observed_accuracy
                )
                for p in curve
            ],
            reliability_diagram_data=diagram,
        )


class WeekOut(_FromAttributes):
    week: str = Field(examples=["2026-W09"])
    responses: int
    ece: float | None
    brier_score: float | None


class CalibrationBand(BaseModel):
    """A band as the contract names it (`calibration_bands`)."""

    band: str = Field(examples=["[0.7, 0.8]"])
    count: int
    avg_confidence: float | None
    observed_accuracy: float | None
    is_calibrated: bool | None


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
    overall_calibration: dict[str, float | None] = Field(
        description="`average_confidence`, `observed_accuracy` and "
        "`expected calibration error (ECE)` (`ece`), in the contract's names."
    )
    calibration_bands: list[CalibrationBand] = Field(
        description="`bands`, in the contract's names."
    )
    drift_analysis: dict[str, list[WeekOut]] = Field(description="`{weeks: drift}`.")

    @classmethod
    def of(cls, report: CalibrationReport) -> CalibrationOut:
        weeks = [WeekOut.model_validate(w) for w in report.drift]
        return cls(
            **{name: getattr(report, name) for name in _CALIBRATION_FIELDS},
            bands=[BandOut.model_validate(b) for b in report.bands],
            drift=weeks,
            overall_calibration={
                "average_confidence": report.average_confidence,
                "observed_accuracy": report.observed_accuracy,
                "expected_calibration_error (ECE)": report.ece,
            },
            calibration_bands=[
                CalibrationBand(
                    band=f"[{b.lower:.1f}, {b.upper:.1f}]",
                    count=b.responses,
                    avg_confidence=b.mean_confidence,
                    observed_accuracy=b.observed_accuracy,
                    is_calibrated=b.is_calibrated,
                )
                for b in report.bands
            ],
            drift_analysis={"weeks": weeks},
        )


_CALIBRATION_FIELDS = (
    "days_back",
    "scope",
    "responses_with_feedback",
    "average_confidence",
    "observed_accuracy",
    "overconfidence",
    "ece",
    "raw_ece",
    "tolerance",
    "message",
)


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


class Adjustment(BaseModel):
    """A moved bound as the contract names it (`suggested_adjustments`)."""

    phrase_key: str = Field(examples=["high"])
    old_threshold: float
    new_threshold: float
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
    status: Literal["dry_run_complete", "tuning_applied"] = Field(
        description="`dry_run_complete` for a dry run, else `tuning_applied` (`applied` says "
        "whether any bound moved)."
    )
    analyzed_period_days: int = Field(description="`days_back` again.")
    previous_calibration: dict[str, Any] = Field(
        description="`{thresholds, bands}`: the lower bounds in force before this call, and "
        "the bands they were judged on."
    )
    suggested_adjustments: list[Adjustment] = Field(
        description="The bounds tuning moves (or, in a dry run, would move)."
    )
    new_phrase_configuration: dict[str, float] | None = Field(
        description="The lower bounds in force after an applied tuning; null otherwise."
    )
    summary: str = Field(description="`message` again.")

    @classmethod
    def of(cls, result: TuneResult) -> TuneOut:
        suggested = (
            None if result.suggested is None else PhraseThresholds(result.suggested).as_dict()
        )
        bands = [BandOut.model_validate(b) for b in result.bands]
        before = {m.phrase: m.current for m in result.moves} or result.current.as_dict()
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
            bands=bands,
            min_band_feedback=result.min_band_feedback,
            min_move_feedback=result.min_move_feedback,
            message=result.message,
            status="dry_run_complete" if result.dry_run else "tuning_applied",
            analyzed_period_days=result.days_back,
            previous_calibration={"thresholds": before, "bands": bands},
            suggested_adjustments=[
                Adjustment(
                    phrase_key=m.phrase,
                    old_threshold=m.current,
                    new_threshold=m.suggested,
                    reason=m.reason,
                )
                for m in result.moves
                if m.suggested != m.current
            ],
            new_phrase_configuration=result.current.as_dict() if result.applied else None,
            summary=result.message,
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


class PhraseRange(BaseModel):
    """A phrase and the confidences it covers, as the contract names them."""

    min_score: float
    max_score: float
    phrase: str


class PhraseStatusOut(BaseModel):
    thresholds: ThresholdsOut
    promises: dict[str, float] = Field(
        description="The least observed accuracy each phrase stands for."
    )
    recalibration: RecalibrationStatusOut
    current_phrase_map: dict[str, PhraseRange] = Field(
        description="Each phrase with the confidences it covers (`thresholds.ranges`)."
    )
    last_tuned_timestamp: datetime | None = Field(
        description="When the thresholds in force were applied; null for the built-in ones."
    )
    recent_calibration_score: float | None = Field(
        description="The held-out ECE of the active recalibration map; null without one."
    )
    tuning_mode: Literal["automatic", "manual"] = Field(
        description="`automatic` when the confidence map is refitted as feedback arrives "
        "(RECALIBRATION_AUTO), else `manual`."
    )

    @classmethod
    def of(cls, status: PhraseStatus) -> PhraseStatusOut:
        recalibration = RecalibrationStatusOut.of(status.recalibration)
        active = recalibration.active
        return cls(
            thresholds=ThresholdsOut.of(status.thresholds),
            promises=status.promises,
            recalibration=recalibration,
            current_phrase_map={
                r["phrase"]: PhraseRange(min_score=r["min"], max_score=r["max"], phrase=r["phrase"])
                for r in status.thresholds.ranges()
            },
            last_tuned_timestamp=status.thresholds.created_at,
            recent_calibration_score=active.ece_after if active else None,
            tuning_mode="automatic" if recalibration.auto else "manual",
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
            fit = FitOut.of(StoredCalibration(0, result.fit, None, None))  # type: ignore[arg-type]  # a fit not stored yet has no date or author
            fit.version = None
        return cls(stored=result.stored is not None, fit=fit, message=result.message)
