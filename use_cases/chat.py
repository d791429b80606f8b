"""Chat turns: a question in, a grounded answer with citations out, the conversation kept.

Rules:
- The message is stripped and must hold 1 to `max_message_chars` characters (MAX_MESSAGE_CHARS,
  8,000 by default); the model is resolved before
  anything is written, so a refused model leaves no trace.
- The backend owns history: the client sends only the new message and (optionally) a chat id.
  Unknown users are provisioned; a new chat is titled from its first message.
- A `chat_id` must name one of the user's chats; a missing one and someone else's answer the
  same `NotFound`, before anything is written, so ids cannot be probed. Only a request with
  `start_if_missing` (useChat clients choose the id of a new chat) creates a chat under an
  unused id; someone else's id is still `NotFound` then.
- The user message is stored first; the assistant message is stored as `streaming` before the
  model is called and finalised as `complete`, `interrupted` (client went away) or `failed`
  (upstream error), with whatever text was produced. A turn that did not finish never reads
  as a complete answer.
- The current date is prefixed to the latest user message sent to the model, never stored.
- The model (the request's, else the default of chat turns, see `use_cases/model_defaults.py`)
  and the system prompt (the chat prompt in force, see `use_cases/prompts.py`) are read when
  the turn starts, so an admin's change applies to the next turn without a restart. An answer
  that recites that same prompt is withheld (`INSTRUCTIONS_WITHHELD`).
- Prior turns are sent to the model as plain user/assistant text (the last `history_window`
  messages); failed assistant turns are left out.
- Provider refusals by content filter become a polite refusal (a complete answer); other
  upstream failures become `UpstreamUnavailable` / `UpstreamTimeout` / `UpstreamBadResponse`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic_ai import Agent
from pydantic_ai import exceptions as ai_errors
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.run import AgentRunResult, AgentRunResultEvent
from pydantic_ai.usage import UsageLimits

from use_cases.agent import (
    INSTRUCTIONS_WITHHELD,
    NOT_FOUND_ANSWER,
    SYSTEM_PROMPT,
    AgentDeps,
    AgentLimits,
    Citation,
    anchored_prompt,
    leaks_instructions,
)
from use_cases.chat_domain import Chat, Message, NewMessage, TokenUsage
from use_cases.chats import chat_not_found
from use_cases.errors import (
    AlmanacError,
    InvalidRequest,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from use_cases.ports import Clock, HistoryStore, ModelResolver, ResolvedModel

_log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 8000
REFUSAL_ANSWER = (
    "I'm sorry, but I can't help with that request. I can answer questions about the "
    "organisation's documents and data."
)
_CITATION = re.compile(r"\[(\d{1,3})\]")
_TABLE_CITATION = re.compile(r"\[(table: [^\]]+)\]")


@dataclass(frozen=True)
class ChatRequest:
    user_id: str
    message: str
    chat_id: str | None = None
    model: str | None = None
    start_if_missing: bool = False
    """Create the chat `chat_id` if no chat has that id yet (the client chose it)."""


@dataclass(frozen=True)
class ChatResult:
    chat_id: str
    message_id: str
    user_message_id: str
    answer: str
    tool_calls: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    model: str
    usage: TokenUsage
    latency_ms: int
    refused: bool = False


@dataclass(frozen=True)
class TurnStarted:
    chat_id: str
    message_id: str
    user_message_id: str
    model: str


@dataclass(frozen=True)
class TurnFinished:
    result: ChatResult


@dataclass(frozen=True)
class TurnFailed:
    chat_id: str
    message_id: str
    error: AlmanacError


@dataclass
class _Turn:
    chat: Chat
    user_message: Message
    assistant: Message
    prior: list[Message]
    resolved: ResolvedModel
    deps: AgentDeps
    started: float = field(default_factory=time.perf_counter)
    text: list[str] = field(default_factory=list)
    tool_calls: dict[str, dict[str, Any]] = field(default_factory=dict)


DepsFactory = Callable[[], AgentDeps]
#: The system prompt in force, read at the start of each turn (from a worker thread).
InstructionsSource = Callable[[], str]


def built_in_prompt() -> str:
    return SYSTEM_PROMPT


class ChatTurns:
    """Runs chat turns, blocking (`execute`) or as a stream of agent events (`stream`)."""

    def __init__(
        self,
        agent: Agent[AgentDeps, str],
        history: HistoryStore,
        models: ModelResolver,
        deps_factory: DepsFactory,
        clock: Clock,
        limits: AgentLimits,
        *,
        history_window: int = 20,
        instructions: InstructionsSource = built_in_prompt,
        max_message_chars: int = MAX_MESSAGE_CHARS,
    ) -> None:
        self._instructions = instructions
        self._agent = agent
        self._history = history
        self._models = models
        self._deps_factory = deps_factory
        self._clock = clock
        self._limits = limits
        self._history_window = history_window
        self._max_message_chars = max_message_chars

    def model_identifier(self, requested: str | None) -> str:
        """The model a turn asking for `requested` would use; raises if it may not be used."""
        return self._models.resolve(requested).identifier

    async def execute(self, request: ChatRequest) -> ChatResult:
        turn = await self._open(request)
        try:
            result = await self._agent.run(
                self._prompt(request),
                message_history=self._model_history(turn.prior),
                deps=turn.deps,
                model=turn.resolved.model,
                usage_limits=UsageLimits(request_limit=self._limits.request_limit),
                timeout=self._limits.timeout_s,
            )
        except BaseException as exc:
            return await self._settle_error(turn, exc)
        for message in result.new_messages():
            _collect_tool_calls(turn, message)
        return await self._complete(turn, result.output, result)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Any]:
        """Yields `TurnStarted`, then PydanticAI stream events, then `TurnFinished` or
        `TurnFailed`. Closing the iterator early stores the turn as interrupted."""
        turn = await self._open(request)
        yield TurnStarted(
            turn.chat.id, turn.assistant.id, turn.user_message.id, turn.resolved.identifier
        )
        finished = False
        try:
            result: AgentRunResult[str] | None = None
            async with self._agent.run_stream_events(
                self._prompt(request),
                message_history=self._model_history(turn.prior),
                deps=turn.deps,
                model=turn.resolved.model,
                usage_limits=UsageLimits(request_limit=self._limits.request_limit),
                timeout=self._limits.timeout_s,
            ) as events:
                async for event in events:
                    _track(turn, event)
                    if isinstance(event, AgentRunResultEvent):
                        result = event.result
                    yield event
            assert result is not None
            final = await self._complete(turn, result.output, result)
            finished = True
            yield TurnFinished(final)
        except (GeneratorExit, asyncio.CancelledError):
            # The client went away: keep what was said, marked as not a complete answer.
            self._finalize_now(turn, "interrupted")
            finished = True
            raise
        except Exception as exc:
            try:
                refusal = await self._settle_error(turn, exc)
            except AlmanacError as error:
                finished = True
                yield TurnFailed(turn.chat.id, turn.assistant.id, error)
                return
            finished = True
            yield TurnFinished(refusal)
        finally:
            if not finished:
                self._finalize_now(turn, "interrupted")

    # --- steps ----------------------------------------------------------------------------

    async def _open(self, request: ChatRequest) -> _Turn:
        question = request.message.strip()
        if not question:
            raise InvalidRequest("The message is empty.")
        if len(question) > self._max_message_chars:
            raise InvalidRequest(
                f"The message is {len(question):,} characters long; the limit is "
                f"{self._max_message_chars:,} (MAX_MESSAGE_CHARS)."
            )
        resolved, instructions = await asyncio.to_thread(self._prepare, request.model)
        chat, prior, user_message, assistant = await asyncio.to_thread(
            self._store_question, request, question, resolved.identifier
        )
        deps = replace(self._deps_factory(), instructions=instructions)
        return _Turn(chat, user_message, assistant, prior, resolved, deps)

    def _prepare(self, requested: str | None) -> tuple[ResolvedModel, str]:
        """The turn's model and system prompt, before anything is written (both may read
        the app DB)."""
        return self._models.resolve(requested), self._instructions()

    def _store_question(
        self, request: ChatRequest, question: str, model: str
    ) -> tuple[Chat, list[Message], Message, Message]:
        if request.chat_id is not None:
            self._check_chat(request)
        self._history.ensure_user(request.user_id)
        chat = self._history.get_or_create_chat(request.chat_id, request.user_id, question)
        prior = self._history.list_messages(chat.id, limit=self._history_window)
        user_message = self._history.append_message(chat.id, NewMessage("user", question))
        assistant = self._history.append_message(
            chat.id, NewMessage("assistant", "", model=model, status="streaming")
        )
        return chat, prior, user_message, assistant

    def _check_chat(self, request: ChatRequest) -> None:
        assert request.chat_id is not None
        chat = self._history.get_chat(request.chat_id)
        if chat is None and request.start_if_missing:
            return
        if chat is None or chat.user_id != request.user_id:
            raise chat_not_found(request.chat_id)

    def _prompt(self, request: ChatRequest) -> str:
        return anchored_prompt(request.message.strip(), self._clock.today())

    def _model_history(self, prior: list[Message]) -> list[ModelMessage]:
        history: list[ModelMessage] = []
        for message in prior:
            if message.role == "user":
                history.append(ModelRequest(parts=[UserPromptPart(message.content)]))
            elif message.status in ("complete", "interrupted") and message.content:
                history.append(ModelResponse(parts=[TextPart(message.content)]))
        return history

    async def _complete(
        self, turn: _Turn, answer: str, result: AgentRunResult[str], *, refused: bool = False
    ) -> ChatResult:
        if leaks_instructions(answer, turn.deps.instructions):
            # A prompt injection (or a user) talked the model into reciting its instructions.
            _log.warning(
                "Withheld an answer that repeated the system prompt (chat %s)", turn.chat.id
            )
            answer = INSTRUCTIONS_WITHHELD
        usage = result.usage
        token_usage = TokenUsage(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            requests=usage.requests or 0,
        )
        return await self._store_answer(turn, answer, token_usage, refused=refused)

    async def _store_answer(
        self, turn: _Turn, answer: str, usage: TokenUsage, *, refused: bool = False
    ) -> ChatResult:
        sources = [] if refused else cited_sources(answer, turn.deps.citations)
        tool_calls = list(turn.tool_calls.values())
        latency_ms = int((time.perf_counter() - turn.started) * 1000)
        await asyncio.to_thread(
            self._history.finalize_message,
            turn.assistant.id,
            NewMessage(
                "assistant",
                answer,
                tool_calls=tool_calls,
                sources=sources,
                model=turn.resolved.identifier,
                latency_ms=latency_ms,
                usage=usage,
                status="complete",
            ),
        )
        return ChatResult(
            chat_id=turn.chat.id,
            message_id=turn.assistant.id,
            user_message_id=turn.user_message.id,
            answer=answer,
            tool_calls=tool_calls,
            sources=sources,
            model=turn.resolved.identifier,
            usage=usage,
            latency_ms=latency_ms,
            refused=refused,
        )

    async def _settle_error(self, turn: _Turn, exc: BaseException) -> ChatResult:
        """Store the failed turn and raise its domain error, or answer a content-filter refusal."""
        if isinstance(exc, asyncio.CancelledError | GeneratorExit | KeyboardInterrupt):
            self._finalize_now(turn, "interrupted")
            raise exc
        if is_content_filter(exc):
            return await self._store_answer(turn, REFUSAL_ANSWER, TokenUsage(), refused=True)
        error = to_domain_error(exc)
        self._finalize_now(turn, "failed")
        raise error from exc

    def _finalize_now(self, turn: _Turn, status: str) -> None:
        """Synchronous on purpose: it runs while the task is being cancelled."""
        self._history.finalize_message(
            turn.assistant.id,
            NewMessage(
                "assistant",
                "".join(turn.text),
                tool_calls=list(turn.tool_calls.values()),
                sources=[],
                model=turn.resolved.identifier,
                latency_ms=int((time.perf_counter() - turn.started) * 1000),
                status=status,  # type: ignore[arg-type]
            ),
        )


# --- helpers -------------------------------------------------------------------------------


def _track(turn: _Turn, event: Any) -> None:
    if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
        turn.text.append(event.part.content)
    elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
        turn.text.append(event.delta.content_delta)
    elif isinstance(event, FunctionToolCallEvent):
        part = event.part
        turn.tool_calls[part.tool_call_id] = {
            "id": part.tool_call_id,
            "name": part.tool_name,
            "args": part.args_as_dict(),
        }
    elif isinstance(event, FunctionToolResultEvent):
        part = event.part
        call = turn.tool_calls.get(part.tool_call_id)
        if call is not None:
            call["status"] = "retried" if not isinstance(part, ToolReturnPart) else part.outcome
            call["result_preview"] = _preview(
                part.model_response_str()
                if hasattr(part, "model_response_str")
                else str(part.content)
            )


def _collect_tool_calls(turn: _Turn, message: ModelMessage) -> None:
    for part in message.parts:
        if isinstance(part, ToolCallPart):
            turn.tool_calls[part.tool_call_id] = {
                "id": part.tool_call_id,
                "name": part.tool_name,
                "args": part.args_as_dict(),
            }
        elif isinstance(part, ToolReturnPart) and part.tool_call_id in turn.tool_calls:
            call = turn.tool_calls[part.tool_call_id]
            call["status"] = part.outcome
            call["result_preview"] = _preview(_result_text(part))


def _result_text(part: Any) -> str:
    if isinstance(part, ToolReturnPart):
        return part.model_response_str()
    return str(part.model_response())


def _preview(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cited_sources(answer: str, citations: list[Citation]) -> list[dict[str, Any]]:
    """The citations the answer refers to by [n]; none for the can't-find answer."""
    if answer.strip().startswith(NOT_FOUND_ANSWER):
        return []
    numbers = {int(n) for n in _CITATION.findall(answer)}
    tables = set(_TABLE_CITATION.findall(answer))
    return [
        c.as_dict()
        for c in citations
        if c.number in numbers or (c.kind == "table" and c.title in tables)
    ]


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
    if isinstance(exc, ai_errors.UsageLimitExceeded):
        return UpstreamBadResponse("The model did not reach an answer within its request budget.")
    if isinstance(exc, ai_errors.UnexpectedModelBehavior):
        return UpstreamBadResponse("The model returned an answer Almanac could not use.")
    _log.error("Chat turn failed unexpectedly", exc_info=exc)
    return UpstreamBadResponse("The answer could not be produced because of an internal error.")
