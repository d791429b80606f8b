"""Calibration analytics, phrase tuning and recalibration over the response log.

Rules:
- Who sees what: a user's figures are over their own responses; an admin's over everyone's
  (the `scope` of each result says which). Tuning the phrases and recalibrating are admins'
  (and the CLI's), over everyone's feedback, and are audited (`confidence.tune`,
  `confidence.recalibrate`). An automatic refit is no one's action and is not audited.
- A window is the last `days_back` days (1 to `MAX_DAYS_BACK`) by the response's time. The
  figures are of the confidence users were shown (calibrated when a map was active); the
  calibration report also gives the ECE of the raw confidence. See
  `use_cases/calibration/stats.py` for the definitions. No feedback: nulls and a message.
- Phrase tuning (`AutoTunePhrases`) keeps each phrase's promise
  (`use_cases/confidence/estimator.py`) and keeps the phrases ordered and distinct: see
  `tune_thresholds` (a bound moves only on `MIN_MOVE_FEEDBACK` rated answers, and bounds rise by at
  least one band). Its message says what it does (or, in a dry run, would do) with each phrase and
  why. A dry run only suggests; otherwise the suggestion becomes the next thresholds version (unless
  it equals the one in force).
- Recalibration (`Recalibrate`) needs `min_feedback` feedback items (default 50). It shuffles
  them with a fixed seed, fits the map on one part and measures ECE and Brier score before
  (raw) and after (mapped) on the held-out rest (`holdout`, default half); the map it stores is
  then fitted on all the feedback. The map becomes active only if it did not make the
  held-out ECE worse. Automatic refits happen when the feedback count reaches `min_feedback`
  and again each time it has grown by `min_feedback` since the last fit.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller, require_admin
from use_cases.calibration.ports import CalibrationFitter, DiagramBin, DiagramRenderer
from use_cases.calibration.stats import (
    DEFAULT_TOLERANCE,
    MIN_BAND_FEEDBACK,
    MIN_MOVE_FEEDBACK,
    Band,
    Pair,
    ThresholdMove,
    WeekDrift,
    accuracy,
    bands,
    brier_score,
    expected_calibration_error,
    mean_confidence,
    tune_thresholds,
    weekly_drift,
)
from use_cases.confidence.domain import (
    CALIBRATION_METHODS,
    CalibrationFit,
    CalibrationMethod,
    ScoredResponse,
    StoredCalibration,
)
from use_cases.confidence.estimator import (
    DEFAULT_PHRASES,
    DEFAULT_THRESHOLDS,
    PHRASES,
    PhraseThresholds,
    phrase_promises,
)
from use_cases.confidence.ports import CalibrationStore, ResponseLog
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import Conflict, InvalidRequest

MAX_DAYS_BACK = 365
CONFIDENCE_TUNE = "confidence.tune"
CONFIDENCE_RECALIBRATE = "confidence.recalibrate"
SPLIT_SEED = 20261124


@dataclass(frozen=True)
class Window:
    days_back: int
    scope: str  # "all" | "own"
    items: list[ScoredResponse]

    @property
    def judged(self) -> list[ScoredResponse]:
        return [r for r in self.items if r.outcome is not None]

    @property
    def pairs(self) -> list[Pair]:
        return [(r.confidence, bool(r.outcome)) for r in self.judged]

    @property
    def raw_pairs(self) -> list[Pair]:
        return [(r.raw_confidence, bool(r.outcome)) for r in self.judged]

    def message(self) -> str | None:
        span = f"the last {self.days_back} day{'s' if self.days_back != 1 else ''}"
        if not self.items:
            return f"No responses in {span}."
        if not self.judged:
            return f"No feedback in {span}: accuracy, Brier score and ECE need feedback."
        return None


def check_days_back(days_back: int) -> None:
    if not 1 <= days_back <= MAX_DAYS_BACK:
        raise InvalidRequest(f"days_back must be between 1 and {MAX_DAYS_BACK}.")


class _Analytics:
    def __init__(self, log: ResponseLog, clock: Clock) -> None:
        self._log = log
        self._clock = clock

    def window(self, caller: Caller | None, days_back: int) -> Window:
        """`caller` None: everyone's (the CLI, tuning)."""
        check_days_back(days_back)
        since = utc(self._clock.now()) - timedelta(days=days_back)
        own_id = caller.user_id if caller is not None and not caller.is_admin else None
        own = own_id is not None
        items = self._log.scored(since=since, user_id=own_id)
        return Window(days_back, "own" if own else "all", items)


@dataclass(frozen=True)
class ConfidenceStats:
    days_back: int
    scope: str
    total_responses: int
    with_feedback: int
    positive: int
    negative: int
    average_confidence: float | None
    observed_accuracy: float | None
    brier_score: float | None
    bands: list[Band]
    message: str | None


class GetConfidenceStats(_Analytics):
    """Totals, feedback counts, average confidence, Brier score and the ten bands."""

    def stats(self, caller: Caller | None, days_back: int = 7) -> ConfidenceStats:
        window = self.window(caller, days_back)
        pairs = window.pairs
        positive = sum(o for _, o in pairs)
        return ConfidenceStats(
            days_back=days_back,
            scope=window.scope,
            total_responses=len(window.items),
            with_feedback=len(pairs),
            positive=positive,
            negative=len(pairs) - positive,
            average_confidence=mean_confidence([r.confidence for r in window.items]),
            observed_accuracy=accuracy(pairs),
            brier_score=brier_score(pairs),
            bands=bands(pairs, [r.confidence for r in window.items]),
            message=window.message(),
        )

    async def execute(self, caller: Caller, days_back: int = 7) -> ConfidenceStats:
        return await asyncio.to_thread(self.stats, caller, days_back)


def diagram_bins(band_list: list[Band]) -> list[DiagramBin]:
    return [
        DiagramBin(b.lower, b.upper, b.mean_confidence, b.observed_accuracy, b.with_feedback)
        for b in band_list
        if b.mean_confidence is not None and b.observed_accuracy is not None
    ]


@dataclass(frozen=True)
class BrierReport:
    days_back: int
    scope: str
    brier_score: float | None
    total: int
    calibration_curve: list[DiagramBin]
    message: str | None


class GetBrierScore(_Analytics):
    """The Brier score of the window and its calibration curve (the bands with feedback)."""

    def report(self, caller: Caller | None, days_back: int = 7) -> BrierReport:
        window = self.window(caller, days_back)
        pairs = window.pairs
        return BrierReport(
            days_back=days_back,
            scope=window.scope,
            brier_score=brier_score(pairs),
            total=len(pairs),
            calibration_curve=diagram_bins(bands(pairs)),
            message=window.message(),
        )

    async def execute(self, caller: Caller, days_back: int = 7) -> BrierReport:
        return await asyncio.to_thread(self.report, caller, days_back)


@dataclass(frozen=True)
class CalibrationReport:
    days_back: int
    scope: str
    responses_with_feedback: int
    average_confidence: float | None
    observed_accuracy: float | None
    overconfidence: float | None
    """Average confidence minus observed accuracy: > 0 claims too much, < 0 too little."""
    ece: float | None
    raw_ece: float | None
    tolerance: float
    bands: list[Band]
    drift: list[WeekDrift]
    message: str | None


class GetCalibrationReport(_Analytics):
    """Confidence against observed accuracy: ECE, bands with `is_calibrated`, weekly drift."""

    def report(self, caller: Caller | None, days_back: int = 30) -> CalibrationReport:
        window = self.window(caller, days_back)
        pairs = window.pairs
        average = mean_confidence([c for c, _ in pairs])
        observed = accuracy(pairs)
        return CalibrationReport(
            days_back=days_back,
            scope=window.scope,
            responses_with_feedback=len(pairs),
            average_confidence=average,
            observed_accuracy=observed,
            overconfidence=None
            if average is None or observed is None
            else round(average - observed, 4),
            ece=expected_calibration_error(pairs),
            raw_ece=expected_calibration_error(window.raw_pairs),
            tolerance=DEFAULT_TOLERANCE,
            bands=bands(pairs, [r.confidence for r in window.items]),
            drift=weekly_drift(
                (r.created_at, r.confidence, bool(r.outcome)) for r in window.judged
            ),
            message=window.message(),
        )

    async def execute(self, caller: Caller, days_back: int = 30) -> CalibrationReport:
        return await asyncio.to_thread(self.report, caller, days_back)


class DrawReliabilityDiagram(_Analytics):
    """The reliability diagram of the window as an SVG or PNG picture."""

    def __init__(self, log: ResponseLog, clock: Clock, renderer: DiagramRenderer) -> None:
        super().__init__(log, clock)
        self._renderer = renderer

    def draw(self, caller: Caller | None, days_back: int = 30, fmt: str = "svg") -> bytes:
        if fmt not in ("svg", "png"):
            raise InvalidRequest("The diagram format must be svg or png.")
        window = self.window(caller, days_back)
        pairs = window.pairs
        ece = expected_calibration_error(pairs)
        title = f"Reliability, last {days_back} days: {len(pairs)} answers with feedback" + (
            f", ECE {ece:.3f}" if ece is not None else ""
        )
        return self._renderer.render(diagram_bins(bands(pairs)), title=title, fmt=fmt)

    async def execute(self, caller: Caller, days_back: int = 30, fmt: str = "svg") -> bytes:
        return await asyncio.to_thread(self.draw, caller, days_back, fmt)


@dataclass(frozen=True)
class TuneResult:
    days_back: int
    dry_run: bool
    applied: bool
    current: PhraseThresholds
    suggested: tuple[float, ...] | None
    bands: list[Band]
    min_band_feedback: int
    message: str
    moves: tuple[ThresholdMove, ...] = ()
    """Each phrase's bound: where it is, where it would go, and why."""
    min_move_feedback: int = MIN_MOVE_FEEDBACK


def _plan(moves: Sequence[ThresholdMove]) -> str:
    """What tuning does with each phrase, and why, in one sentence."""
    lines = []
    for m in moves:
        if m.action == "keep":
            what = f"keep {m.phrase} at {m.current:.2f}"
        else:
            what = f"{m.action} {m.phrase} from {m.current:.2f} to {m.suggested:.2f}"
        lines.append(f"{what} ({m.reason})")
    return "; ".join(lines) + "."


class AutoTunePhrases(_Analytics):
    """Suggests (and unless a dry run, applies) phrase thresholds from observed accuracy."""

    def __init__(
        self, log: ResponseLog, store: CalibrationStore, clock: Clock, audit: RecordAudit
    ) -> None:
        super().__init__(log, clock)
        self._store = store
        self._audit = audit

    def tune(self, caller: Caller, days_back: int = 7, dry_run: bool = True) -> TuneResult:
        require_admin(caller, "Tuning the confidence phrases")
        window = self.window(None, days_back)
        band_list = bands(window.pairs)
        current = self._store.current_thresholds() or DEFAULT_PHRASES
        found = tune_thresholds(band_list, DEFAULT_THRESHOLDS, current.bounds, PHRASES[1:])
        moves = tuple(found or ())
        suggested = tuple(m.suggested for m in moves) if found is not None else None
        result = TuneResult(
            days_back,
            dry_run,
            False,
            current,
            suggested,
            band_list,
            MIN_BAND_FEEDBACK,
            "",
            moves,
        )
        if suggested is None:
            message = (
                window.message()
                or f"No band has {MIN_BAND_FEEDBACK} or more answers with feedback yet."
            )
            return replace(result, message=message + " The thresholds are unchanged.")
        plan = _plan(moves)
        if suggested == current.bounds:
            return replace(
                result, message=f"The thresholds in force already fit the feedback. {plan}"
            )
        if dry_run:
            return replace(result, message=f"Dry run, nothing was changed; it would {plan}")
        saved = self._store.save_thresholds(suggested, "auto-tune", caller.user_id, self._now())
        self._audit.record(
            caller,
            CONFIDENCE_TUNE,
            "confidence:phrases",
            before={"version": current.version, "thresholds": current.as_dict()},
            after={"version": saved.version, "thresholds": saved.as_dict()},
        )
        return replace(
            result,
            applied=True,
            current=saved,
            message=f"Applied as thresholds version {saved.version}: {plan}",
        )

    async def execute(self, caller: Caller, days_back: int = 7, dry_run: bool = True) -> TuneResult:
        return await asyncio.to_thread(self.tune, caller, days_back, dry_run)

    def _now(self) -> datetime:
        return utc(self._clock.now())


@dataclass(frozen=True)
class RecalibrationStatus:
    method: str
    min_feedback: int
    feedback: int
    auto: bool
    active: StoredCalibration | None
    latest: StoredCalibration | None

    @property
    def next_fit_at(self) -> int:
        base = self.latest.fit.feedback_used if self.latest else 0
        return max(self.min_feedback, base + self.min_feedback)


@dataclass(frozen=True)
class RecalibrationResult:
    stored: StoredCalibration | None
    fit: CalibrationFit
    message: str


@dataclass
class Recalibrate:
    """Fits, measures and stores the recalibration map (see the module rules)."""

    log: ResponseLog
    store: CalibrationStore
    fitter: CalibrationFitter
    clock: Clock
    audit: RecordAudit
    method: CalibrationMethod = "isotonic"
    min_feedback: int = 50
    holdout: float = 0.5
    auto: bool = True
    seed: int = SPLIT_SEED

    def status(self) -> RecalibrationStatus:
        return RecalibrationStatus(
            method=self.method,
            min_feedback=self.min_feedback,
            feedback=self.log.feedback_count(),
            auto=self.auto,
            active=self.store.active_calibration(),
            latest=self.store.latest_calibration(),
        )

    def fit(
        self,
        caller: Caller | None,
        *,
        method: str | None = None,
        dry_run: bool = False,
    ) -> RecalibrationResult:
        """`caller` None: the automatic refit (not audited)."""
        if caller is not None:
            require_admin(caller, "Recalibrating the confidence")
        chosen = method or self.method
        if chosen not in CALIBRATION_METHODS:
            raise InvalidRequest(f"method must be one of {', '.join(CALIBRATION_METHODS)}.")
        samples = [
            (r.raw_confidence, bool(r.outcome)) for r in self.log.scored() if r.outcome is not None
        ]
        if len(samples) < self.min_feedback:
            raise Conflict(
                f"Recalibration needs at least {self.min_feedback} answers with feedback "
                f"(RECALIBRATION_MIN_FEEDBACK); there are {len(samples)}."
            )
        fit = self.evaluate(samples, chosen)  # type: ignore[arg-type]  # chosen is checked against the methods above
        if dry_run:
            return RecalibrationResult(None, fit, "Dry run: nothing was stored.")
        author = caller.user_id if caller is not None else "auto"
        previous = self.store.active_calibration()
        stored = self.store.save_calibration(fit, author, utc(self.clock.now()))
        if caller is not None:
            self.audit.record(
                caller,
                CONFIDENCE_RECALIBRATE,
                "confidence:calibration",
                before=_version_of(previous),
                after=_fit_summary(stored),
            )
        message = (
            f"Recalibration version {stored.version} is active."
            if fit.active
            else f"Recalibration version {stored.version} was stored but not activated: it did "
            "not lower the held-out ECE."
        )
        return RecalibrationResult(stored, fit, message)

    def evaluate(self, samples: list[Pair], method: CalibrationMethod) -> CalibrationFit:
        """Fit on a seeded split, measure on the held-out part, then fit on everything."""
        order = list(range(len(samples)))
        random.Random(self.seed).shuffle(order)
        held = max(1, round(len(samples) * self.holdout))
        heldout = [samples[i] for i in order[:held]]
        train = [samples[i] for i in order[held:]]
        split_map = self.fitter.fit([c for c, _ in train], [o for _, o in train], method)
        mapped = [(split_map.apply(c), o) for c, o in heldout]
        ece_before = expected_calibration_error(heldout)
        ece_after = expected_calibration_error(mapped)
        final = self.fitter.fit([c for c, _ in samples], [o for _, o in samples], method)
        return CalibrationFit(
            map=final,
            feedback_used=len(samples),
            train_size=len(train),
            heldout_size=len(heldout),
            ece_before=ece_before,
            ece_after=ece_after,
            brier_before=brier_score(heldout),
            brier_after=brier_score(mapped),
            active=ece_after is not None and ece_before is not None and ece_after <= ece_before,
        )

    def after_feedback(self) -> None:
        if not self.auto:
            return
        status = self.status()
        if status.feedback >= status.next_fit_at:
            self.fit(None)

    async def execute(
        self, caller: Caller, *, method: str | None = None, dry_run: bool = False
    ) -> RecalibrationResult:
        return await asyncio.to_thread(self.fit, caller, method=method, dry_run=dry_run)


def _version_of(stored: StoredCalibration | None) -> dict[str, Any] | None:
    return None if stored is None else {"version": stored.version, "method": stored.map.method}


def _fit_summary(stored: StoredCalibration) -> dict[str, Any]:
    fit = stored.fit
    return {
        "version": stored.version,
        "method": fit.map.method,
        "active": fit.active,
        "feedback_used": fit.feedback_used,
        "ece_before": fit.ece_before,
        "ece_after": fit.ece_after,
    }


@dataclass(frozen=True)
class PhraseStatus:
    thresholds: PhraseThresholds
    promises: dict[str, float]
    recalibration: RecalibrationStatus


class GetPhraseStatus:
    """The phrase thresholds in force (and their promises) and the recalibration state."""

    def __init__(self, store: CalibrationStore, recalibrate: Recalibrate) -> None:
        self._store = store
        self._recalibrate = recalibrate

    def status(self) -> PhraseStatus:
        thresholds = self._store.current_thresholds() or DEFAULT_PHRASES
        return PhraseStatus(
            thresholds,
            phrase_promises(),
            self._recalibrate.status(),
        )

    async def execute(self, caller: Caller) -> PhraseStatus:
        return await asyncio.to_thread(self.status)
