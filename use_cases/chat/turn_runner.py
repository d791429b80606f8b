"""The core every kind of turn shares: one agent run, streamed, recorded and settled.

A *turn* is one question answered by the agent. There are two kinds, and both run here: a chat turn
(`use_cases/chat/chat_turns.py`) keeps the conversation in the history store; an advice turn
(`use_cases/advice/give_advice.py`) gives one `StructuredAdvice` and stores no conversation. Each
kind builds an `AgentCall`, a `TurnStarted` and a `TurnHandler`, and runs them through a
`TurnRunner` on its own agent (chat's answers in text, advice's through an output tool). What every
kind shares is decided here, once:

- One run per turn, always streamed (`Agent.run_stream_events`). The blocking form of a turn
  is that stream drained (`drain`), so a blocking and a streaming caller get the same run, the
  same storage and the same errors.
- A turn whose answer was decided before the model (`AgentCall.fixed_answer`: a declined
  turn's) runs no model: its answer streams as a model's text does, sentence by sentence
  (`sentence_pieces`), with the same events, and the turn ends as any answered turn.
- The run is bounded by `AgentLimits`: a budget of model requests (`UsageLimits`) and a
  wall-clock timeout for the whole run.
- Tool calls are recorded once, from the stream's events (`TurnRecord`): id, name and
  arguments when the model calls a tool, then the tool's outcome and a short preview of what it
  returned. The streamed text is kept too, for a turn that does not finish.
- A turn ends in exactly one way, told to its handler:
  - finished: the run produced its output; `handler.complete` turns it into the kind's result,
    sent as `TurnFinished`;
  - refused: the provider's content filter refused (`is_content_filter`); that is an answer,
    not a failure: `handler.refuse` gives a polite result, sent as `TurnFinished`;
  - failed: any other error, mapped to a domain error (`to_domain_error`, never the
    provider's raw text): `handler.abandon(record, "failed")`, then `TurnFailed`, which also
    carries the exception (`cause`) for a kind that answers some failures its own way
    (advice ends in a fallback advice; chat sends the error);
  - interrupted: the consumer closed the stream (a client went away) or the task was
    cancelled: `handler.abandon(record, "interrupted")`, and no final event.

The events of a turn (`TurnEvent[ResultT]`): `TurnStarted`, then PydanticAI's own stream
events (`AgentStreamEvent`, the last of them an `AgentRunResultEvent`), then `TurnFinished` or
`TurnFailed`. Encoders (`backend/api/streams.py`) read these types and record nothing.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, Protocol, TypeAlias, TypeVar

from loguru import logger
from pydantic_ai import Agent
from pydantic_ai import exceptions as ai_errors
from pydantic_ai.messages import (
    AgentStreamEvent,
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
from pydantic_ai.run import AgentRunResult, AgentRunResultEvent
from pydantic_ai.usage import UsageLimits

from use_cases.chat.agent import AgentLimits
from use_cases.chat.domain import TokenUsage, ToolCall
from use_cases.chat.ports import NoTurnObserver, TurnEnded, TurnObserver, TurnOutcome
from use_cases.chat.prompts import SEARCH_TOOL
from use_cases.shared.errors import (
    AlmanacError,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from use_cases.shared.sampling import NO_SAMPLING, Sampling

__all__ = [
    "AgentCall",
    "TurnEvent",
    "TurnFailed",
    "TurnFinished",
    "TurnHandler",
    "TurnRecord",
    "TurnRunner",
    "TurnStarted",
    "drain",
    "is_content_filter",
    "model_history",
    "sentence_pieces",
    "to_domain_error",
    "token_usage",
    "tool_result_text",
]


DepsT = TypeVar("DepsT")
OutputT = TypeVar("OutputT")
ResultT = TypeVar("ResultT")
ResultT_co = TypeVar("ResultT_co", covariant=True)
OutputT_contra = TypeVar("OutputT_contra", contravariant=True)

PREVIEW_CHARS = 300


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnStarted:
    """The turn is accepted (nothing about it can be refused any more) and the model is about
    to be called. `message_id`: the id its answer will have ("" for a kind that stores no
    message, as advice); `model`: the model's label."""

    message_id: str
    model: str


@dataclass(frozen=True)
class TurnFinished(Generic[ResultT]):
    """The turn's answer, as its kind records it (e.g. a stored `ChatResult`)."""

    result: ResultT


@dataclass(frozen=True)
class TurnFailed:
    """The turn failed; `error` is safe to show (its `detail` never holds provider text).
    `cause`: the exception the run raised, for a kind of turn that answers some failures its
    own way (advice gives a fallback for output that never validated); never shown."""

    error: AlmanacError
    cause: BaseException | None = None


#: Everything a turn's stream yields, in order: `TurnStarted`, PydanticAI's events, then
#: `TurnFinished[ResultT]` or `TurnFailed`.
TurnEvent: TypeAlias = (
    TurnStarted | AgentStreamEvent | AgentRunResultEvent[Any] | TurnFinished[ResultT] | TurnFailed
)


# --- what a run is sent, and what it produced ---------------------------------------------


@dataclass(frozen=True)
class AgentCall(Generic[DepsT]):
    """What one run sends: the latest user message as the model sees it (date-anchored, see
    `use_cases.chat.prompts.anchored_prompt`), the prior conversation, the model (a PydanticAI
    model object or name, from `ModelResolver.resolve`), the run's dependencies and the client's
    sampling settings (`use_cases.shared.sampling`), sent with every request of the run."""

    prompt: str
    history: Sequence[ModelMessage]
    model: Any
    deps: DepsT
    sampling: Sampling = NO_SAMPLING
    opening_search: str | None = None
    """A query Almanac searches the knowledge base with before the model answers (`opening_search`
    in `use_cases/chat/agent.py`): the run starts with that search tool call, made through the
    real tool, so its result reaches the model as the call's result, and its events, tool call
    record and citations are those of any search."""
    timeout_s: float | None = None
    """Seconds this run may take; None: the runner's `AgentLimits.timeout_s`."""
    fixed_answer: str | None = None
    """The turn's answer when it was decided before the model (a declined turn's): the turn
    streams it and calls no model (`model` is then unused)."""

    def start(self) -> tuple[str | None, list[ModelMessage]]:
        """The run's prompt and message history: with an opening search, the prompt goes into
        the history followed by the search's tool call, and the run resumes from there."""
        if self.opening_search is None:
            return self.prompt, list(self.history)
        call = ToolCallPart(
            SEARCH_TOOL, {"query": self.opening_search}, tool_call_id=f"call_{uuid.uuid4().hex}"
        )
        opened: list[ModelMessage] = [
            ModelRequest(parts=[UserPromptPart(self.prompt)]),
            ModelResponse(parts=[call]),
        ]
        return None, [*self.history, *opened]


class TurnRecord:
    """What a run has produced so far, read from its events: the streamed text and the tool
    calls (each recorded once, and updated when its tool answers)."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._text: list[str] = []
        self._calls: dict[str, ToolCall] = {}

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(self._calls.values())

    @property
    def latency_ms(self) -> int:
        return int((time.perf_counter() - self._started) * 1000)

    def observe(self, event: AgentStreamEvent | AgentRunResultEvent[Any]) -> None:
        if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
            self._text.append(event.part.content)
        elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
            self._text.append(event.delta.content_delta)
        elif isinstance(event, FunctionToolCallEvent):
            part = event.part
            self._calls[part.tool_call_id] = ToolCall(
                part.tool_call_id, part.tool_name, part.args_as_dict()
            )
        elif isinstance(event, FunctionToolResultEvent):
            returned = event.part
            call = self._calls.get(returned.tool_call_id)
            if call is not None:
                self._calls[returned.tool_call_id] = replace(
                    call,
                    status=returned.outcome,
                    result_preview=_preview(tool_result_text(returned)),
                )


def tool_result_text(part: ToolReturnPart) -> str:
    """What a tool call gave back to the model: its result, or the error or retry request
    (then `part.outcome` is not "success")."""
    return part.model_response_str()


def _preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def token_usage(result: AgentRunResult[Any]) -> TokenUsage:
    usage = result.usage
    return TokenUsage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        requests=usage.requests or 0,
        # A model request always reads tokens: none counted means none were reported.
        reported=bool(usage.input_tokens or usage.output_tokens),
    )


def model_history(turns: Iterable[tuple[str, str]]) -> list[ModelMessage]:
    """Prior turns as the model is sent them: plain user and assistant text (any role but
    "user" is the assistant's: a client's whole conversation may name others)."""
    history: list[ModelMessage] = []
    for role, text in turns:
        if role == "user":
            history.append(ModelRequest(parts=[UserPromptPart(text)]))
        else:
            history.append(ModelResponse(parts=[TextPart(text)]))
    return history


# --- how a turn ends ----------------------------------------------------------------------


class TurnHandler(Protocol[OutputT_contra, ResultT_co]):
    """What one kind of turn does when its run ends (one handler per turn)."""

    async def complete(self, run: AgentRunResult[OutputT_contra], record: TurnRecord) -> ResultT_co:
        """The run produced its output: record the answer, return the turn's result."""
        ...

    async def refuse(self, record: TurnRecord) -> ResultT_co:
        """The provider's content filter refused: record and return a polite refusal."""
        ...

    def abandon(self, record: TurnRecord, status: Literal["interrupted", "failed"]) -> None:
        """The turn did not finish: record what it produced. Synchronous on purpose: it runs
        while the task is being cancelled, when awaiting is no longer possible."""
        ...


class TurnRunner(Generic[DepsT, OutputT]):
    """Runs turns on one agent: each a single streamed run bounded by `limits`."""

    def __init__(
        self,
        agent: Agent[DepsT, OutputT],
        limits: AgentLimits,
        *,
        kind: str = "chat",
        observer: TurnObserver | None = None,
    ) -> None:
        self._agent = agent
        self._limits = limits
        self._kind = kind
        self._observer = observer or NoTurnObserver()

    async def run(
        self,
        call: AgentCall[DepsT],
        started: TurnStarted,
        handler: TurnHandler[OutputT, ResultT],
    ) -> AsyncGenerator[TurnEvent[ResultT], None]:
        """Yield `started`, the run's events, then `TurnFinished` or `TurnFailed`. Closing the
        iterator early (or cancelling its task) settles the turn as interrupted. The observer
        is told how each turn ended, once."""
        record = TurnRecord()
        outcome: TurnFinished[ResultT] | TurnFailed
        ended: TurnOutcome = "interrupted"
        usage = TokenUsage()
        try:
            yield started
            result: AgentRunResult[OutputT] | None = None
            async with self._events(call) as events:
                async for event in events:
                    record.observe(event)
                    if isinstance(event, AgentRunResultEvent):
                        result = event.result
                    yield event
            if result is None:
                raise ai_errors.UnexpectedModelBehavior("The run ended without a result.")
            usage = token_usage(result)
            outcome = TurnFinished(await handler.complete(result, record))
            ended = "answered"
        except Exception as exc:
            outcome = await self._settle_failure(exc, record, handler)
            ended = "refused" if isinstance(outcome, TurnFinished) else "failed"
        except BaseException:
            # The consumer went away (GeneratorExit) or the task was cancelled: keep what was
            # said, marked as not a complete answer.
            handler.abandon(record, "interrupted")
            raise
        finally:
            self._observer.turn_ended(
                TurnEnded(
                    self._kind,
                    started.model,
                    ended,
                    record.latency_ms / 1000,
                    usage.input_tokens,
                    usage.output_tokens,
                )
            )
        yield outcome

    @asynccontextmanager
    async def _events(
        self, call: AgentCall[DepsT]
    ) -> AsyncIterator[AsyncIterator[AgentStreamEvent | AgentRunResultEvent[Any]]]:
        """The run's events: the agent's, or, for an answer decided before the model, those
        the agent would give for that text."""
        if call.fixed_answer is not None:
            yield _answer_events(call.fixed_answer)
            return
        prompt, history = call.start()
        async with self._agent.run_stream_events(
            prompt,
            message_history=history,
            deps=call.deps,
            model=call.model,
            model_settings=call.sampling.model_settings(),
            usage_limits=UsageLimits(request_limit=self._limits.request_limit),
            timeout=call.timeout_s or self._limits.timeout_s,
        ) as events:
            yield events

    @staticmethod
    async def _settle_failure(
        exc: Exception, record: TurnRecord, handler: TurnHandler[OutputT, ResultT]
    ) -> TurnFinished[ResultT] | TurnFailed:
        """A run that raised: a content filter's refusal is the handler's `refuse`; any other
        error, or a `refuse` that fails in turn, ends the turn as failed. Cancelled while
        refusing, the turn is interrupted. Either way the turn ends exactly once."""
        if is_content_filter(exc):
            try:
                return TurnFinished(await handler.refuse(record))
            except Exception as refusal_failed:
                exc = refusal_failed
            except BaseException:
                handler.abandon(record, "interrupted")
                raise
        error = to_domain_error(exc)
        if error is not exc:
            error.__cause__ = exc
        handler.abandon(record, "failed")
        return TurnFailed(error, cause=exc)


async def _answer_events(text: str) -> AsyncIterator[AgentStreamEvent | AgentRunResultEvent[Any]]:
    """The events of a run whose model answered `text` at once, in sentence pieces: the
    text part's start (the first piece), the final result, a delta per further piece, the
    part's end and the run's result."""
    pieces = sentence_pieces(text) or [""]
    yield PartStartEvent(index=0, part=TextPart(pieces[0]))
    yield FinalResultEvent(tool_name=None, tool_call_id=None)
    for piece in pieces[1:]:
        yield PartDeltaEvent(index=0, delta=TextPartDelta(content_delta=piece))
    yield PartEndEvent(index=0, part=TextPart(text))
    yield AgentRunResultEvent(result=AgentRunResult(output=text))


#: The end of a streamed piece: a sentence's end (with closing quotes and brackets) and the
#: whitespace after it, or a line break.
_PIECE_END = re.compile(r"[.!?][\"')\]]*\s+|\n\s*")


def sentence_pieces(text: str) -> list[str]:
    """Sentence-sized pieces (each with the whitespace after it) that join back to `text`:
    one per sentence or line, as a writer produces them. Every piece is a stream event that
    goes through PydanticAI's stream and the client's encoder: word-sized pieces had cost a
    turn about a quarter of its time, for an answer that was already whole."""
    pieces: list[str] = []
    start = 0
    for end in _PIECE_END.finditer(text):
        pieces.append(text[start : end.end()])
        start = end.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


async def drain(events: AsyncGenerator[TurnEvent[ResultT], None]) -> ResultT:
    """The blocking form of a turn: consume its stream; return its result or raise its error."""
    async with aclosing(events) as stream:
        async for event in stream:
            if isinstance(event, TurnFinished):
                return event.result
            if isinstance(event, TurnFailed):
                raise event.error
    raise RuntimeError("The turn's stream ended without a result.")


# --- errors --------------------------------------------------------------------------------


def is_content_filter(exc: BaseException) -> bool:
    if isinstance(exc, ai_errors.ContentFilterError):
        return True
    if isinstance(exc, ai_errors.ModelAPIError):
        code = (exc.provider_error_code or "").lower()
        text = str(exc).lower()
        return "content_filter" in code or "content_filter" in text or "responsibleai" in text
    return False


def to_domain_error(exc: BaseException) -> AlmanacError:
    """Map a failed run to the error the API shows (never the provider's raw text)."""
    if isinstance(exc, AlmanacError):
        return exc
    if isinstance(exc, ai_errors.RunTimedOut | TimeoutError | ai_errors.ModelTimeoutError):
        return UpstreamTimeout("The model did not answer in time. Try again.")
    if isinstance(exc, ai_errors.ModelRateLimitError | ai_errors.ModelQuotaExceededError):
        return UpstreamUnavailable(
            "The model provider is rate-limiting requests. Try again shortly."
        )
    if isinstance(exc, ai_errors.ModelUnavailableError | ai_errors.ModelConnectionError):
        return UpstreamUnavailable("The model provider is unavailable. Try again shortly.")
    if isinstance(exc, ai_errors.ModelAPIError):
        status = getattr(exc, "status_code", None)
        return UpstreamBadResponse(
            f"The model provider failed{f' (HTTP {status})' if status else ''}. Try again later."
        )
    if isinstance(exc, ai_errors.OutputTokenLimitExceeded):
        return UpstreamBadResponse(
            "The model's answer was cut off at its token limit before it was complete. Try "
            "again, or allow more tokens (the request's max_tokens, or MODEL_OPTIONS)."
        )
    if isinstance(exc, ai_errors.UsageLimitExceeded):
        return UpstreamBadResponse("The model did not reach an answer within its request budget.")
    if isinstance(exc, ai_errors.UnexpectedModelBehavior):
        return UpstreamBadResponse("The model returned an answer Almanac could not use.")
    logger.opt(exception=exc).error("A turn failed unexpectedly")
    return UpstreamBadResponse("The answer could not be produced because of an internal error.")
