"""Answer evaluation: run a set of questions through the real chat use case and score them.

Rules:
- Cases are `eval_domain.EvalCase`s, validated when parsed (`eval_domain.parse_dataset`): an
  error names the line and the field.
- Every case runs in a fresh chat of its own; a follow-up first replays its `history`
  questions in that chat, so the conversation is exactly what a user would have had. The
  evaluation's chats are deleted afterwards: evaluating leaves no history behind.
- **correct**: for a case that must be refused, the answer is the can't-find answer; for any
  other case, one of `expect_any` occurs in the answer (case-insensitive; the Sources block is
  excluded; a number must match as a whole number, so "4 hours" does not match "24 hours",
  while "478" matches "478.0pt"; typographic quotes match straight ones: "shouldn’t" as
  quoted from a document is "shouldn't").
- **cited**: one of `expect_sources` is among the answer's cited sources (document paths match
  by their trailing path components; `table:NAME` matches a lookup of table NAME).
- **refusal accuracy**: the share of cases where the answer refuses exactly when it should.
- Latency is the chat turn's own figure (the last turn of a follow-up), as p50 and p95.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from use_cases.access.domain import Caller
from use_cases.calibration import stats
from use_cases.chat.chat_turns import ChatRequest, ChatResult, ChatTurns
from use_cases.chat.citations import CITATION_MARKER, TABLE_CITATION_MARKER
from use_cases.chat.domain import Source
from use_cases.chat.manage_chats import ManageChats
from use_cases.chat.prompts import NOT_FOUND_ANSWER
from use_cases.confidence.estimator import DEFAULT_PHRASES, PHRASES
from use_cases.evaluation.domain import KINDS, EvalCase, parse_dataset
from use_cases.shared.errors import AlmanacError, InvalidRequest

EVAL_USER = "almanac-eval"
_SOURCES_BLOCK = re.compile(r"\n\s*(?:\*\*Sources\*\*|Sources:|#+\s*Sources)\s*\n", re.IGNORECASE)


#: The answer evaluation's case is the evaluation dataset's case: one type, one parser.
AnswerCase = EvalCase


def parse_cases(lines: Iterable[str], *, origin: str = "cases") -> list[AnswerCase]:
    """Cases from JSONL text; raises `InvalidRequest` naming the line and field at fault."""
    return parse_dataset("\n".join(lines), fmt="jsonl", origin=origin)


# --- scoring ----------------------------------------------------------------------------------


def answer_body(answer: str) -> str:
    """The answer without its trailing Sources block."""
    match = _SOURCES_BLOCK.search(answer)
    return answer[: match.start()] if match else answer


def is_refusal(answer: str) -> bool:
    return answer.strip().startswith(NOT_FOUND_ANSWER)


def fact_pattern(fact: str) -> re.Pattern[str]:
    """A fact as a case-insensitive pattern; numbers at its edges must be whole numbers, and
    a number it ends with may be written with a zero decimal part ("478" is "478.0pt")."""
    body = r"\s+".join(re.escape(part) for part in fact.split())
    if fact[:1].isdigit():
        body = r"(?<![\d])(?<!\d[.,])" + body
    if fact[-1:].isdigit():
        body += r"(?![\d])(?!,\d)(?!\.0*[1-9])"
    return re.compile(body, re.IGNORECASE)


#: Typographic quotes and apostrophes, read as the straight ones people type.
_STRAIGHT = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def matches_fact(answer: str, facts: Sequence[str]) -> bool:
    """Whether one of `facts` is in the answer body; citation markers ("[4]", "[table: x]")
    are not part of it, so "[4]" never counts as the number 4. Quotes compare straight."""
    unmarked = TABLE_CITATION_MARKER.sub(" ", CITATION_MARKER.sub(" ", answer_body(answer)))
    return mentions_fact(unmarked, facts)


def mentions_fact(text: str, facts: Sequence[str]) -> bool:
    """Whether one of `facts` is anywhere in `text`, as `matches_fact` finds it in an
    answer (quotes compare straight)."""
    body = text.translate(_STRAIGHT)
    return any(fact_pattern(f.translate(_STRAIGHT)).search(body) for f in facts)


def _source_matches(expected: str, source: Source) -> bool:
    if expected.startswith("table:"):
        name = expected.split(":", 1)[1].strip().lower()
        title = source.title.lower()
        tables = {t.strip() for t in title.removeprefix("table:").split(",")}
        return source.kind == "table" and name in tables
    path = source.source.replace("\\", "/")
    expected = expected.strip("/")
    return path == expected or path.endswith("/" + expected)


def cites_expected(case: AnswerCase, sources: Sequence[Source]) -> bool:
    return any(_source_matches(e, s) for e in case.expect_sources for s in sources)


@dataclass(frozen=True)
class CaseResult:
    id: str
    kind: str
    question: str
    answer: str
    correct: bool
    refused: bool
    must_refuse: bool
    cited: bool | None  # None when the case names no source
    latency_ms: int
    sources: tuple[str, ...] = ()
    error: str | None = None
    confidence: float | None = None


def score_case(case: AnswerCase, result: ChatResult) -> CaseResult:
    refused = is_refusal(result.answer)
    if case.must_refuse:
        correct = refused
    else:
        correct = not refused and matches_fact(result.answer, case.expect_any)
    cited = cites_expected(case, result.cited) if case.expect_sources else None
    return CaseResult(
        id=case.id,
        kind=case.kind,
        question=case.question,
        answer=result.answer,
        correct=correct,
        refused=refused,
        must_refuse=case.must_refuse,
        cited=cited,
        latency_ms=result.latency_ms,
        sources=tuple(s.title or s.source for s in result.cited),
        confidence=result.confidence,
    )


# --- the report ---------------------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _percentile(values: Sequence[int], q: float) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


@dataclass(frozen=True)
class KindSummary:
    cases: int
    correct: int
    accuracy: float | None
    cited: float | None


@dataclass(frozen=True)
class LabelSummary:
    """The answered (not refused) cases shown with one confidence phrase: how many, their share
    of the answered cases, and how many of them were right (`precision`: right / answered)."""

    answered: int
    correct: int
    share: float | None
    precision: float | None


def by_label(results: Sequence[CaseResult]) -> dict[str, LabelSummary]:
    """Each phrase, "very low" to "very high", with the answered cases it labels (phrases that
    label none included: a report says "none" rather than leaving a level out)."""
    answered = [r for r in results if not r.refused and r.confidence is not None]
    summaries = {}
    for phrase in PHRASES:
        items = [r for r in answered if DEFAULT_PHRASES.phrase_for(r.confidence or 0.0) == phrase]
        right = sum(r.correct for r in items)
        summaries[phrase] = LabelSummary(
            answered=len(items),
            correct=right,
            share=_rate(len(items), len(answered)),
            precision=_rate(right, len(items)),
        )
    return summaries


@dataclass(frozen=True)
class AnswerReport:
    """Aggregates of one evaluation. `cited` is over answered cases that name a document
    source (kb and recency); `refusal_accuracy` is over all cases."""

    split: str
    model: str
    cases: int
    correct: int
    accuracy: float | None
    cited: float | None
    refusal_accuracy: float | None
    latency_p50_ms: int
    latency_p95_ms: int
    by_kind: dict[str, KindSummary]
    results: list[CaseResult] = field(default_factory=list)
    #: How well confidence separates right answers from wrong ones (refusals are scored by
    #: `refusal_accuracy`, not here); None without both.
    auroc: float | None = None
    #: Expected calibration error of the confidence over every case that reports one.
    ece: float | None = None
    #: Per confidence phrase (the default thresholds), the answered cases shown with it.
    by_label: dict[str, LabelSummary] = field(default_factory=dict)

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.correct]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failures"] = [r.id for r in self.failures]
        return data


def summarise(split: str, model: str, results: Sequence[CaseResult]) -> AnswerReport:
    def kind_summary(items: Sequence[CaseResult]) -> KindSummary:
        correct = sum(r.correct for r in items)
        answered = [r for r in items if r.cited is not None and not r.refused]
        return KindSummary(
            cases=len(items),
            correct=correct,
            accuracy=_rate(correct, len(items)),
            cited=_rate(sum(bool(r.cited) for r in answered), len(answered)),
        )

    by_kind = {
        kind: kind_summary([r for r in results if r.kind == kind])
        for kind in KINDS
        if any(r.kind == kind for r in results)
    }
    citable = [
        r for r in results if r.kind in ("kb", "recency") and not r.refused and r.cited is not None
    ]
    latencies = [r.latency_ms for r in results if r.error is None]
    correct = sum(r.correct for r in results)
    return AnswerReport(
        split=split,
        model=model,
        cases=len(results),
        correct=correct,
        accuracy=_rate(correct, len(results)),
        cited=_rate(sum(bool(r.cited) for r in citable), len(citable)),
        refusal_accuracy=_rate(sum(r.refused == r.must_refuse for r in results), len(results)),
        latency_p50_ms=_percentile(latencies, 0.5),
        latency_p95_ms=_percentile(latencies, 0.95),
        by_kind=by_kind,
        results=list(results),
        auroc=stats.auroc(
            [
                (r.confidence, r.correct)
                for r in results
                if not r.refused and r.confidence is not None
            ]
        ),
        ece=stats.expected_calibration_error(
            [(r.confidence, r.correct) for r in results if r.confidence is not None]
        ),
        by_label=by_label(results),
    )


# --- the use case -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluateAnswersRequest:
    cases: Sequence[AnswerCase]
    split: str = "all"
    model: str | None = None
    on_case: Callable[[CaseResult], None] | None = None
    on_turn: Callable[[AnswerCase, ChatResult | None, CaseResult], None] | None = None
    """Called with each case, its chat turn (None when the turn failed) and its score."""
    reader: Caller | None = None
    """Who started the evaluation: its turns read what they may (an admin: everything).
    None: the evaluation user's own rights (the default collection and its grants)."""


class EvaluateAnswers:
    """Runs each case through the chat use case and scores the answers.

    A case whose turn fails (an upstream error) counts as incorrect with the error recorded;
    the evaluation goes on. A model that may not be used fails the run before any case runs.
    The evaluation's chats (its own user's) are deleted when it ends, however it ends.
    """

    def __init__(self, chat: ChatTurns, chats: ManageChats, *, user_id: str = EVAL_USER):
        self._chat = chat
        self._chats = chats
        self._user_id = user_id

    def check(self, request: EvaluateAnswersRequest) -> str:
        """The identifier of the model the cases will run on, or `InvalidRequest` for a
        request that cannot run (no cases, a model that may not be used)."""
        if not request.cases:
            raise InvalidRequest("There are no cases to evaluate.")
        return self._chat.model_identifier(request.model)

    async def execute(self, request: EvaluateAnswersRequest) -> AnswerReport:
        model_identifier = self.check(request)
        results: list[CaseResult] = []
        try:
            for case in request.cases:
                turn, scored = await self._score(case, request.model, request.reader)
                results.append(scored)
                if request.on_turn is not None:
                    request.on_turn(case, turn, scored)
                if request.on_case is not None:
                    request.on_case(scored)
        finally:
            await self._forget_chats()
        return summarise(request.split, model_identifier, results)

    async def _score(
        self, case: AnswerCase, model: str | None, reader: Caller | None
    ) -> tuple[ChatResult | None, CaseResult]:
        chat_id: str | None = None
        try:
            for previous in case.history:
                turn = await self._chat.execute(
                    ChatRequest(self._user_id, previous, chat_id, model, reads_as=reader)
                )
                chat_id = turn.chat_id
            result = await self._chat.execute(
                ChatRequest(self._user_id, case.question, chat_id, model, reads_as=reader)
            )
        except AlmanacError as exc:
            return None, CaseResult(
                id=case.id,
                kind=case.kind,
                question=case.question,
                answer="",
                correct=False,
                refused=False,
                must_refuse=case.must_refuse,
                cited=False if case.expect_sources else None,
                latency_ms=0,
                error=exc.detail,
            )
        return result, score_case(case, result)

    async def _forget_chats(self) -> None:
        while chats := await self._chats.list(self._user_id, limit=200):
            for chat in chats:
                await self._chats.delete(self._user_id, chat.id)
