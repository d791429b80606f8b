"""The evaluation interactors on in-memory fakes: `EvaluateAnswers` (answers.py), `ItemExecutor`
(engine.py), `SeedCalibrationFromEval` (seed_calibration.py), `RenderRunReport` (report.py) and
`ListRunnableModels` (runs.py).

The chat turn is a scripted `ScriptedChat` (what the evaluation asks of `ChatTurns`: a
question in, a `ChatResult` out) whose chats live in an `InMemoryHistoryStore`, so the real
`ManageChats` lists and deletes them; search, SQL, the response log, the calibration store and
the run stores are the shared fakes of tests/fakes. Time never passes: sleeps and the monotonic
clock are `FakeTime`'s. No SQLite, model or HTTP. Every figure is computed by hand from the
definitions in use_cases/evaluation/answers.py, metrics.py and use_cases/calibration/stats.py.
The real stack runs the same use cases in tests/integration/test_answer_eval.py,
test_eval_run_engine.py and test_eval_report.py.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import FixedClock
from tests.fakes import (
    FakeModelResolver,
    InMemoryAuditLog,
    InMemoryCalibrationStore,
    InMemoryHistoryStore,
    InMemoryJobQueue,
    InMemoryPromptStore,
    InMemoryResponseLog,
    InMemoryRetriever,
    InMemorySqlRunner,
    SteppingClock,
    search_hit,
)
from tests.fakes.evaluation import InMemoryDatasetStore, InMemoryRunStore
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import CLI_ADMIN, Caller
from use_cases.calibration.analytics import Recalibrate
from use_cases.chat.chat_turns import ChatRequest, ChatResult
from use_cases.chat.domain import Source, TokenUsage, ToolCall
from use_cases.chat.manage_chats import ManageChats
from use_cases.chat.prompts import NOT_FOUND_ANSWER, SEARCH_TOOL, SQL_TOOL
from use_cases.chat.responses import RecordResponse, ResponseRecord
from use_cases.confidence.domain import FittedMap
from use_cases.evaluation.answers import (
    EVAL_USER,
    CaseResult,
    EvaluateAnswers,
    EvaluateAnswersRequest,
    KindSummary,
)
from use_cases.evaluation.assertions import AssertionSpec
from use_cases.evaluation.datasets import DatasetUpload, ManageDatasets
from use_cases.evaluation.domain import CaseOutcome, EvalCase
from use_cases.evaluation.engine import (
    Item,
    ItemContext,
    ItemExecutor,
    ProviderRateLimits,
    RetryPolicy,
)
from use_cases.evaluation.metrics import score_case
from use_cases.evaluation.report import RenderRunReport
from use_cases.evaluation.run_domain import RunRecord, RunSettings
from use_cases.evaluation.runs import BenchmarkRuns, ListRunnableModels, RunnableModel
from use_cases.evaluation.seed_calibration import SeedCalibrationFromEval
from use_cases.knowledge.search import SearchKnowledgeBase
from use_cases.prompts.ports import ResolvedModel
from use_cases.shared.errors import (
    ConfigurationError,
    Forbidden,
    InvalidRequest,
    NotFound,
    UpstreamBadResponse,
    UpstreamUnavailable,
)
from use_cases.shared.sampling import Sampling
from use_cases.tables.domain import QueryResult
from use_cases.tables.tables import RunSql

ADMIN = Caller("root", "admin", "key_root")
ANA = Caller("ana", "user", "key_ana")

SEV1 = "What is the SEV1 acknowledgement time?"
SEV1_ANSWER = "Acknowledge a SEV1 within 5 minutes [1].\n\n**Sources**\n[1] Incident response"


def doc(title: str, path: str, *, score: float | None = 0.5, number: int = 1) -> Source:
    return Source(number, "document", title, path, score=score)


INCIDENTS = doc("Incident response", "kb/policies/incident-response.md")
ON_CALL = doc("On call", "kb/policies/on-call.md")
STAFF_TABLE = Source(1, "table", "table: staff", "staff")


# --- fakes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What one scripted turn answers."""

    answer: str
    sources: tuple[Source, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    latency_ms: int = 10
    confidence: float | None = None
    confidence_raw: float | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    refused: bool = False


Scripted = Reply | Exception


class ScriptedChat:
    """What the evaluation asks of `ChatTurns`: `model_identifier` (through a
    `FakeModelResolver`) and `execute`. Each question answers from the script (a list is
    answered in order, its last entry for ever after; an exception is raised). Like the real
    turn, the chat is stored before the model answers, so a failed turn leaves its chat. With a
    `recorder`, each answered turn logs itself (raw confidence: the reply's `confidence_raw`)
    and carries its `response_id`, as the real turn does with a response log."""

    def __init__(
        self,
        history: InMemoryHistoryStore,
        script: Mapping[str, Scripted | Sequence[Scripted]],
        *,
        models: FakeModelResolver | None = None,
        recorder: RecordResponse | None = None,
    ) -> None:
        self.history = history
        self.script: dict[str, list[Scripted]] = {
            q: [v] if isinstance(v, Reply | Exception) else list(v) for q, v in script.items()
        }
        self.models = models or FakeModelResolver()
        self.recorder = recorder
        self.requests: list[ChatRequest] = []
        self.results: list[ChatResult] = []

    def model_identifier(self, requested: str | None) -> str:
        return self.models.resolve(requested).identifier

    async def execute(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        chat = self.history.get_or_create_chat(request.chat_id, request.user_id, request.message)
        replies = self.script[request.message]
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if isinstance(reply, Exception):
            raise reply
        number = len(self.requests)
        model = request.model or self.models.default_identifier
        response_id = None
        if self.recorder is not None:
            response_id = self.recorder.record(
                ResponseRecord(
                    request.user_id,
                    "chat",
                    request.message,
                    reply.answer,
                    model,
                    True,
                    reply.latency_ms,
                    cited=reply.sources,
                    raw_confidence=reply.confidence_raw,
                    chat_id=chat.id,
                    message_id=f"m{number}",
                )
            ).response_id
        result = ChatResult(
            chat_id=chat.id,
            message_id=f"m{number}",
            user_message_id=f"u{number}",
            answer=reply.answer,
            tool_calls=reply.tool_calls,
            sources=reply.sources,
            model=model,
            usage=reply.usage,
            latency_ms=reply.latency_ms,
            refused=reply.refused,
            response_id=response_id,
            confidence=reply.confidence,
            confidence_raw=reply.confidence_raw,
        )
        self.results.append(result)
        return result


class FakeTime:
    """A monotonic clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class PerThousandPricing:
    """`Pricing`: $1 a thousand input tokens and $2 a thousand output tokens, for the models
    it knows (None for any other)."""

    def __init__(self, known: tuple[str, ...]) -> None:
        self.known = known

    def cost_usd(
        self, model_identifier: str, input_tokens: int, output_tokens: int
    ) -> float | None:
        if model_identifier not in self.known:
            return None
        return (input_tokens + 2 * output_tokens) / 1000


class ScriptedJudge:
    def __init__(self, verdict: bool, reason: str) -> None:
        self.verdict = (verdict, reason)
        self.asked: list[tuple[str, str, tuple[str, ...]]] = []

    async def judge(self, question: str, answer: str, expected: Sequence[str]) -> tuple[bool, str]:
        self.asked.append((question, answer, tuple(expected)))
        return self.verdict


def eval_chats(history: InMemoryHistoryStore) -> list[str]:
    return [c.id for c in history.chats.values() if c.user_id == EVAL_USER]


# --- EvaluateAnswers ----------------------------------------------------------------------------

KB_RIGHT = EvalCase(
    "kb1",
    "How fast is a SEV1 acknowledged?",
    "kb",
    expect_any=("5 minutes",),
    expect_sources=("incident-response.md",),
)
KB_WRONG = EvalCase(
    "kb2",
    "How long may a SEV2 stay open?",
    "kb",
    expect_any=("4 hours",),
    expect_sources=("incident-response.md",),
)
SQL_RIGHT = EvalCase(
    "sql1",
    "How many staff work in Lisbon?",
    "sql",
    expect_any=("12",),
    expect_sources=("table:staff",),
)
REFUSE = EvalCase("ref1", "Who won the 1850 chess cup?", "refuse")

ANSWER_SCRIPT: dict[str, Scripted | Sequence[Scripted]] = {
    KB_RIGHT.question: Reply(SEV1_ANSWER, (INCIDENTS,), latency_ms=120, confidence=0.9),
    # "24 hours" is not "4 hours" (whole numbers only); "[4]" is a citation, not the number 4
    KB_WRONG.question: Reply("Resolve it within 24 hours [4].", (ON_CALL,), latency_ms=300,
                             confidence=0.6),
    SQL_RIGHT.question: Reply("There are 12 people [table: staff].", (STAFF_TABLE,),
                              latency_ms=200, confidence=0.5),
    REFUSE.question: Reply(NOT_FOUND_ANSWER, latency_ms=100, confidence=0.3),
}  # fmt: skip


class AnswersWorld:
    def __init__(
        self,
        script: Mapping[str, Scripted | Sequence[Scripted]] = ANSWER_SCRIPT,
        *,
        models: FakeModelResolver | None = None,
    ) -> None:
        self.history = InMemoryHistoryStore()
        self.chat = ScriptedChat(self.history, script, models=models)
        self.chats = ManageChats(self.history)
        self.evaluate = EvaluateAnswers(self.chat, self.chats)  # type: ignore[arg-type]  # ScriptedChat stands in for ChatTurns


async def test_answers_are_scored_and_summarised_per_kind_with_latency_and_calibration() -> None:
    world = AnswersWorld()
    cases = [KB_RIGHT, KB_WRONG, SQL_RIGHT, REFUSE]

    report = await world.evaluate.execute(EvaluateAnswersRequest(cases, split="dev"))

    assert (report.split, report.model) == ("dev", "offline-extractive")  # the default model
    assert (report.cases, report.correct, report.accuracy) == (4, 3, 0.75)
    assert report.cited == 0.5  # of the answered kb cases: kb1 cites the expected document
    assert report.refusal_accuracy == 1.0  # only ref1 refuses, and it must
    # latencies 100, 120, 200, 300: p50 = the 2nd (ceil(0.5 x 4)), p95 = the 4th
    assert (report.latency_p50_ms, report.latency_p95_ms) == (120, 300)
    assert report.by_kind == {
        "kb": KindSummary(2, 1, 0.5, 0.5),
        "sql": KindSummary(1, 1, 1.0, 1.0),  # [table: staff] is a lookup of table staff
        "refuse": KindSummary(1, 1, 1.0, None),
    }
    # AUROC over the answered cases: (0.5 right, 0.6 wrong, 0.9 right): ranks of the right
    # ones 1 + 3, U = 4 - 3 = 1, over 2 x 1 pairs
    assert report.auroc == 0.5
    # ECE, one case a band: (|1 - .9| + |0 - .6| + |1 - .5| + |1 - .3|) / 4 = 1.9 / 4
    assert report.ece == 0.475
    assert report.results[0] == CaseResult(
        id="kb1",
        kind="kb",
        question=KB_RIGHT.question,
        answer=SEV1_ANSWER,
        correct=True,
        refused=False,
        must_refuse=False,
        cited=True,
        latency_ms=120,
        sources=("Incident response",),
        confidence=0.9,
    )
    assert [(r.id, r.correct, r.refused, r.cited) for r in report.results] == [
        ("kb1", True, False, True),
        ("kb2", False, False, False),
        ("sql1", True, False, True),
        ("ref1", True, True, None),
    ]
    assert [r.id for r in report.failures] == ["kb2"]
    assert report.as_dict()["failures"] == ["kb2"]


async def test_every_case_runs_in_a_fresh_chat_and_a_follow_up_replays_its_history_first() -> None:
    follow_up = EvalCase(
        "fu1",
        "And a SEV2?",
        "follow_up",
        expect_any=("30 minutes",),
        history=(KB_RIGHT.question,),
    )
    script = {
        **ANSWER_SCRIPT,
        "And a SEV2?": Reply("A SEV2 within 30 minutes.", latency_ms=40, confidence=0.7),
    }
    world = AnswersWorld(script)

    report = await world.evaluate.execute(
        EvaluateAnswersRequest([KB_RIGHT, follow_up], model="test:a")
    )

    first, replayed, asked = world.chat.requests
    kb1_chat, replay_chat, _ = (r.chat_id for r in world.chat.results)
    assert first == ChatRequest(EVAL_USER, KB_RIGHT.question, None, "test:a")
    assert replayed == ChatRequest(EVAL_USER, KB_RIGHT.question, None, "test:a")  # a new chat
    assert asked == ChatRequest(EVAL_USER, "And a SEV2?", replay_chat, "test:a")
    assert replay_chat != kb1_chat
    assert report.model == "test:a"
    assert report.results[1].latency_ms == 40  # the last turn's figure
    assert (report.results[1].correct, report.results[1].cited) == (True, None)
    assert report.by_kind["follow_up"] == KindSummary(1, 1, 1.0, None)
    assert eval_chats(world.history) == []  # both chats deleted


async def test_a_failed_turn_scores_the_case_wrong_with_its_error_and_the_rest_run() -> None:
    script = {**ANSWER_SCRIPT, KB_WRONG.question: UpstreamUnavailable("The provider is down.")}
    world = AnswersWorld(script)
    seen: list[tuple[str, bool, bool]] = []

    report = await world.evaluate.execute(
        EvaluateAnswersRequest(
            [KB_RIGHT, KB_WRONG, REFUSE],
            on_turn=lambda case, turn, scored: seen.append((case.id, turn is None, scored.correct)),
        )
    )

    failed = report.results[1]
    assert failed == CaseResult(
        id="kb2",
        kind="kb",
        question=KB_WRONG.question,
        answer="",
        correct=False,
        refused=False,
        must_refuse=False,
        cited=False,  # it names a source it could not cite
        latency_ms=0,
        error="The provider is down.",
    )
    assert seen == [("kb1", False, True), ("kb2", True, False), ("ref1", False, True)]
    assert (report.cases, report.correct) == (3, 2)
    assert report.cited == 0.5  # kb1 cited; kb2 counts as answered without the source
    assert report.refusal_accuracy == 1.0  # kb2 did not refuse, and must not
    # the failed case's latency is left out: 100 and 120
    assert (report.latency_p50_ms, report.latency_p95_ms) == (100, 120)
    assert eval_chats(world.history) == []  # the failed turn's chat too


async def test_on_case_sees_each_scored_case_in_order_after_on_turn() -> None:
    world = AnswersWorld()
    calls: list[str] = []

    await world.evaluate.execute(
        EvaluateAnswersRequest(
            [REFUSE, KB_RIGHT],
            on_case=lambda scored: calls.append(f"case {scored.id}"),
            on_turn=lambda case, turn, scored: calls.append(f"turn {case.id}"),
        )
    )

    assert calls == ["turn ref1", "case ref1", "turn kb1", "case kb1"]


async def test_no_cases_is_invalid_and_no_turn_runs() -> None:
    world = AnswersWorld()

    with pytest.raises(InvalidRequest, match=r"^There are no cases to evaluate\.$"):
        await world.evaluate.execute(EvaluateAnswersRequest([]))

    assert world.chat.requests == [] and world.history.writes == 0


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [
        ("gpt-9", InvalidRequest, "Model 'gpt-9' is not allowed"),
        ("test:b", ConfigurationError, "Model test:b needs a key"),
    ],
)
async def test_a_model_that_may_not_be_used_fails_before_any_case_runs(
    model: str, error: type[Exception], message: str
) -> None:
    world = AnswersWorld(models=FakeModelResolver(unusable=("test:b",)))

    with pytest.raises(error, match=message):
        await world.evaluate.execute(EvaluateAnswersRequest([KB_RIGHT], model=model))

    assert world.chat.requests == [] and world.history.writes == 0


async def test_the_evaluation_users_chats_are_deleted_however_it_ends_and_no_one_elses() -> None:
    world = AnswersWorld()
    kept = world.history.get_or_create_chat(None, "ana", "Ana's own question")
    world.history.get_or_create_chat(None, EVAL_USER, "left over from a crashed evaluation")

    def stop(scored: CaseResult) -> None:
        raise RuntimeError("stopped")  # a caller's callback fails after the first case

    with pytest.raises(RuntimeError, match="stopped"):
        await world.evaluate.execute(EvaluateAnswersRequest([KB_RIGHT, REFUSE], on_case=stop))

    assert [r.message for r in world.chat.requests] == [KB_RIGHT.question]
    assert eval_chats(world.history) == []
    assert list(world.history.chats) == [kept.id]


# --- ItemExecutor -------------------------------------------------------------------------------

SEV1_CASE = EvalCase(
    "sev1", SEV1, "kb", expect_any=("5 minutes",), expect_sources=("incident-response.md",)
)
STAFF_CASE = EvalCase("staff", "How many staff are in Lisbon?", "sql", expected_sql_rows=((12,),))
COUNT_SQL = "SELECT COUNT(*) FROM staff WHERE city = 'Lisbon'"
SEV1_REPLY = Reply(
    SEV1_ANSWER,
    (INCIDENTS,),
    latency_ms=250,
    confidence=0.8,
    confidence_raw=0.7,
    usage=TokenUsage(input_tokens=120, output_tokens=30, requests=1),
)


class EngineWorld:
    """`ItemExecutor` as bootstrap wires it, on fakes: two passages mention "time" (so both
    are retrieved for SEV1, the on-call one first), one mentions SEV1."""

    def __init__(
        self,
        script: Mapping[str, Scripted | Sequence[Scripted]],
        *,
        per_minute: int = 0,
        max_attempts: int = 3,
        backoff_max_seconds: float = 30.0,
        pricing: PerThousandPricing | None = None,
        judge: ScriptedJudge | None = None,
    ) -> None:
        self.time = FakeTime()
        self.history = InMemoryHistoryStore()
        self.chat = ScriptedChat(self.history, script)
        self.retriever = InMemoryRetriever(
            [
                search_hit(1, "On call", "Who is on call, and what time the rota changes."),
                search_hit(2, "Incident response", "A SEV1 is acknowledged within 5 minutes."),
            ]
        )
        self.sql = InMemorySqlRunner(
            answers={COUNT_SQL: QueryResult(("COUNT(*)",), ((12,),), truncated=False)}
        )
        self.executor = ItemExecutor(
            self.chat,  # type: ignore[arg-type]  # ScriptedChat stands in for ChatTurns
            ManageChats(self.history),
            SearchKnowledgeBase(self.retriever, default_limit=5),
            RunSql(self.sql),
            pricing=pricing,
            judge=judge,
            limits=ProviderRateLimits(
                per_minute, monotonic=self.time.monotonic, sleep=self.time.sleep
            ),
            retry=RetryPolicy(
                max_attempts=max_attempts,
                backoff_seconds=1.0,
                backoff_max_seconds=backoff_max_seconds,
            ),
            sleep=self.time.sleep,
        )


CONTEXT = ItemContext(k=5, seed=7)


@pytest.fixture
def widest_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Full jitter draws uniformly from [0, cap]: always draw the cap, so waits are exact."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


async def test_a_clean_item_runs_in_its_own_chat_and_its_row_is_scored() -> None:
    world = EngineWorld({SEV1: SEV1_REPLY})
    sampling = Sampling(temperature=0.2, seed=3)

    row = await world.executor.execute(
        Item("offline-extractive", SEV1_CASE, "clean"), ItemContext(k=5, seed=7, sampling=sampling)
    )

    (request,) = world.chat.requests
    assert (request.user_id, request.message, request.model) == (
        EVAL_USER,
        SEV1,
        "offline-extractive",
    )
    assert request.start_if_missing and len(request.chat_id or "") == 32  # chosen up front
    assert (request.instructions, request.sampling) == (None, sampling)
    assert world.history.chats == {}  # the case's chat is deleted
    assert world.retriever.queries == [SEV1] and world.retriever.asked == [(5, None)]
    assert (row["case_id"], row["model"], row["variant"], row["question"]) == (
        "sev1",
        "offline-extractive",
        "clean",
        SEV1,
    )
    assert (row["answer"], row["correct"], row["refused"], row["cited"]) == (
        SEV1_ANSWER,
        True,
        False,
        True,
    )
    assert row["sources"] == ["Incident response"]
    assert row["retrieved"] == ["kb/on-call.md", "kb/incident-response.md"]
    # the expected document is second: RR 1/2, nDCG@5 = (1 / log2 3) / 1
    assert (row["hit@5"], row["recall@5"], row["rr"], row["ndcg@5"]) == (1.0, 1.0, 0.5, 0.6309)
    assert (row["confidence"], row["confidence_raw"], row["latency_ms"]) == (0.8, 0.7, 250)
    assert (row["input_tokens"], row["output_tokens"]) == (120, 30)
    assert row["cost_usd"] == 0.0  # the offline model costs nothing, priced or not
    assert (row["attempts"], row["error"], row["sql_match"], row["judge"]) == (1, None, None, None)
    assert world.time.sleeps == []


async def test_a_perturbed_variant_asks_and_searches_the_perturbed_question() -> None:
    perturbed = "What Is The SEV1 Acknowledgement Time?"  # perturb(SEV1, "case", 7, "sev1")
    world = EngineWorld({perturbed: SEV1_REPLY})

    row = await world.executor.execute(Item("test:a", SEV1_CASE, "case"), CONTEXT)

    assert [r.message for r in world.chat.requests] == [perturbed]
    assert world.retriever.queries == [perturbed]
    assert (row["variant"], row["question"], row["correct"]) == ("case", perturbed, True)
    assert row["cost_usd"] is None  # no pricing, and not the offline model


async def test_a_follow_up_replays_its_history_in_one_chat_with_the_prompt_compiled() -> None:
    case = EvalCase(
        "fu",
        "And a SEV2?",
        "follow_up",
        expect_any=("30 minutes",),
        history=(SEV1,),
        variables={"team": "payments"},
    )
    world = EngineWorld({SEV1: SEV1_REPLY, "And a SEV2?": Reply("Within 30 minutes.")})
    context = ItemContext(
        k=3,
        seed=0,
        prompt_text="You help the {{team}} team. Today is {{ today }}.",
        builtins={"today": "2026-03-02", "team": "everyone"},  # the case's value wins
    )

    row = await world.executor.execute(Item("test:a", case, "clean"), context)

    first, second = world.chat.requests
    assert [first.message, second.message] == [SEV1, "And a SEV2?"]
    assert first.chat_id == second.chat_id and first.start_if_missing
    assert {first.instructions, second.instructions} == {
        "You help the payments team. Today is 2026-03-02."
    }
    assert world.retriever.queries == ["And a SEV2?"]  # the question asked, not its history
    assert (row["answer"], row["correct"], row["hit@3"]) == ("Within 30 minutes.", True, None)
    assert world.history.chats == {}


async def test_a_prompt_variable_the_case_lacks_is_the_items_error_and_no_turn_runs() -> None:
    world = EngineWorld({SEV1: SEV1_REPLY})
    context = ItemContext(k=5, seed=0, prompt_text="You help the {{team}} team.")

    row = await world.executor.execute(Item("test:a", SEV1_CASE, "clean"), context)

    assert row["error"] == "The prompt template needs a value for: team."
    assert (row["answer"], row["correct"], row["attempts"], row["cost_usd"]) == ("", False, 1, None)
    assert world.chat.requests == [] and world.retriever.queries == []


@pytest.mark.usefixtures("widest_jitter")
async def test_a_retryable_failure_is_retried_after_a_jittered_wait_in_a_new_chat() -> None:
    world = EngineWorld(
        {
            SEV1: [
                UpstreamUnavailable("The model provider is rate-limiting requests. Try again."),
                UpstreamBadResponse("The model provider failed (HTTP 503). Try again later."),
                SEV1_REPLY,
            ]
        }
    )

    row = await world.executor.execute(Item("test:a", SEV1_CASE, "clean"), CONTEXT)

    assert (row["attempts"], row["error"], row["correct"]) == (3, None, True)
    assert world.time.sleeps == [1.0, 2.0]  # caps 1 x 2^0 and 1 x 2^1
    chats = [r.chat_id for r in world.chat.requests]
    assert len(set(chats)) == 3 and world.history.chats == {}  # each attempt's chat is deleted


@pytest.mark.usefixtures("widest_jitter")
async def test_retries_stop_after_max_attempts_with_waits_capped_and_the_last_error_kept() -> None:
    world = EngineWorld(
        {SEV1: [UpstreamUnavailable("down 1"), TimeoutError(), UpstreamUnavailable("down 3")]},
        max_attempts=3,
        backoff_max_seconds=1.5,
        pricing=PerThousandPricing(("test:a",)),
    )

    row = await world.executor.execute(Item("test:a", SEV1_CASE, "clean"), CONTEXT)

    assert world.time.sleeps == [1.0, 1.5]  # min(1.5, 1 x 2^1)
    assert (row["attempts"], row["error"]) == (3, "down 3")
    assert (row["answer"], row["correct"], row["refused"], row["cost_usd"]) == (
        "",
        False,
        False,
        None,
    )
    assert (row["retrieved"], row["sources"], row["cited"]) == ([], [], False)
    assert world.retriever.queries == []  # no search for an item that failed
    assert world.history.chats == {}


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (InvalidRequest("The message is empty."), "The message is empty."),
        (
            UpstreamBadResponse("The model provider failed (HTTP 400). Try again later."),
            "The model provider failed (HTTP 400). Try again later.",
        ),
        (RuntimeError("boom"), "The case failed with an internal error (RuntimeError)."),
    ],
)
async def test_a_failure_that_is_not_retryable_is_the_rows_error_at_the_first_attempt(
    failure: Exception, error: str
) -> None:
    world = EngineWorld({SEV1: failure})

    row = await world.executor.execute(Item("test:a", SEV1_CASE, "clean"), CONTEXT)

    assert (row["attempts"], row["error"], row["correct"]) == (1, error, False)
    assert len(world.chat.requests) == 1 and world.time.sleeps == []
    assert world.history.chats == {}


async def test_the_rate_limit_takes_a_token_per_provider_and_never_waits_for_offline() -> None:
    world = EngineWorld({SEV1: SEV1_REPLY}, per_minute=60)  # one a second, bursts of one

    for model in ("test:a", "offline-extractive", "other:b", "offline-extractive", "test:a"):
        await world.executor.execute(Item(model, SEV1_CASE, "clean"), CONTEXT)

    # test:a's bucket is empty after its first item: its second waits (1 - 0) / 1 s
    assert world.time.sleeps == [1.0]
    assert [r.model for r in world.chat.requests] == [
        "test:a",
        "offline-extractive",
        "other:b",
        "offline-extractive",
        "test:a",
    ]


async def test_the_answers_last_sql_lookup_is_run_again_and_compared_with_expected_rows() -> None:
    lookups = (
        ToolCall("t1", SQL_TOOL, {"sql": "SELECT COUNT(*) FROM staff"}, "success"),
        ToolCall("t2", SEARCH_TOOL, {"query": "staff Lisbon"}, "success"),
        ToolCall("t3", SQL_TOOL, {"sql": COUNT_SQL}, "success"),
    )
    world = EngineWorld(
        {STAFF_CASE.question: Reply("There are 12 [table: staff].", (STAFF_TABLE,), lookups)}
    )

    row = await world.executor.execute(Item("test:a", STAFF_CASE, "clean"), CONTEXT)

    assert world.sql.statements == [COUNT_SQL]
    assert (row["sql_match"], row["correct"], row["error"]) == (True, True, None)


async def test_a_lookup_the_sandbox_now_rejects_leaves_no_rows_and_fails_the_sql_match() -> None:
    lookups = (ToolCall("t1", SQL_TOOL, {"sql": "SELECT 12"}, "success"),)
    world = EngineWorld({STAFF_CASE.question: Reply("There are 12.", (), lookups)})

    row = await world.executor.execute(Item("test:a", STAFF_CASE, "clean"), CONTEXT)

    assert world.sql.statements == ["SELECT 12"]
    assert (row["sql_match"], row["correct"], row["error"]) == (False, False, None)


async def test_a_rejected_lookup_after_a_good_one_is_not_the_one_run_again() -> None:
    lookups = (
        ToolCall("t1", SQL_TOOL, {"sql": COUNT_SQL}, "success"),
        ToolCall("t2", SQL_TOOL, {"sql": "DELETE FROM staff"}, "retried"),  # the sandbox said no
    )
    world = EngineWorld({STAFF_CASE.question: Reply("There are 12 [table: staff].", (), lookups)})

    row = await world.executor.execute(Item("test:a", STAFF_CASE, "clean"), CONTEXT)

    assert world.sql.statements == [COUNT_SQL]
    assert (row["sql_match"], row["correct"]) == (True, True)


async def test_the_judge_and_the_pricing_fill_the_rows_judge_assertions_and_cost() -> None:
    judge = ScriptedJudge(True, "It says 5 minutes.")
    world = EngineWorld({SEV1: SEV1_REPLY}, pricing=PerThousandPricing(("test:a",)), judge=judge)
    context = ItemContext(
        k=5,
        seed=0,
        assertions=(AssertionSpec("llm_judge"), AssertionSpec("contains", "SEV1")),
    )

    row = await world.executor.execute(Item("test:a", SEV1_CASE, "clean"), context)

    # the judge reads the answer without its Sources block
    assert judge.asked == [(SEV1, "Acknowledge a SEV1 within 5 minutes [1].", ("5 minutes",))]
    assert row["judge"] == {"passed": True, "reason": "It says 5 minutes."}
    assert row["assertions"] == [
        {"type": "llm_judge", "passed": True, "detail": "It says 5 minutes."},
        {"type": "contains", "passed": True, "detail": "the answer contains 'SEV1'"},
    ]
    assert row["cost_usd"] == 0.18  # (120 + 2 x 30) / 1000


# --- SeedCalibrationFromEval --------------------------------------------------------------------


class CountingFitter:
    """Every fit is the identity (Platt, slope 1); records what it was fitted on."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[float], list[bool], str]] = []

    def fit(self, raw: Sequence[float], outcomes: Sequence[bool], method: str) -> FittedMap:
        self.calls.append((list(raw), list(outcomes), method))
        return FittedMap("platt", slope=1.0, intercept=0.0)


SEED_SCRIPT: dict[str, Scripted | Sequence[Scripted]] = {
    # cites a passage of score 0.5: 0.1 + 0.85 x (1 - (1 - 0.6 x 0.5)) = 0.355
    KB_RIGHT.question: Reply(
        SEV1_ANSWER,
        (INCIDENTS,),
        (ToolCall("s1", SEARCH_TOOL, {"query": "SEV1"}, "success"),),
        latency_ms=120,
    ),
    # cites nothing: 0.1
    KB_WRONG.question: Reply("Resolve it within 24 hours.", latency_ms=90),
    # the can't-find answer after retrieving nothing: 0.15 + 0.25 x (1 - 0) = 0.4
    REFUSE.question: Reply(NOT_FOUND_ANSWER, latency_ms=60),
}


class SeedWorld:
    def __init__(
        self,
        script: Mapping[str, Scripted | Sequence[Scripted]] = SEED_SCRIPT,
        *,
        min_feedback: int = 50,
        self_logging: bool = False,
    ) -> None:
        self.clock = SteppingClock()
        self.log = InMemoryResponseLog()
        self.store = InMemoryCalibrationStore()
        self.audit_log = InMemoryAuditLog()
        self.record = RecordResponse(self.log, self.store, self.clock)
        self.history = InMemoryHistoryStore()
        self.chat = ScriptedChat(
            self.history, script, recorder=self.record if self_logging else None
        )
        self.fitter = CountingFitter()
        self.recalibrate = Recalibrate(
            self.log,
            self.store,
            self.fitter,
            self.clock,
            RecordAudit(self.audit_log, self.clock),
            min_feedback=min_feedback,
            auto=False,
        )
        self.seed = SeedCalibrationFromEval(
            EvaluateAnswers(self.chat, ManageChats(self.history)),  # type: ignore[arg-type]  # ScriptedChat stands in for ChatTurns
            self.record,
            self.log,
            self.recalibrate,
            self.clock,
        )

    def earlier(self, user: str, raw: float, outcome: bool) -> str:
        response_id = self.record.record(
            ResponseRecord(user, "chat", "q?", "a.", "test", True, 5, raw_confidence=raw)
        ).response_id
        self.log.put_feedback(response_id, outcome, None, self.clock.now())
        return response_id


async def test_each_answered_case_is_logged_as_the_eval_user_with_its_correctness() -> None:
    world = SeedWorld()

    report = await world.seed.execute(
        CLI_ADMIN, EvaluateAnswersRequest([KB_RIGHT, KB_WRONG, REFUSE], split="dev")
    )

    assert (report.evaluation.cases, report.evaluation.correct) == (3, 2)
    assert report.logged == 3
    logged = world.log.recent(limit=10)[::-1]  # oldest first
    assert [(r.user_id, r.query, r.raw_confidence) for r in logged] == [
        (EVAL_USER, KB_RIGHT.question, 0.355),
        (EVAL_USER, KB_WRONG.question, 0.1),
        (EVAL_USER, REFUSE.question, 0.4),
    ]
    assert [r.search_ran for r in logged] == [True, False, False]
    assert [(r.model, r.latency_ms, r.message_id) for r in logged] == [
        ("offline-extractive", 120, "m1"),
        ("offline-extractive", 90, "m2"),
        ("offline-extractive", 60, "m3"),
    ]
    assert [(f.outcome, f.notes, f.at) for r in logged if (f := r.feedback)] == [
        (True, "answer evaluation case kb1", world.clock.now()),
        (False, "answer evaluation case kb2", world.clock.now()),
        (True, "answer evaluation case ref1", world.clock.now()),
    ]
    # one pair a band: (|1 - .355| + |0 - .1| + |1 - .4|) / 3 = 1.345 / 3
    assert report.raw_ece == 0.4483
    # (.645² + .1² + .6²) / 3 = .786025 / 3
    assert report.raw_brier == 0.262
    assert report.recalibration is None
    assert report.recalibration_skipped == (
        "Recalibration needs at least 50 answers with feedback (RECALIBRATION_MIN_FEEDBACK); "
        "there are 3."
    )
    assert world.store.calibrations == [] and world.fitter.calls == []
    assert eval_chats(world.history) == []


async def test_a_turn_that_logged_itself_gets_the_feedback_and_no_second_entry() -> None:
    script = {
        KB_RIGHT.question: Reply(SEV1_ANSWER, (INCIDENTS,), confidence_raw=0.7),
        KB_WRONG.question: Reply("Within 24 hours.", confidence_raw=0.8),
    }
    world = SeedWorld(script, self_logging=True)

    report = await world.seed.execute(CLI_ADMIN, EvaluateAnswersRequest([KB_RIGHT, KB_WRONG]))

    logged = world.log.recent(limit=10)[::-1]
    assert [(r.raw_confidence, r.feedback.outcome if r.feedback else None) for r in logged] == [
        (0.7, True),  # the confidence the turn logged, not a new estimate (0.355)
        (0.8, False),
    ]
    assert report.logged == 2
    assert report.raw_brier == 0.365  # (.3² + .8²) / 2
    assert report.raw_ece == 0.55  # (.3 + .8) / 2


async def test_seeding_again_forgets_the_eval_users_earlier_entries_and_no_one_elses() -> None:
    world = SeedWorld()
    old = world.earlier(EVAL_USER, 0.9, False)
    anas = world.earlier("ana", 0.2, True)

    report = await world.seed.execute(CLI_ADMIN, EvaluateAnswersRequest([KB_RIGHT]))

    assert world.log.get(old) is None
    kept = world.log.get(anas)
    assert kept is not None and kept.feedback is not None and kept.feedback.outcome is True
    assert [r.user_id for r in world.log.recent(limit=10)] == [EVAL_USER, "ana"]
    assert world.log.feedback_count() == 2  # ana's and the one new case's
    assert (report.logged, report.raw_ece, report.raw_brier) == (1, 0.645, 0.416)


async def test_a_case_whose_turn_failed_is_counted_but_not_logged() -> None:
    script = {**SEED_SCRIPT, KB_WRONG.question: UpstreamUnavailable("The provider is down.")}
    world = SeedWorld(script)
    scored: list[str] = []

    report = await world.seed.execute(
        CLI_ADMIN,
        EvaluateAnswersRequest([KB_RIGHT, KB_WRONG, REFUSE], on_case=lambda r: scored.append(r.id)),
    )

    assert scored == ["kb1", "kb2", "ref1"]  # the caller's on_case still sees every case
    assert report.evaluation.results[1].error == "The provider is down."
    assert report.logged == 2
    assert [r.query for r in world.log.recent(limit=10)] == [REFUSE.question, KB_RIGHT.question]
    assert report.raw_brier == 0.388  # (.645² + .6²) / 2 = .776025 / 2, rounded


async def test_with_enough_feedback_the_map_is_refitted_as_the_callers_action() -> None:
    world = SeedWorld(min_feedback=3)

    report = await world.seed.execute(ADMIN, EvaluateAnswersRequest([KB_RIGHT, KB_WRONG, REFUSE]))

    assert report.recalibration_skipped is None and report.recalibration is not None
    stored = report.recalibration.stored
    assert stored is not None and (stored.version, stored.author) == (1, "root")
    fit = stored.fit
    # three samples, half held out: round(1.5) = 2 held out, 1 to train on
    assert (fit.feedback_used, fit.heldout_size, fit.train_size) == (3, 2, 1)
    assert fit.active  # the identity leaves the held-out ECE as it was
    assert report.recalibration.message == "Recalibration version 1 is active."
    # the final fit is on every rated answer, oldest first
    assert world.fitter.calls[-1] == ([0.355, 0.1, 0.4], [True, False, True], "isotonic")
    [entry] = world.audit_log.entries
    assert (entry.action, entry.actor_user_id) == ("confidence.recalibrate", "root")


@pytest.mark.parametrize(
    ("caller", "cases", "model", "error"),
    [
        (CLI_ADMIN, [], None, InvalidRequest),
        (CLI_ADMIN, [KB_RIGHT], "gpt-9", InvalidRequest),
        (ANA, [KB_RIGHT], None, Forbidden),
    ],
    ids=["no cases", "model not allowed", "not an admin"],
)
async def test_a_seed_that_is_refused_leaves_the_response_log_as_it_was(
    caller: Caller, cases: list[EvalCase], model: str | None, error: type[Exception]
) -> None:
    world = SeedWorld(min_feedback=1)
    old = world.earlier(EVAL_USER, 0.9, False)

    with pytest.raises(error):
        await world.seed.execute(caller, EvaluateAnswersRequest(cases, model=model))

    assert [r.response_id for r in world.log.recent(limit=10)] == [old]
    assert world.store.calibrations == []


# --- RenderRunReport ----------------------------------------------------------------------------


class FakeExports:
    """`RunExports` over fixed exports; records who asked for what."""

    def __init__(self, exports: Mapping[str, Mapping[str, Any]]) -> None:
        self.exports = exports
        self.asked: list[tuple[Caller, str]] = []

    async def export(self, caller: Caller, run_id: str) -> Mapping[str, Any]:
        self.asked.append((caller, run_id))
        if run_id not in self.exports:
            raise NotFound(f"No run {run_id!r}.")
        return self.exports[run_id]


class RecordingRenderer:
    """`RunReportRenderer` that records each export it drew, and on which thread."""

    def __init__(self) -> None:
        self.drawn: list[Mapping[str, Any]] = []
        self.threads: list[int] = []

    def render_html(self, export: Mapping[str, Any]) -> str:
        self.drawn.append(export)
        self.threads.append(threading.get_ident())
        return f"<html><title>{export['run_id']} ({export['status']})</title></html>"


RUN_EXPORT = {"run_id": "run_0123456789ab", "status": "completed", "cases": []}


async def test_an_admin_gets_the_page_drawn_from_the_runs_export_in_a_worker_thread() -> None:
    exports = FakeExports({"run_0123456789ab": RUN_EXPORT})
    renderer = RecordingRenderer()

    html = await RenderRunReport(exports, renderer).execute(ADMIN, "run_0123456789ab")

    assert html == "<html><title>run_0123456789ab (completed)</title></html>"
    assert exports.asked == [(ADMIN, "run_0123456789ab")]
    assert renderer.drawn == [RUN_EXPORT] and renderer.drawn[0] is RUN_EXPORT
    assert renderer.threads != [threading.get_ident()]


async def test_a_user_may_not_have_a_report_and_nothing_is_exported_or_drawn() -> None:
    exports = FakeExports({"run_0123456789ab": RUN_EXPORT})
    renderer = RecordingRenderer()

    with pytest.raises(Forbidden) as refused:
        await RenderRunReport(exports, renderer).execute(ANA, "run_0123456789ab")

    assert refused.value.detail == (
        "Evaluation reports needs the admin role; the API key of 'ana' has the user role."
    )
    assert (exports.asked, renderer.drawn) == ([], [])


async def test_an_unknown_run_is_the_exporters_not_found_and_nothing_is_drawn() -> None:
    exports = FakeExports({"run_0123456789ab": RUN_EXPORT})
    renderer = RecordingRenderer()

    with pytest.raises(NotFound, match=r"^No run 'run_ffffffffffff'\.$"):
        await RenderRunReport(exports, renderer).execute(CLI_ADMIN, "run_ffffffffffff")

    assert exports.asked == [(CLI_ADMIN, "run_ffffffffffff")] and renderer.drawn == []


RUN_CASES = (
    {"id": "q1", "question": "Daily quota?", "kind": "kb", "expect_any": ["100,000"]},
    {"id": "q2", "question": "Leave days?", "kind": "kb", "expect_any": ["25 days"]},
    {"id": "q3", "question": "Who won in 1850?", "kind": "refuse"},
)


class RunsWorld:
    """`BenchmarkRuns` as the report's `RunExports`, on the in-memory dataset and run stores:
    a run of three cases on one model, left running with one row (of q2, a wrong answer)."""

    RUN_ID = "run_0123456789ab"

    def __init__(self) -> None:
        clock = FixedClock()
        audit = RecordAudit(InMemoryAuditLog(), clock)
        self.datasets = ManageDatasets(InMemoryDatasetStore(), clock, audit, bundled_dir=None)
        self.runs = InMemoryRunStore()
        self.benchmark = BenchmarkRuns(
            self.datasets,
            self.runs,
            None,  # type: ignore[arg-type]  # executes nothing here
            None,  # type: ignore[arg-type]  # no chat either: nothing runs
            InMemoryPromptStore(),
            clock,
            audit,
            InMemoryJobQueue(),
            default_concurrency=1,
        )

    async def running_run(self) -> None:
        text = "\n".join(json.dumps(c) for c in RUN_CASES)
        stored = await self.datasets.upload(ADMIN, DatasetUpload("three.jsonl", text.encode()))
        dataset = stored.dataset
        self.runs.create(
            RunRecord(
                run_id=self.RUN_ID,
                status="queued",
                task_id=dataset.id,
                task_version=dataset.version,
                models=("test:a",),
                prompt_version=None,
                settings=RunSettings(concurrency=1, k=5, robustness=(), seed=0),
                created_by="root",
                created_at="2026-03-02T12:00:00",
                total=3,
            )
        )
        self.runs.set_status(self.RUN_ID, "running", at="2026-03-02T12:00:01")
        case = EvalCase("q2", "Leave days?", "kb", expect_any=("25 days",))
        row = score_case(case, CaseOutcome("20 days.", latency_ms=40), model="test:a")
        self.runs.add_row(self.RUN_ID, ("test:a", "q2", "clean"), row)


async def test_a_run_still_running_is_reported_as_far_as_it_has_gone() -> None:
    world = RunsWorld()
    await world.running_run()
    renderer = RecordingRenderer()

    html = await RenderRunReport(world.benchmark, renderer).execute(ADMIN, "latest")

    assert html == "<html><title>run_0123456789ab (running)</title></html>"
    (export,) = renderer.drawn
    assert export["progress"] == {
        "total": 3,
        "done": 1,
        "completed": 1,
        "failed": 0,
        "percent": 33.3,
    }
    assert export["task"]["cases"] == 3 and export["started_at"] == "2026-03-02T12:00:01"
    assert export["finished_at"] is None
    overall = export["aggregates"]["test:a"]["overall"]
    assert (overall["cases"], overall["correct"], overall["latency_p50_ms"]) == (1, 0.0, 40)
    assert [(r["case_id"], r["answer"], r["correct"]) for r in export["cases"]] == [
        ("q2", "20 days.", False)
    ]


async def test_a_report_of_a_run_that_does_not_exist_is_not_found() -> None:
    world = RunsWorld()
    renderer = RecordingRenderer()
    report = RenderRunReport(world.benchmark, renderer)

    with pytest.raises(NotFound, match=r"^No run 'run_0123456789ab'\.$"):
        await report.execute(ADMIN, "run_0123456789ab")
    with pytest.raises(NotFound, match="No completed evaluation run yet"):
        await report.execute(ADMIN, "latest-completed")

    assert renderer.drawn == []


# --- ListRunnableModels -------------------------------------------------------------------------


class PickyResolver:
    """`ModelResolver` whose models fail as configured (`errors[model]`), others resolve."""

    def __init__(self, allowed: tuple[str, ...], default: str, errors: Mapping[str, Exception]):
        self.allowed = allowed
        self.default_identifier = default
        self.errors = errors

    def resolve(self, requested: str | None) -> ResolvedModel:
        identifier = requested or self.default_identifier
        if identifier in self.errors:
            raise self.errors[identifier]
        return ResolvedModel(identifier, identifier)


async def test_every_allowed_model_is_listed_in_order_with_its_provider_and_the_default() -> None:
    resolver = FakeModelResolver(("offline-extractive", "test:a", "openai:gpt-4.1-mini"))

    models = await ListRunnableModels(resolver).execute()

    assert models == [
        RunnableModel("offline-extractive", "offline", usable=True, default=True),
        RunnableModel("test:a", "test", usable=True, default=False),
        RunnableModel("openai:gpt-4.1-mini", "openai", usable=True, default=False),
    ]
    assert resolver.resolved == ["offline-extractive", "test:a", "openai:gpt-4.1-mini"]


async def test_a_model_missing_its_key_is_listed_unusable_with_the_reason() -> None:
    resolver = FakeModelResolver(
        ("offline-extractive", "test:a", "test:b"), default="test:b", unusable=("test:b",)
    )

    models = await ListRunnableModels(resolver).execute()

    assert models[2] == RunnableModel(
        "test:b", "test", usable=False, default=True, reason="Model test:b needs a key."
    )
    assert [m.usable for m in models] == [True, True, False]


async def test_configuration_and_invalid_request_errors_are_reasons_not_failures() -> None:
    resolver = PickyResolver(
        ("anthropic:claude", "ollama:llama3", "test:a"),
        "test:a",
        {
            "anthropic:claude": ConfigurationError("Install the anthropic extra."),
            "ollama:llama3": InvalidRequest("OLLAMA_BASE_URL is not set."),
        },
    )

    models = await ListRunnableModels(resolver).execute()  # type: ignore[arg-type]  # a resolver of the members it reads

    assert [(m.id, m.provider, m.usable, m.default, m.reason) for m in models] == [
        ("anthropic:claude", "anthropic", False, False, "Install the anthropic extra."),
        ("ollama:llama3", "ollama", False, False, "OLLAMA_BASE_URL is not set."),
        ("test:a", "test", True, True, None),
    ]


async def test_any_other_error_of_the_resolver_is_not_swallowed() -> None:
    resolver = PickyResolver(("test:a",), "test:a", {"test:a": RuntimeError("broken")})

    with pytest.raises(RuntimeError, match="broken"):
        await ListRunnableModels(resolver).execute()  # type: ignore[arg-type]  # a resolver of the members it reads


async def test_no_allowed_models_is_an_empty_list_and_a_default_not_allowed_flags_none() -> None:
    assert await ListRunnableModels(FakeModelResolver(allowed=())).execute() == []
    models = await ListRunnableModels(
        FakeModelResolver(("test:a", "test:b"), default="offline-extractive")
    ).execute()
    assert [(m.id, m.default) for m in models] == [("test:a", False), ("test:b", False)]


class TwoCleaners:
    """`CleanerNames`: `rules` cleans offline, `test:b` has no key yet, the rest cannot clean."""

    default = "rules"

    def identifier(self, model: str) -> str:
        if model == "test:b":
            raise ConfigurationError("Model test:b needs a key.")
        if model not in ("rules", "test:a"):
            raise InvalidRequest(f"{model} cannot clean.")
        return model


async def test_with_cleaners_each_model_says_what_it_is_for_and_the_offline_cleaner_is_listed() -> (
    None
):
    resolver = FakeModelResolver(("offline-extractive", "test:a", "test:b"))

    models = await ListRunnableModels(resolver, TwoCleaners()).execute()

    assert [(m.id, m.uses, m.usable) for m in models] == [
        ("offline-extractive", ("answers",), True),
        ("test:a", ("answers", "cleaning"), True),
        ("test:b", ("answers", "cleaning"), True),
        ("rules", ("cleaning",), True),
    ]
