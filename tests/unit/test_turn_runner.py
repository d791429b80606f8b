"""The shared turn core (`use_cases/chat/turn_runner.py`) on its own: one streamed run, its
events in order, what it records, and the one way each turn ends, told to a recording handler.
The agent is the chat agent (`build_agent(CHAT_TURN)`) on PydanticAI `FunctionModel`s."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pydantic_ai.models
import pytest
from pydantic_ai import exceptions as ai_errors
from pydantic_ai.messages import (
    FinalResultEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.run import AgentRunResult, AgentRunResultEvent

from tests.fakes import (
    InMemoryRetriever,
    InMemorySqlRunner,
    SteppingClock,
    search_hit,
    streamed,
)
from tests.narrowing import of_type
from use_cases.chat.agent import CHAT_TURN, AgentLimits, build_agent
from use_cases.chat.domain import ToolCall
from use_cases.chat.prompts import SEARCH_TOOL
from use_cases.chat.tools import AgentDeps
from use_cases.chat.turn_runner import (
    PREVIEW_CHARS,
    AgentCall,
    TurnEvent,
    TurnFailed,
    TurnFinished,
    TurnRecord,
    TurnRunner,
    TurnStarted,
    drain,
    is_content_filter,
    sentence_pieces,
    to_domain_error,
)
from use_cases.shared.errors import (
    AlmanacError,
    Conflict,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from use_cases.shared.sampling import Sampling

pydantic_ai.models.ALLOW_MODEL_REQUESTS = False

QUESTION = "How often must passwords be rotated?"
ANSWER = "Passwords are changed only on evidence of compromise [1]."
PASSWORDS = search_hit(
    1,
    "Password Policy",
    "Passwords are changed only on evidence of compromise, never on a schedule.",
    section="Rotation",
)
STARTED = TurnStarted("msg-1", "test:model")
ModelFunction = Callable[[list[ModelMessage], AgentInfo], ModelResponse]


# --- the recording handler -----------------------------------------------------------------


@dataclass
class RecordingHandler:
    """A `TurnHandler` that records how its turn ended: ("complete", output), ("refuse",) or
    ("abandon", status), with the `TurnRecord` it was given each time."""

    result: object = "the result"
    refusal: object = "the refusal"
    complete_error: BaseException | None = None
    refuse_error: BaseException | None = None
    refuse_hangs: bool = False
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    records: list[TurnRecord] = field(default_factory=list)
    runs: list[AgentRunResult[Any]] = field(default_factory=list)
    refusing: asyncio.Event = field(default_factory=asyncio.Event)

    async def complete(self, run: AgentRunResult[str], record: TurnRecord) -> object:
        self.calls.append(("complete", run.output))
        self.records.append(record)
        self.runs.append(run)
        if self.complete_error is not None:
            raise self.complete_error
        return self.result

    async def refuse(self, record: TurnRecord) -> object:
        self.calls.append(("refuse",))
        self.records.append(record)
        if self.refuse_hangs:
            self.refusing.set()
            await asyncio.Event().wait()
        if self.refuse_error is not None:
            raise self.refuse_error
        return self.refusal

    def abandon(self, record: TurnRecord, status: Literal["interrupted", "failed"]) -> None:
        self.calls.append(("abandon", status))
        self.records.append(record)


# --- the rig -------------------------------------------------------------------------------


@dataclass
class Rig:
    runner: TurnRunner[AgentDeps, str]
    call: AgentCall[AgentDeps]
    handler: RecordingHandler
    retriever: InMemoryRetriever

    def run(self) -> AsyncGenerator[TurnEvent[Any], None]:
        return self.runner.run(self.call, STARTED, self.handler)


def rig(
    model: ModelFunction | FunctionModel,
    *,
    limits: AgentLimits = AgentLimits(),
    handler: RecordingHandler | None = None,
    history: list[ModelMessage] | None = None,
    sampling: Sampling = Sampling(),
) -> Rig:
    if not isinstance(model, FunctionModel):
        model = FunctionModel(model, stream_function=streamed(model))
    retriever = InMemoryRetriever([PASSWORDS])
    deps = AgentDeps(retriever=retriever, sql=InMemorySqlRunner(), clock=SteppingClock())
    call = AgentCall(QUESTION, history or [], model, deps, sampling)
    runner = TurnRunner(build_agent(CHAT_TURN, limits=limits), limits)
    return Rig(runner, call, handler or RecordingHandler(), retriever)


async def collect(events: AsyncGenerator[Any, None]) -> list[Any]:
    async with aclosing(events) as stream:
        return [event async for event in stream]


def kinds(events: list[Any]) -> list[type]:
    return [type(event) for event in events]


def tool_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]


def answer(text: str) -> ModelFunction:
    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart(text)])

    return respond


def failing(error: BaseException) -> ModelFunction:
    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise error

    return respond


def search_then_cite(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    if not tool_returns(messages):
        return ModelResponse(
            parts=[ToolCallPart(SEARCH_TOOL, {"query": "password rotation"}, "call-1")]
        )
    return ModelResponse(parts=[TextPart(ANSWER)])


def content_filter_errors() -> list[Exception]:
    return [
        ai_errors.ModelHTTPError(400, "test", provider_error_code="content_filter"),
        ai_errors.ModelHTTPError(
            400, "test", body={"error": {"code": "ResponsibleAIPolicyViolation"}}
        ),
        ai_errors.ModelHTTPError(400, "test", body="finish_reason: content_filter"),
        ai_errors.ContentFilterError("Content filter triggered."),
    ]


# --- a normal run --------------------------------------------------------------------------


async def test_a_run_yields_started_then_the_model_events_then_one_finished() -> None:
    r = rig(answer("Hello there."))
    events = await collect(r.run())
    assert events[0] is STARTED
    assert kinds(events) == [
        TurnStarted,
        PartStartEvent,
        FinalResultEvent,
        PartEndEvent,
        AgentRunResultEvent,
        TurnFinished,
    ]
    assert events[-1] == TurnFinished("the result")
    assert events[-1].result is r.handler.result
    assert r.handler.calls == [("complete", "Hello there.")]
    # `complete` is given the run the stream ended with, and the turn's record.
    assert r.handler.runs[0] is events[-2].result
    assert r.handler.records[0].text == "Hello there."
    assert r.handler.records[0].tool_calls == ()


async def test_a_fixed_answer_runs_no_model_and_streams_as_a_models_text_does() -> None:
    """A declined turn's answer (`AgentCall.fixed_answer`): the events a model streaming the
    same text sentence by sentence gives, the same record, the same `complete`."""
    text = "I can't share that. Ask me about the documents.\nThanks."

    async def pieces(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for piece in sentence_pieces(text):
            yield piece

    modelled = rig(FunctionModel(stream_function=pieces))
    from_model = await collect(modelled.run())
    fixed = rig(failing(AssertionError("no model is called")))
    fixed.call = replace(fixed.call, fixed_answer=text)
    without_model = await collect(fixed.run())

    def shown(events: list[Any]) -> list[Any]:
        return [e.result.output if isinstance(e, AgentRunResultEvent) else e for e in events]

    assert shown(without_model) == shown(from_model)
    assert len([e for e in without_model if isinstance(e, PartDeltaEvent)]) == 2
    assert fixed.handler.calls == [("complete", text)] == modelled.handler.calls
    assert fixed.handler.records[0].text == text and fixed.retriever.queries == []


async def test_the_record_observes_each_tool_call_with_its_outcome_and_the_text() -> None:
    seen: list[ToolReturnPart] = []

    def search_and_keep(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.extend(tool_returns(messages))
        return search_then_cite(messages, info)

    r = rig(search_and_keep)
    events = await collect(r.run())
    assert kinds(events) == [
        TurnStarted,
        PartStartEvent,
        PartEndEvent,
        FunctionToolCallEvent,
        FunctionToolResultEvent,
        PartStartEvent,
        FinalResultEvent,
        PartEndEvent,
        AgentRunResultEvent,
        TurnFinished,
    ]
    assert r.handler.calls == [("complete", ANSWER)]
    [record] = r.handler.records
    [returned] = seen
    preview = " ".join(returned.model_response_str().split())
    assert "Passwords are changed only on evidence of compromise" in preview
    assert record.tool_calls == (
        ToolCall(
            "call-1",
            SEARCH_TOOL,
            {"query": "password rotation"},
            status="success",
            result_preview=preview[: PREVIEW_CHARS - 1] + "…"
            if len(preview) > PREVIEW_CHARS
            else preview,
        ),
    )
    assert record.text == ANSWER  # the tool call's part carries no text
    assert r.retriever.queries == ["password rotation"]


async def test_a_tool_call_with_bad_arguments_is_recorded_as_retried() -> None:
    def bad_then_good(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart(SEARCH_TOOL, {"wrong": 1}, "call-bad")])
        if len(messages) == 3:
            return ModelResponse(
                parts=[ToolCallPart(SEARCH_TOOL, {"query": "passwords"}, "call-good")]
            )
        return ModelResponse(parts=[TextPart(ANSWER)])

    r = rig(bad_then_good)
    await collect(r.run())
    [record] = r.handler.records
    assert [(c.id, c.name, c.args, c.status) for c in record.tool_calls] == [
        ("call-bad", SEARCH_TOOL, {"wrong": 1}, "retried"),
        ("call-good", SEARCH_TOOL, {"query": "passwords"}, "success"),
    ]
    assert r.handler.calls == [("complete", ANSWER)]


async def test_the_call_sends_its_prompt_history_and_sampling_to_the_model() -> None:
    sent: list[tuple[list[ModelMessage], Any]] = []

    def look(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        sent.append((messages, info.model_settings))
        return ModelResponse(parts=[TextPart("Done.")])

    prior: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart("Earlier?")]),
        ModelResponse([TextPart("Yes.")]),
    ]
    r = rig(look, history=prior, sampling=Sampling(temperature=0.25, seed=7))
    await collect(r.run())
    [(messages, settings)] = sent
    assert [type(m) for m in messages] == [ModelRequest, ModelResponse, ModelRequest]
    assert of_type(UserPromptPart, messages[0].parts[0]).content == "Earlier?"
    assert of_type(UserPromptPart, messages[-1].parts[-1]).content == QUESTION
    assert settings is not None
    assert (settings.get("temperature"), settings.get("seed")) == (0.25, 7)


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "expected", "detail"),
    [
        (
            ai_errors.ModelHTTPError(500, "test", body="secret provider text"),
            UpstreamBadResponse,
            "The model provider failed (HTTP 500). Try again later.",
        ),
        (
            ai_errors.UnexpectedModelBehavior("secret provider text"),
            UpstreamBadResponse,
            "The model returned an answer Almanac could not use.",
        ),
        (
            ai_errors.ModelRateLimitError("test", "secret provider text"),
            UpstreamUnavailable,
            "The model provider is rate-limiting requests. Try again shortly.",
        ),
        (
            ai_errors.ModelConnectionError("test", "secret provider text"),
            UpstreamUnavailable,
            "The model provider is unavailable. Try again shortly.",
        ),
        (
            ai_errors.ModelTimeoutError("test", "secret provider text"),
            UpstreamTimeout,
            "The model did not answer in time. Try again.",
        ),
        (
            RuntimeError("secret internal text"),
            UpstreamBadResponse,
            "The answer could not be produced because of an internal error.",
        ),
    ],
)
async def test_a_model_error_ends_in_one_turn_failed_with_the_mapped_error(
    raised: Exception, expected: type[AlmanacError], detail: str
) -> None:
    r = rig(failing(raised))
    events = await collect(r.run())
    assert kinds(events) == [TurnStarted, TurnFailed]
    failed = events[-1]
    assert type(failed.error) is expected
    assert failed.error.detail == detail
    assert "secret" not in str(failed.error)
    assert failed.cause is raised
    assert failed.error.__cause__ is raised
    assert r.handler.calls == [("abandon", "failed")]


async def test_a_domain_error_raised_in_the_run_is_sent_as_it_is() -> None:
    raised = Conflict("Someone else is answering.")
    r = rig(failing(raised))
    events = await collect(r.run())
    assert kinds(events) == [TurnStarted, TurnFailed]
    assert events[-1].error is raised
    assert events[-1].cause is raised
    assert raised.__cause__ is None
    assert r.handler.calls == [("abandon", "failed")]


async def test_a_model_error_after_a_tool_call_keeps_the_call_in_the_abandoned_record() -> None:
    def search_then_fail(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if not tool_returns(messages):
            return search_then_cite(messages, info)
        raise ai_errors.ModelHTTPError(502, "test")

    r = rig(search_then_fail)
    events = await collect(r.run())
    assert kinds(events)[-3:] == [FunctionToolCallEvent, FunctionToolResultEvent, TurnFailed]
    assert [type(e) for e in events].count(TurnFailed) == 1
    assert TurnFinished not in kinds(events)
    assert events[-1].error.detail == "The model provider failed (HTTP 502). Try again later."
    assert r.handler.calls == [("abandon", "failed")]
    [record] = r.handler.records
    assert [(c.id, c.status) for c in record.tool_calls] == [("call-1", "success")]


async def test_a_run_over_its_request_budget_fails_with_the_documented_error() -> None:
    def search_forever(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(SEARCH_TOOL, {"query": "passwords"})])

    r = rig(search_forever, limits=AgentLimits(request_limit=2))
    events = await collect(r.run())
    failed = events[-1]
    assert isinstance(failed, TurnFailed)
    assert [type(e) for e in events].count(TurnFailed) == 1
    assert TurnFinished not in kinds(events)
    assert type(failed.error) is UpstreamBadResponse
    assert failed.error.detail == ("The model did not reach an answer within its request budget.")
    assert isinstance(failed.cause, ai_errors.UsageLimitExceeded)
    assert r.handler.calls == [("abandon", "failed")]
    [record] = r.handler.records
    assert [(c.name, c.status) for c in record.tool_calls] == [
        (SEARCH_TOOL, "success"),
        (SEARCH_TOOL, "success"),
    ]
    assert len(r.retriever.queries) == 2


async def test_a_run_over_its_time_limit_fails_as_an_upstream_timeout() -> None:
    async def hang(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        await asyncio.Event().wait()
        yield "never"

    r = rig(FunctionModel(stream_function=hang), limits=AgentLimits(timeout_s=0.05))
    events = await collect(r.run())
    assert kinds(events) == [TurnStarted, TurnFailed]
    assert type(events[-1].error) is UpstreamTimeout
    assert r.handler.calls == [("abandon", "failed")]


async def test_a_run_that_ends_without_a_result_fails_once() -> None:
    class NoResultAgent:
        @asynccontextmanager
        async def run_stream_events(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            async def nothing() -> AsyncIterator[Any]:
                return
                yield

            yield nothing()

    handler = RecordingHandler()
    runner: TurnRunner[AgentDeps, str] = TurnRunner(NoResultAgent(), AgentLimits())  # type: ignore[arg-type]  # an agent whose run ends with no result
    call = rig(answer("unused")).call
    events = await collect(runner.run(call, STARTED, handler))
    assert kinds(events) == [TurnStarted, TurnFailed]
    assert events[-1].error.detail == "The model returned an answer Almanac could not use."
    assert isinstance(events[-1].cause, ai_errors.UnexpectedModelBehavior)
    assert handler.calls == [("abandon", "failed")]


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("raised", content_filter_errors())
async def test_a_content_filter_refusal_goes_to_refuse_and_finishes(raised: Exception) -> None:
    r = rig(failing(raised))
    events = await collect(r.run())
    assert kinds(events) == [TurnStarted, TurnFinished]
    assert events[-1].result is r.handler.refusal
    assert r.handler.calls == [("refuse",)]


# --- exceptions of the handler ----------------------------------------------------------------


async def test_an_error_in_complete_fails_the_turn_once() -> None:
    raised = RuntimeError("the store is down")
    r = rig(answer("Hello there."), handler=RecordingHandler(complete_error=raised))
    events = r.run()
    seen = [event async for event in events]
    await events.aclose()  # closing after the end settles nothing more
    assert kinds(seen)[-2:] == [AgentRunResultEvent, TurnFailed]
    assert TurnFinished not in kinds(seen)
    assert [type(e) for e in seen].count(TurnFailed) == 1
    failed = seen[-1]
    assert isinstance(failed, TurnFailed)
    assert type(failed.error) is UpstreamBadResponse
    assert failed.error.detail == ("The answer could not be produced because of an internal error.")
    assert failed.cause is raised
    assert r.handler.calls == [("complete", "Hello there."), ("abandon", "failed")]
    assert r.handler.records[0] is r.handler.records[1]


async def test_a_domain_error_in_complete_is_the_turns_error() -> None:
    raised = Conflict("The chat changed meanwhile.")
    r = rig(answer("Hello there."), handler=RecordingHandler(complete_error=raised))
    events = await collect(r.run())
    assert kinds(events)[-1] is TurnFailed
    assert events[-1].error is raised
    assert r.handler.calls == [("complete", "Hello there."), ("abandon", "failed")]


async def test_an_error_in_refuse_fails_the_turn_once() -> None:
    raised = RuntimeError("the store is down")
    r = rig(
        failing(ai_errors.ContentFilterError("filtered")),
        handler=RecordingHandler(refuse_error=raised),
    )
    events = await collect(r.run())
    assert kinds(events) == [TurnStarted, TurnFailed]
    assert r.handler.calls == [("refuse",), ("abandon", "failed")]


async def test_a_turn_cancelled_while_refusing_is_interrupted() -> None:
    r = rig(
        failing(ai_errors.ContentFilterError("filtered")),
        handler=RecordingHandler(refuse_hangs=True),
    )
    task = asyncio.create_task(drain(r.run()))
    await asyncio.wait_for(r.handler.refusing.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert r.handler.calls == [("refuse",), ("abandon", "interrupted")]


# --- interrupted ---------------------------------------------------------------------------


async def test_closing_the_stream_after_the_first_event_abandons_it_as_interrupted() -> None:
    asked: list[int] = []

    def count(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        asked.append(1)
        return ModelResponse(parts=[TextPart("never sent")])

    r = rig(count)
    async with aclosing(r.run()) as events:
        first = await anext(events)
    assert first is STARTED
    assert r.handler.calls == [("abandon", "interrupted")]
    assert r.handler.records[0].text == ""
    assert asked == []  # the model was never called


async def test_closing_the_stream_mid_answer_keeps_the_text_so_far() -> None:
    async def words(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for _ in range(1000):
            yield "word "

    r = rig(FunctionModel(stream_function=words))
    events = r.run()
    deltas = 0
    async for event in events:
        if isinstance(event, PartStartEvent | PartDeltaEvent):
            deltas += 1
        if deltas == 5:
            break
    await events.aclose()
    await events.aclose()  # closing twice settles nothing more
    assert r.handler.calls == [("abandon", "interrupted")]
    text = r.handler.records[0].text
    assert text.startswith("word word word")
    assert len(text.split()) < 1000


async def test_closing_the_stream_after_it_finished_settles_nothing_more() -> None:
    r = rig(answer("Hello there."))
    events = r.run()
    async for event in events:
        if isinstance(event, TurnFinished):
            break
    await events.aclose()
    assert r.handler.calls == [("complete", "Hello there.")]


async def test_a_cancelled_turn_is_abandoned_as_interrupted() -> None:
    called = asyncio.Event()

    async def hang(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield "partial "
        called.set()
        await asyncio.Event().wait()
        yield "never"

    r = rig(FunctionModel(stream_function=hang))
    task = asyncio.create_task(drain(r.run()))
    await asyncio.wait_for(called.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert r.handler.calls == [("abandon", "interrupted")]
    assert r.handler.records[0].text == "partial "


# --- drain ---------------------------------------------------------------------------------


async def test_drain_returns_what_complete_returned() -> None:
    r = rig(answer("Hello there."))
    assert await drain(r.run()) == "the result"
    assert r.handler.calls == [("complete", "Hello there.")]


async def test_drain_raises_the_turns_domain_error() -> None:
    r = rig(failing(ai_errors.ModelHTTPError(503, "test")))
    with pytest.raises(UpstreamBadResponse) as raised:
        await drain(r.run())
    assert raised.value.detail == "The model provider failed (HTTP 503). Try again later."
    assert isinstance(raised.value.__cause__, ai_errors.ModelHTTPError)
    assert r.handler.calls == [("abandon", "failed")]


async def test_drain_returns_the_refusal() -> None:
    r = rig(failing(content_filter_errors()[0]))
    assert await drain(r.run()) == "the refusal"
    assert r.handler.calls == [("refuse",)]


async def test_drain_stops_at_the_first_final_event_and_closes_the_stream() -> None:
    closed: list[bool] = []
    error = UpstreamTimeout("slow")

    async def events(*sent: Any) -> AsyncGenerator[Any, None]:
        try:
            for event in sent:
                yield event
        finally:
            closed.append(True)

    assert await drain(events(STARTED, TurnFinished(1), TurnFinished(2))) == 1
    with pytest.raises(UpstreamTimeout) as raised:
        await drain(events(STARTED, TurnFailed(error), TurnFinished(3)))
    assert raised.value is error
    assert closed == [True, True]


async def test_drain_of_a_stream_without_a_final_event_raises() -> None:
    async def events() -> AsyncGenerator[Any, None]:
        yield STARTED

    with pytest.raises(RuntimeError, match="ended without a result"):
        await drain(events())


# --- the pieces ----------------------------------------------------------------------------


def test_the_record_keeps_streamed_text_and_previews_long_results() -> None:
    record = TurnRecord()
    record.observe(PartStartEvent(index=0, part=TextPart("Hello ")))
    record.observe(PartDeltaEvent(index=0, delta=TextPartDelta("world.")))
    call = ToolCallPart(SEARCH_TOOL, {"query": "q"}, "c1")
    record.observe(FunctionToolCallEvent(call))
    assert record.tool_calls == (ToolCall("c1", SEARCH_TOOL, {"query": "q"}),)
    long = "word\n\n " * 200
    record.observe(FunctionToolResultEvent(ToolReturnPart(SEARCH_TOOL, long, "c1")))
    record.observe(FunctionToolResultEvent(ToolReturnPart(SEARCH_TOOL, "x", "unknown")))
    [done] = record.tool_calls
    assert done.status == "success"
    assert done.result_preview is not None
    assert len(done.result_preview) == PREVIEW_CHARS
    assert done.result_preview == ("word " * 100)[: PREVIEW_CHARS - 1] + "…"
    assert record.text == "Hello world."


@pytest.mark.parametrize("error", content_filter_errors())
def test_content_filter_errors_are_recognised(error: Exception) -> None:
    assert is_content_filter(error)


@pytest.mark.parametrize(
    "error",
    [
        ai_errors.ModelHTTPError(400, "test", body="bad request"),
        ai_errors.UnexpectedModelBehavior("content_filter"),  # not a provider's error
        RuntimeError("content_filter"),
    ],
)
def test_other_errors_are_not_content_filter_refusals(error: Exception) -> None:
    assert not is_content_filter(error)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ai_errors.RunTimedOut("slow"), UpstreamTimeout),
        (TimeoutError(), UpstreamTimeout),
        (ai_errors.ModelQuotaExceededError("test", "quota"), UpstreamUnavailable),
        (ai_errors.ModelUnavailableError("test", "down"), UpstreamUnavailable),
        (ai_errors.UsageLimitExceeded("limit"), UpstreamBadResponse),
        (ai_errors.ModelHTTPError(418, "test"), UpstreamBadResponse),
    ],
)
def test_to_domain_error_maps_provider_errors(error: Exception, expected: type) -> None:
    assert type(to_domain_error(error)) is expected
