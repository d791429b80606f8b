"""The response log: every chat answer and advice, its confidence, and the asker's feedback.

Rules:
- A turn is logged once it has produced its answer (`RecordResponse`): a new `response_id` (`resp_`
  + 24 random hex digits), the user, the kind (chat | advice), the question, the answer, the raw
  confidence (the estimator's, `use_cases/confidence/estimator.py`, unless the caller passes one),
  the calibrated confidence (the active recalibration map applied to the raw one; the raw one when
  none is active), its phrase (from the thresholds in force), the model, whether a knowledge-base
  search ran, the latency and the time.
- Feedback (`RecordFeedback`) says whether a response was right. Only the user the response
  was given to may give it; anyone else, admins included, and an unknown id get the same
  `NotFound`, so ids cannot be probed. A second feedback replaces the first, and says so.
  Notes are stripped and at most `MAX_NOTES_CHARS` characters. The same user may withdraw
  their feedback (an undo): the response counts as unrated again.
- With automatic recalibration on, feedback that brings the total to a new multiple of the
  minimum (see `Recalibrate`) refits the map; a failed refit never fails the feedback.
- Each entry records what its answer cited (`LoggedSources`: documents by id, tables by
  name), so a user's list of their logged responses (`ListRecentResponses`) shows an answer
  withheld from them (a source it cited is no longer readable to them,
  `use_cases/chat/withholding.py`) as `WITHHELD_ANSWER`, as their history does, whether it
  was kept in a chat, in an advice thread or in none (the OpenAI-compatible API, MCP `ask`,
  `keep: false`).
- An entry logged before sources were recorded is checked through its chat's stored answers
  (an entry of a chat with a withheld answer whose answer is no longer stored as a message,
  answered again, is withheld too); one kept in no chat cannot be checked, and is withheld
  from a user (not an admin) when a search ran for it.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from loguru import logger

from use_cases.access.domain import Caller
from use_cases.chat.citations import TABLE_TITLE
from use_cases.chat.ports import HistoryStore
from use_cases.chat.prompts import reads_as_not_found
from use_cases.chat.withholding import WITHHELD_ANSWER, StoredAnswers, Withholding
from use_cases.confidence.domain import (
    RESPONSE_KINDS,
    LoggedResponse,
    LoggedSources,
    ResponseKind,
)
from use_cases.confidence.estimator import DEFAULT_PHRASES, estimate_confidence
from use_cases.confidence.ports import CalibrationStore, ResponseLog
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import AlmanacError, InvalidRequest, NotFound

RESPONSE_ID_PREFIX = "resp_"
RESPONSE_ID = re.compile(r"resp_[0-9a-f]{24}")
MAX_NOTES_CHARS = 2000
MAX_RECENT = 100


def new_response_id() -> str:
    return RESPONSE_ID_PREFIX + secrets.token_hex(12)


@dataclass(frozen=True)
class ResponseRecord:
    """What a finished turn logs.

    `cited`: the citations the answer cites; `retrieved`: every citation the turn's tools
    returned (`AgentDeps.citations`); items may be `Citation`s, source dicts or anything with
    `kind` and `score`. `raw_confidence`, when given, is used instead of the estimator (e.g.
    a confidence the advice model was asked for); `model_confidence` is taken as the
    estimate (the offline model reports one). `refused`: a content-filter refusal or a
    withheld answer. `not_found`: the answer is the can't-find answer, as the turn decided it
    (None: recognised from `response_text`, for a kind of turn that decides none).
    """

    user_id: str
    kind: ResponseKind
    query: str
    response_text: str
    model: str
    search_ran: bool
    latency_ms: int
    cited: Sequence[Any] = ()
    retrieved: Sequence[Any] = ()
    refused: bool = False
    not_found: bool | None = None
    raw_confidence: float | None = None
    model_confidence: float | None = None
    invented_citations: int = 0
    """How many [n] the model's answer cited that no tool returned (removed before storing)."""
    chat_id: str | None = None
    message_id: str | None = None


@dataclass(frozen=True)
class Assessment:
    raw_confidence: float
    confidence: float
    confidence_phrase: str
    calibration_version: int | None
    phrase_version: int


@dataclass(frozen=True)
class RecordedResponse:
    response_id: str
    raw_confidence: float
    confidence: float
    confidence_phrase: str
    calibration_version: int | None = None


class RecordResponse:
    """Logs a finished turn and returns its id and calibrated confidence (see module rules).

    `assess` gives the same figures without logging (for a turn that must show its confidence
    before it ends, e.g. streamed advice)."""

    def __init__(
        self,
        log: ResponseLog,
        store: CalibrationStore,
        clock: Clock,
        *,
        score_ceiling: float = 1.0,
    ) -> None:
        self._log = log
        self._store = store
        self._clock = clock
        self._score_ceiling = score_ceiling

    def assess(self, record: ResponseRecord) -> Assessment:
        _validate(record)
        raw = record.raw_confidence
        if raw is None:
            raw = estimate_confidence(
                record.cited,
                record.retrieved,
                not_found=reads_as_not_found(record.response_text)
                if record.not_found is None
                else record.not_found,
                refused=record.refused,
                model_confidence=record.model_confidence,
                invented_citations=record.invented_citations,
                score_ceiling=self._score_ceiling,
            )
        calibration = self._store.active_calibration()
        confidence = calibration.map.apply(raw) if calibration else round(raw, 4)
        thresholds = self._store.current_thresholds() or DEFAULT_PHRASES
        return Assessment(
            raw_confidence=round(raw, 4),
            confidence=confidence,
            confidence_phrase=thresholds.phrase_for(confidence),
            calibration_version=calibration.version if calibration else None,
            phrase_version=thresholds.version,
        )

    def record(self, record: ResponseRecord) -> RecordedResponse:
        """Synchronous: for code already in a worker thread, and the CLI."""
        assessment = self.assess(record)
        response_id = new_response_id()
        self._log.add(
            LoggedResponse(
                response_id=response_id,
                user_id=record.user_id,
                kind=record.kind,
                query=record.query,
                response_text=record.response_text,
                raw_confidence=assessment.raw_confidence,
                confidence=assessment.confidence,
                confidence_phrase=assessment.confidence_phrase,
                model=record.model,
                search_ran=record.search_ran,
                latency_ms=record.latency_ms,
                created_at=utc(self._clock.now()),
                calibration_version=assessment.calibration_version,
                phrase_version=assessment.phrase_version,
                chat_id=record.chat_id,
                message_id=record.message_id,
                sources=logged_sources(record.cited),
            )
        )
        return RecordedResponse(
            response_id,
            assessment.raw_confidence,
            assessment.confidence,
            assessment.confidence_phrase,
            assessment.calibration_version,
        )

    async def execute(self, record: ResponseRecord) -> RecordedResponse:
        return await asyncio.to_thread(self.record, record)


def logged_sources(cited: Sequence[Any]) -> LoggedSources:
    """The documents (by id) and tables (by name, lower case) an answer's cited items name:
    `Citation`s, `Source`s or source dicts, as `ResponseRecord.cited` holds them."""
    documents: set[int] = set()
    tables: set[str] = set()
    for item in cited:
        kind, title = _field(item, "kind"), _field(item, "title")
        document_id = _field(item, "document_id")
        if kind == "document" and isinstance(document_id, int):
            documents.add(document_id)
        elif kind == "table" and isinstance(title, str) and title.startswith(TABLE_TITLE):
            named = title.removeprefix(TABLE_TITLE).split(",")
            tables.update(n.strip().lower() for n in named if n.strip())
    return LoggedSources(tuple(sorted(documents)), tuple(sorted(tables)))


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _validate(record: ResponseRecord) -> None:
    if record.kind not in RESPONSE_KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(RESPONSE_KINDS)}.")
    if not record.user_id:
        raise InvalidRequest("A logged response needs a user.")
    if record.latency_ms < 0:
        raise InvalidRequest("latency_ms must not be negative.")
    if record.raw_confidence is not None and not 0.0 <= record.raw_confidence <= 1.0:
        raise InvalidRequest("raw_confidence must be between 0 and 1.")


@dataclass(frozen=True)
class FeedbackRequest:
    response_id: str
    outcome: bool
    notes: str | None = None


@dataclass(frozen=True)
class FeedbackReceipt:
    response_id: str
    replaced: bool
    withdrawn: bool = False

    @property
    def status(self) -> str:
        if self.withdrawn:
            return "withdrawn"
        return "replaced" if self.replaced else "recorded"

    @property
    def message(self) -> str:
        if self.withdrawn:
            return "Feedback withdrawn; the answer counts as unrated again."
        if self.replaced:
            return "Feedback recorded; it replaces the earlier feedback on this response."
        return "Feedback recorded."


def response_not_found(response_id: str) -> NotFound:
    return NotFound(f"No response {response_id!r} of yours was found.")


class AutoRecalibration(Protocol):
    """What `RecordFeedback` calls after storing feedback: refit when it is due."""

    def after_feedback(self) -> None: ...


class RecordFeedback:
    """Stores the asker's verdict on a response (see the module rules)."""

    def __init__(
        self, log: ResponseLog, clock: Clock, *, recalibration: AutoRecalibration | None = None
    ) -> None:
        self._log = log
        self._clock = clock
        self._recalibration = recalibration

    def record(self, user_id: str, request: FeedbackRequest) -> FeedbackReceipt:
        notes = (request.notes or "").strip() or None
        if notes is not None and len(notes) > MAX_NOTES_CHARS:
            raise InvalidRequest(
                f"feedback_notes is {len(notes):,} characters long; the limit is "
                f"{MAX_NOTES_CHARS:,}."
            )
        response_id = request.response_id.strip()
        found = self._log.get(response_id) if RESPONSE_ID.fullmatch(response_id) else None
        if found is None or found.user_id != user_id:
            raise response_not_found(response_id)
        replaced = self._log.put_feedback(
            response_id, request.outcome, notes, utc(self._clock.now())
        )
        self._after_change()
        return FeedbackReceipt(response_id, replaced)

    def withdraw(self, user_id: str, response_id: str) -> FeedbackReceipt:
        """Remove the caller's verdict on one of their responses (an undo): the response
        counts as unrated again. NotFound for another's response or one without feedback."""
        response_id = response_id.strip()
        found = self._log.get(response_id) if RESPONSE_ID.fullmatch(response_id) else None
        if found is None or found.user_id != user_id:
            raise response_not_found(response_id)
        if not self._log.remove_feedback(response_id):
            raise NotFound(f"Response {response_id!r} has no feedback to withdraw.")
        self._after_change()
        return FeedbackReceipt(response_id, replaced=False, withdrawn=True)

    def _after_change(self) -> None:
        if self._recalibration is None:
            return
        try:
            self._recalibration.after_feedback()
        except AlmanacError as exc:  # a refit that cannot run now waits for more feedback
            logger.info("Automatic recalibration skipped: {}", exc.detail)
        except Exception:
            logger.exception("Automatic recalibration failed; the feedback is stored")

    async def execute(self, caller: Caller, request: FeedbackRequest) -> FeedbackReceipt:
        return await asyncio.to_thread(self.record, caller.user_id, request)

    async def execute_withdraw(self, caller: Caller, response_id: str) -> FeedbackReceipt:
        return await asyncio.to_thread(self.withdraw, caller.user_id, response_id)


class ListRecentResponses:
    """The newest logged responses: the caller's own, or everyone's for an admin."""

    def __init__(
        self,
        log: ResponseLog,
        history: HistoryStore | None = None,
        answers: StoredAnswers | None = None,
    ) -> None:
        self._log = log
        self._history = history
        self._answers = answers or StoredAnswers()

    def list(self, caller: Caller, limit: int = 20) -> list[LoggedResponse]:
        if not 1 <= limit <= MAX_RECENT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_RECENT}.")
        recent = self._log.recent(limit=limit, user_id=None if caller.is_admin else caller.user_id)
        shown = self._answers.of(caller)
        if not shown.restricted or not recent:
            return recent
        unrecorded = self._unrecorded_withheld(caller, shown, recent)
        return [
            replace(r, response_text=WITHHELD_ANSWER)
            if r.response_id in unrecorded
            or (r.sources is not None and shown.hides(r.sources.documents, r.sources.tables))
            else r
            for r in recent
        ]

    def _unrecorded_withheld(
        self, caller: Caller, shown: Withholding, recent: Sequence[LoggedResponse]
    ) -> set[str]:
        """The entries logged before the log recorded sources that are withheld: one of a
        chat is checked through the chat's stored answers; one kept in no chat (an advice, the
        OpenAI-compatible API, MCP `ask`, `keep: false`) cannot be checked, and is withheld
        when a search ran for it (it may quote any document the search read) and a collection
        exists that the reader may not read."""
        old = [r for r in recent if r.sources is None]
        unchecked = [r for r in old if r.chat_id is None and r.search_ran]
        withheld = (
            {r.response_id for r in unchecked}
            if unchecked and self._answers.misses_a_collection(caller)
            else set()
        )
        if self._history is None or not any(r.chat_id is not None for r in old):
            return withheld
        cited = self._history.cited_answers(caller.user_id)
        answers = shown.withheld(cited)
        # An answer answered again is logged under an id no message has now: in a chat with
        # a withheld answer or version, such an entry is withheld too.
        stored = {a.message_id for a in cited if not a.earlier}
        risky = {a.chat_id for a in cited if a.message_id in answers}
        return withheld | {
            r.response_id
            for r in old
            if r.chat_id is not None
            and (r.message_id in answers or (r.chat_id in risky and r.message_id not in stored))
        }

    async def execute(self, caller: Caller, limit: int = 20) -> builtins.list[LoggedResponse]:
        return await asyncio.to_thread(self.list, caller, limit)
