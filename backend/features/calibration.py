"""Calibration: the response log's feedback, confidence analytics, phrase tuning and
recalibration (`use_cases/calibration`)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import CalibrationSettings
from backend.features.access import AccessUseCases
from backend.features.adapters import Wiring
from backend.features.chat import ChatUseCases
from backend.features.evaluation import EvaluationUseCases
from services.calibration import NumpyCalibrationFitter, SvgDiagramRenderer
from use_cases.calibration.analytics import (
    AutoTunePhrases,
    DrawReliabilityDiagram,
    GetBrierScore,
    GetCalibrationReport,
    GetConfidenceStats,
    GetPhraseStatus,
    Recalibrate,
)
from use_cases.chat.responses import ListRecentResponses, RecordFeedback, RecordResponse
from use_cases.evaluation.seed_calibration import SeedCalibrationFromEval


@dataclass(frozen=True)
class CalibrationUseCases:
    """Everything the routes and the CLI call for the response log and calibration."""

    record_response: RecordResponse
    """What a chat or advice turn calls once it has its answer (see `RecordResponse`)."""
    feedback: RecordFeedback
    recent: ListRecentResponses
    stats: GetConfidenceStats
    brier: GetBrierScore
    calibration: GetCalibrationReport
    diagram: DrawReliabilityDiagram
    auto_tune: AutoTunePhrases
    phrase_status: GetPhraseStatus
    recalibrate: Recalibrate
    seed_from_eval: SeedCalibrationFromEval


def build(
    w: Wiring,
    access: AccessUseCases,
    chat: ChatUseCases,
    evaluation: EvaluationUseCases,
    settings: CalibrationSettings,
) -> CalibrationUseCases:
    """The calibration use cases on the response log that chat turns already write to."""
    a, clock = w.adapters, w.clock
    log, store = a.response_log, a.calibration_store
    recalibrate = Recalibrate(
        log,
        store,
        NumpyCalibrationFitter(),
        clock,
        access.audit,
        method=settings.method,
        min_feedback=settings.min_feedback,
        holdout=settings.holdout,
        auto=settings.auto,
    )
    record = chat.record_response
    return CalibrationUseCases(
        record_response=record,
        feedback=RecordFeedback(log, clock, recalibration=recalibrate),
        recent=ListRecentResponses(log, w.adapters.history, w.stored_answers()),
        stats=GetConfidenceStats(log, clock),
        brier=GetBrierScore(log, clock),
        calibration=GetCalibrationReport(log, clock),
        diagram=DrawReliabilityDiagram(log, clock, SvgDiagramRenderer()),
        auto_tune=AutoTunePhrases(log, store, clock, access.audit),
        phrase_status=GetPhraseStatus(store, recalibrate),
        recalibrate=recalibrate,
        seed_from_eval=SeedCalibrationFromEval(
            evaluation.evaluate_answers, record, log, recalibrate, clock
        ),
    )
