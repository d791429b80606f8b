"""The calibration use cases together, and seeding the log from the answer evaluation.

`SeedCalibrationFromEval` runs the answer-evaluation cases through the real chat (the
`EvaluateAnswers` use case) and logs each answered case as a response of user `almanac-eval`,
with the estimator's confidence for that turn and the case's correctness as its feedback, so
the calibration figures are real figures of the model evaluated. Rules:
- The evaluation user's earlier log entries are deleted first: seeding twice does not count
  the same cases twice. Cases whose turn failed are not logged.
- The confidence is estimated from the turn's cited sources (the turn result does not carry
  the passages retrieved but not cited, so the estimator's focus term is 1 here).
- Afterwards, if there is enough feedback, the map is refitted (an admin's action: the CLI's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from use_cases.agent import SEARCH_TOOL
from use_cases.auth_domain import Caller, utc
from use_cases.calibration import (
    AutoTunePhrases,
    DrawReliabilityDiagram,
    GetBrierScore,
    GetCalibrationReport,
    GetConfidenceStats,
    GetPhraseStatus,
    Recalibrate,
    RecalibrationResult,
)
from use_cases.calibration_stats import brier_score, expected_calibration_error
from use_cases.chat import ChatResult
from use_cases.errors import Conflict
from use_cases.evaluation import (
    EVAL_USER,
    AnswerCase,
    AnswerReport,
    CaseResult,
    EvaluateAnswers,
    EvaluateAnswersRequest,
)
from use_cases.ports import Clock, ResponseLog
from use_cases.response_log import (
    ListRecentResponses,
    RecordFeedback,
    RecordResponse,
    ResponseRecord,
)


@dataclass(frozen=True)
class SeedReport:
    evaluation: AnswerReport
    logged: int
    raw_ece: float | None
    raw_brier: float | None
    recalibration: RecalibrationResult | None
    recalibration_skipped: str | None


@dataclass
class SeedCalibrationFromEval:
    evaluate: EvaluateAnswers
    record: RecordResponse
    log: ResponseLog
    recalibrate: Recalibrate
    clock: Clock
    user_id: str = EVAL_USER

    async def execute(self, caller: Caller, request: EvaluateAnswersRequest) -> SeedReport:
        turns: list[tuple[AnswerCase, ChatResult, CaseResult]] = []
        # Chat turns log themselves (as the evaluation user): start from an empty log.
        await asyncio.to_thread(self.log.forget_user, self.user_id)

        def keep(case: AnswerCase, turn: ChatResult | None, scored: CaseResult) -> None:
            if turn is not None:
                turns.append((case, turn, scored))

        evaluation = await self.evaluate.execute(
            EvaluateAnswersRequest(
                request.cases,
                split=request.split,
                model=request.model,
                on_case=request.on_case,
                on_turn=keep,
            )
        )
        pairs = await asyncio.to_thread(self._log_turns, turns)
        recalibration, skipped = None, None
        try:
            recalibration = await self.recalibrate.execute(caller)
        except Conflict as exc:
            skipped = exc.detail
        return SeedReport(
            evaluation,
            len(pairs),
            expected_calibration_error(pairs),
            brier_score(pairs),
            recalibration,
            skipped,
        )

    def _log_turns(
        self, turns: list[tuple[AnswerCase, ChatResult, CaseResult]]
    ) -> list[tuple[float, bool]]:
        pairs = []
        for case, turn, scored in turns:
            logged = self.log.get(turn.response_id) if turn.response_id else None
            if logged is not None:
                # The turn logged itself with the confidence a user saw: give it the feedback.
                self.log.put_feedback(
                    logged.response_id,
                    scored.correct,
                    f"answer evaluation case {case.id}",
                    utc(self.clock.now()),
                )
                pairs.append((logged.raw_confidence, scored.correct))
                continue
            recorded = self.record.record(
                ResponseRecord(
                    user_id=self.user_id,
                    kind="chat",
                    query=case.question,
                    response_text=turn.answer,
                    model=turn.model,
                    search_ran=any(_tool_name(call) == SEARCH_TOOL for call in turn.tool_calls),
                    latency_ms=turn.latency_ms,
                    cited=turn.sources,
                    refused=turn.refused,
                    chat_id=turn.chat_id,
                    message_id=turn.message_id,
                )
            )
            self.log.put_feedback(
                recorded.response_id,
                scored.correct,
                f"answer evaluation case {case.id}",
                utc(self.clock.now()),
            )
            pairs.append((recorded.raw_confidence, scored.correct))
        return pairs


def _tool_name(call: object) -> str | None:
    if isinstance(call, dict):
        return call.get("name")
    return getattr(call, "name", None)


@dataclass
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
    closers: tuple[Callable[[], None], ...] = field(default=(), repr=False)

    def close(self) -> None:
        for close in self.closers:
            close()
