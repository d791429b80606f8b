"""Seeding the response log and the calibration from the answer evaluation.

`SeedCalibrationFromEval` runs the answer-evaluation cases through the real chat (the
`EvaluateAnswers` use case) and logs each answered case as a response of user `almanac-eval`,
with the estimator's confidence for that turn and the case's correctness as its feedback, so
the calibration figures are real figures of the model evaluated. Rules:
- An admin's action; the caller and the request (cases, model) are checked before anything
  is deleted or logged.
- The evaluation user's earlier log entries are deleted first: seeding twice does not count
  the same cases twice. Cases whose turn failed are not logged.
- The confidence is estimated from the turn's cited sources (the turn result does not carry
  the passages retrieved but not cited, so the estimator's focus term is 1 here).
- Afterwards, if there is enough feedback, the map is refitted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from use_cases.access.domain import Caller, require_admin
from use_cases.calibration.analytics import Recalibrate, RecalibrationResult
from use_cases.calibration.stats import brier_score, expected_calibration_error
from use_cases.chat.chat_turns import ChatResult
from use_cases.chat.prompts import SEARCH_TOOL
from use_cases.chat.responses import RecordResponse, ResponseRecord
from use_cases.confidence.ports import ResponseLog
from use_cases.evaluation.answers import (
    EVAL_USER,
    AnswerCase,
    AnswerReport,
    CaseResult,
    EvaluateAnswers,
    EvaluateAnswersRequest,
)
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import Conflict


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
        # Refused before anything is forgotten or logged.
        require_admin(caller, "Seeding the calibration from an evaluation")
        self.evaluate.check(request)
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
                reader=caller,  # logged as the evaluation user, read as its starter
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
                    cited=turn.cited,
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
