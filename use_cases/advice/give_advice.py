"""Structured advice: a conversation in, one `StructuredAdvice` out, streamed or whole.

Rules:
- The conversation holds 1 to `max_conversation_messages` messages, each `user` or
  `assistant`, the last from the user with 1 to `max_message_chars` characters after
  stripping (`InvalidRequest` otherwise); its text totals at most `max_conversation_chars`
  (`PayloadTooLarge`). The model (the request's if allowed, else the default of advice turns)
  and the advice prompt in force are read before the run starts, so bad input or a refused
  model fails before any event, and an admin's change applies to the next turn. The request's
  `prompt_type` picks another prompt type's prompt in force (`chat`; default `advice`); a type
  that does not exist is `InvalidRequest`.
- The current date is prefixed to the latest user message; up to `history_window` earlier
  messages go to the model as plain user/assistant text. Nothing is stored in the chat history.
- Threads (`use_cases/advice/manage_threads.py`): with `thread_id`, the conversation must be the
  new question alone (`InvalidRequest` otherwise) and the earlier messages are the thread's
  questions and advice; someone else's thread is `NotFound` before the run. A finished advice
  (a fallback for output that never validated included; not a failed or stopped run) is added
  to the thread, which the first advice creates, before the advice is sent, so a client that
  reloads after the stream sees it.
- The search-discipline engine (`use_cases/chat/search_discipline.py`) decides on the latest
  question and `search_override` (`search_decision`), as for chat: the model sees the question
  without `/search` / `/nosrch` markers; when it may not search, the search tool is not
  offered at all; MANDATORY sends an advice given without a search back for a retry.
- Every advice is logged in the response log (`responses`), and its confidence is the
  shared estimator's, calibrated like a chat answer's (`use_cases/confidence/estimator.py`).
- The model writes an `AdviceDraft` through PydanticAI structured output; PydanticAI validates
  it and sends invalid output back for a retry (`AgentLimits.output_retries`); a draft citing
  a passage no tool returned (in `cited_passages` or as an [n] in its advice, reasoning or
  alternatives) is retried too, and what it still invents on its last attempt is removed
  (`checked_draft`), with the confidence lowered as for chat (`INVENTED_CITATION_FACTOR`);
  the stream never sends such a marker. Almanac fills in the rest: `sources` (the cited
  passages: `cited_passages` plus [n] markers in the text, only numbers a tool returned; none
  for the can't-find answer), `confidence_score` (from the evidence, calibrated),
  `confidence_phrase`, `model_identifier`, `search_decision`, and `response_id` (its entry
  in the response log).
- Streaming: `main_advice` is streamed as the output tool's arguments arrive (a partial JSON
  parse of them); what was sent is never taken back. The deltas of a turn always join into a
  prefix of the final `main_advice`: when a retry rewrote the advice, or the turn ended in a
  fallback, the final text is the text already sent, a blank line, then the final advice.
- Fallback: when the output still fails validation after the retries, the turn ends with a
  schema-valid advice saying so (confidence 0, no sources). When the run fails after it began
  (provider down, time out) the stream ends with such a fallback too, carrying the domain
  error; the blocking `execute` raises that error instead (as chat does).
- A provider's content-filter refusal is a polite refusal advice (confidence 0). An advice
  that recites the advice prompt is withheld (`INSTRUCTIONS_WITHHELD`).
- One code path: the run is the shared turn core's (`use_cases/chat/turn_runner.py`), as for chat. A
  `TurnRunner` on the advice agent runs the `AgentCall`; the turn's handler (`_AdviceTurn`)
  builds the advice from the run's `AdviceDraft` (`complete`), gives the refusal advice
  (`refuse`) and stores nothing for a turn that did not finish (`abandon`); a `TurnFailed`
  becomes the fallback (its `cause` tells output that never validated from a failed run).
  The same limits, tool-call recording and error mapping apply: whether a search ran is read
  from the tool calls the core recorded (`TurnRecord`). `execute` consumes `stream`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import AsyncGenerator, Callable, Collection, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Literal

import pydantic_core
from loguru import logger
from pydantic import ValidationError
from pydantic_ai import Agent
from pydantic_ai import exceptions as ai_errors
from pydantic_ai.messages import (
    AgentStreamEvent,
    PartDeltaEvent,
    PartStartEvent,
    ToolCallPart,
    ToolCallPartDelta,
)
from pydantic_ai.run import AgentRunResult

from use_cases.advice.agent import ADVICE_SYSTEM_PROMPT, ADVICE_TOOL, AdviceDeps, advice_texts
from use_cases.advice.domain import (
    AdviceDelta,
    AdviceDraft,
    AdviceEvent,
    AdviceFinished,
    AdviceRequest,
    AdviceSource,
    AdviceStarted,
    Alternative,
    SearchDecision,
    StructuredAdvice,
    WebSearchReport,
)
from use_cases.advice.manage_threads import readable_entries, thread_not_found
from use_cases.advice.ports import AdviceThreadStore
from use_cases.chat.agent import AgentLimits, opening_search
from use_cases.chat.chat_turns import (
    MAX_MESSAGE_CHARS,
    REFUSAL_ANSWER,
    ResponseRecorder,
    checked_conversation,
)
from use_cases.chat.citations import (
    Citation,
    CitationOrder,
    citation_markers,
    invented_citations,
    without_citations,
)
from use_cases.chat.decisions import TurnDecisions, bind_turn
from use_cases.chat.domain import ConversationMessage
from use_cases.chat.ports import TurnObserver, WebSearch
from use_cases.chat.prompts import (
    INSTRUCTIONS_WITHHELD,
    NOT_FOUND_ANSWER,
    SEARCH_TOOL,
    anchored_prompt,
    leaks_instructions,
)
from use_cases.chat.responses import ResponseRecord
from use_cases.chat.search_discipline import SearchDecision as Discipline
from use_cases.chat.search_discipline import decide, web_search_status
from use_cases.chat.tools import deps_for_turn
from use_cases.chat.turn_runner import (
    AgentCall,
    TurnFailed,
    TurnFinished,
    TurnRecord,
    TurnRunner,
    TurnStarted,
    model_history,
)
from use_cases.chat.withholding import StoredAnswers
from use_cases.confidence.estimator import DEFAULT_PHRASES
from use_cases.knowledge.collections import ResolveReadScope, reader_of
from use_cases.knowledge.scoped import scoped
from use_cases.prompts.ports import ModelResolver, ResolvedModel
from use_cases.shared.clock import Clock
from use_cases.shared.errors import InvalidRequest, NotFound
from use_cases.tables.tables import scoped_sql

MAX_CONVERSATION_MESSAGES = 500
MAX_CONVERSATION_CHARS = 400_000

FALLBACK_INVALID = (
    "Almanac could not produce valid advice: the model's answer did not pass validation, so "
    "no advice is given. Try again, or ask the question in chat."
)
FALLBACK_FAILED = "Almanac could not produce advice: {detail}"

#: The turn's search decision from the latest question and the request's override.
SearchPolicy = Callable[[str, bool | None], Discipline]
AdviceDepsFactory = Callable[[], AdviceDeps]
#: The text of the prompt in force of a prompt type (`NotFound` for an unknown type).
InstructionsSource = Callable[[str], str]


def override_policy(question: str, override: bool | None) -> Discipline:
    """The default search policy: the search-discipline engine (`use_cases/chat/search_discipline`)
    on the latest question and the request's override."""
    return decide(question, override)


#: (lower bound, phrase), highest first.
def confidence_phrase(score: float) -> str:
    """The confidence in words, on the default thresholds shared with chat answers
    (`use_cases/confidence/estimator.py`; the response log applies the thresholds in force)."""
    return DEFAULT_PHRASES.phrase_for(score)


class GiveAdvice:
    """Runs advice turns, as a stream of `AdviceEvent`s (`stream`) or blocking (`execute`,
    which consumes the same stream). See the module docstring for the rules."""

    def __init__(
        self,
        agent: Agent[AdviceDeps, AdviceDraft],
        models: ModelResolver,
        deps_factory: AdviceDepsFactory,
        clock: Clock,
        limits: AgentLimits,
        *,
        responses: ResponseRecorder,
        instructions: InstructionsSource = lambda prompt_type: ADVICE_SYSTEM_PROMPT,
        search_policy: SearchPolicy = override_policy,
        web_search: WebSearch | None = None,
        threads: AdviceThreadStore | None = None,
        history_window: int = 20,
        max_message_chars: int = MAX_MESSAGE_CHARS,
        max_conversation_messages: int = MAX_CONVERSATION_MESSAGES,
        max_conversation_chars: int = MAX_CONVERSATION_CHARS,
        observer: TurnObserver | None = None,
        readers: ResolveReadScope | None = None,
        answers: StoredAnswers | None = None,
    ) -> None:
        self._readers = readers
        self._answers = answers or StoredAnswers()
        """A thread's earlier advice reaches the model as its reader is shown it."""
        self._runner = TurnRunner(agent, limits, kind="advice", observer=observer)
        self._models = models
        self._deps_factory = deps_factory
        self._clock = clock
        self._instructions = instructions
        self._search_policy = search_policy
        self._web_search = web_search
        self._threads = threads
        self._book = _AdviceBook(responses, limits.output_retries)
        self._history_window = history_window
        self._max_message_chars = max_message_chars
        self._max_messages = max_conversation_messages
        self._max_chars = max_conversation_chars

    async def execute(self, request: AdviceRequest) -> StructuredAdvice:
        """The whole advice; a failed run raises its domain error (a fallback for output that
        failed validation is an advice, not an error)."""
        async with aclosing(self.stream(request)) as events:
            async for event in events:
                if isinstance(event, AdviceFinished):
                    if event.error is not None:
                        raise event.error
                    return event.advice
        raise AssertionError("An advice stream ended without its advice.")

    async def stream(self, request: AdviceRequest) -> AsyncGenerator[AdviceEvent, None]:
        """Yields `AdviceStarted`, `AdviceDelta`s, then one `AdviceFinished` (never an
        exception once started). Bad input raises before the first event. The run is the
        shared turn core's (`TurnRunner`); this reads its events as advice."""
        turn, prior = await self._open(request)
        call = AgentCall(
            prompt=anchored_prompt(turn.question, self._clock.today()),
            history=model_history((m.role, m.content) for m in prior if m.content.strip()),
            # Bound to the turn: a declined advice reaches the offline model as a value.
            model=bind_turn(turn.resolved.model, TurnDecisions.of(turn.deps.search_policy)).model,
            deps=turn.deps,
            sampling=request.sampling,
            opening_search=opening_search(turn.resolved, turn.deps.search_policy, turn.question)
            if turn.deps.search_allowed
            else None,
            timeout_s=turn.resolved.turn_timeout_s,
        )
        # No message is stored for an advice: its id is the response id, known at the end.
        started = TurnStarted(message_id="", model=turn.resolved.identifier)
        async with aclosing(self._runner.run(call, started, turn)) as events:
            async for event in events:
                if isinstance(event, TurnStarted):
                    yield AdviceStarted(event.model)
                elif isinstance(event, TurnFinished):
                    await self._keep(request, event.result)
                    yield AdviceFinished(event.result)
                elif isinstance(event, TurnFailed):
                    finished = await turn.fallback(event)
                    if finished.error is None:
                        await self._keep(request, finished.advice)
                    yield finished
                elif delta := turn.text.feed(event):
                    yield AdviceDelta(delta)

    # --- steps ----------------------------------------------------------------------------

    async def _open(
        self, request: AdviceRequest
    ) -> tuple[_AdviceTurn, Sequence[ConversationMessage]]:
        """The turn (its handler) and the earlier messages the model is sent."""
        question = self._check(request.conversation)
        prior: Sequence[ConversationMessage] = request.conversation[:-1]
        if request.thread_id is not None:
            prior = await asyncio.to_thread(self._thread_history, request, question)
        resolved, instructions = await asyncio.to_thread(
            self._prepare, request.model, request.prompt_type
        )
        resolved.admit()
        decision = self._search_policy(question, request.search_override)
        base = self._deps_factory()
        if self._readers is not None:  # its searches read what the asker may read
            reader = reader_of(request.user_id, request.reader)
            scope = await self._readers.execute(reader, request.filters)
            narrow = functools.partial(self._readers.run, reader)
            base = replace(
                base,
                retriever=scoped(base.retriever, scope),
                sql=scoped_sql(base.sql, scope.collections),
                narrow=narrow,
            )
        deps = deps_for_turn(
            replace(
                base,
                instructions=instructions,
                search_allowed=decision.policy.allow_search,
                citations=[],
            ),
            decision,
            outside_tools=resolved.outside_tools,
        )
        prior = prior[-self._history_window :] if self._history_window else ()
        turn = _AdviceTurn(
            self._book, request.user_id, decision.question, resolved, decision.decision.value, deps
        )
        if request.enable_web_search:
            status = web_search_status(True, self._web_search, decision.policy.allow_search)
            turn.web_search = WebSearchReport(**status.as_dict())
        return turn, prior

    def _check(self, conversation: Sequence[ConversationMessage]) -> str:
        """The latest question, or the error that says what is wrong with the conversation."""
        return checked_conversation(
            conversation,
            max_message_chars=self._max_message_chars,
            max_messages=self._max_messages,
            max_chars=self._max_chars,
        )

    def _thread_history(self, request: AdviceRequest, question: str) -> list[ConversationMessage]:
        """The earlier messages of the request's thread (none for a new one), once the
        request is checked against it."""
        assert request.thread_id is not None
        if self._threads is None:
            raise InvalidRequest("This server keeps no advice threads: leave out thread_id.")
        if len(request.conversation) != 1:
            raise InvalidRequest(
                "With thread_id, send only the new question: the thread's earlier questions "
                "and advice are the conversation."
            )
        if "\x00" in question:
            raise InvalidRequest("The question must not contain NUL characters.")
        thread = self._threads.get_thread(request.thread_id)
        if thread is None:
            return []
        if thread.user_id != request.user_id:
            raise thread_not_found(request.thread_id)
        window = self._history_window
        entries = self._threads.list_entries(thread.id, limit=window) if window else []
        shown = self._answers.of(reader_of(request.user_id, request.reader))
        if shown.restricted and entries:
            entries = readable_entries(entries, shown)
        return [
            message
            for entry in entries
            for message in (
                ConversationMessage("user", entry.question),
                ConversationMessage("assistant", entry.advice.main_advice),
            )
        ]

    async def _keep(self, request: AdviceRequest, advice: StructuredAdvice) -> None:
        """Add a finished advice to the request's thread, if it names one. The advice is
        given even if that fails (the thread was taken by another user meanwhile, the
        database is down): the failure is logged."""
        if request.thread_id is None or self._threads is None:
            return
        question = request.conversation[-1].content.strip()
        try:
            await asyncio.to_thread(
                self._threads.add_entry, request.thread_id, request.user_id, question, advice
            )
        except Exception:
            logger.exception("Could not keep an advice in thread {}", request.thread_id)

    def _prepare(self, requested: str | None, prompt_type: str) -> tuple[ResolvedModel, str]:
        """The turn's model and prompt, before the run (both may read the app DB). A prompt
        type that does not exist is the request's fault: `InvalidRequest`."""
        try:
            instructions = self._instructions(prompt_type)
        except NotFound as exc:
            raise InvalidRequest(f"prompt_type: {exc.detail}") from None
        return self._models.resolve(requested), instructions


@dataclass(frozen=True)
class _AdviceBook:
    """Where every advice of a `GiveAdvice` is logged (and its confidence estimated)."""

    responses: ResponseRecorder
    output_retries: int


@dataclass
class _AdviceTurn:
    """One advice turn once its input is checked: the `TurnHandler` of the advice agent's run
    (`complete`, `refuse`, `abandon`), and the fallback advice when the run fails."""

    book: _AdviceBook
    user_id: str
    question: str
    resolved: ResolvedModel
    decision: SearchDecision
    deps: AdviceDeps
    text: MainAdviceStream = field(init=False)
    unfinished: TurnRecord | None = None
    """What the run produced when it ended without an advice (set by `abandon`)."""
    web_search: WebSearchReport | None = None
    """The web-search status, when the request asked for web search."""

    def __post_init__(self) -> None:
        citations = self.deps.citations
        self.text = MainAdviceStream(ADVICE_TOOL, lambda: {c.number for c in citations})

    async def complete(
        self, run: AgentRunResult[AdviceDraft], record: TurnRecord
    ) -> StructuredAdvice:
        draft = run.output
        if leaks_instructions(" ".join(advice_texts(draft)), self.deps.instructions):
            logger.warning("Withheld an advice that repeated the advice prompt")
            draft = AdviceDraft(main_advice=INSTRUCTIONS_WITHHELD, reasoning="")
        citations = self.deps.citations
        draft, invented = checked_draft(draft, citations)
        refused = draft.main_advice.strip().startswith((NOT_FOUND_ANSWER, INSTRUCTIONS_WITHHELD))
        cited = [] if refused else cited_citations(draft, citations)
        shown = [] if refused else cited_citations(draft, citations, with_alternatives=True)
        refused = refused or not cited
        # As the reader numbers them: the advice (as it streamed), its reasoning, its
        # alternatives, then the passages it names only in `cited_passages`.
        main_advice = self.text.final_text(draft.main_advice)
        order = self.text.order
        reasoning = order.marked(draft.reasoning)
        alternatives = [
            a.model_copy(
                update={"option": order.marked(a.option), "reason": order.marked(a.reason)}
            )
            for a in draft.alternatives
        ]
        for number in draft.cited_passages:
            order.number(number)
        return await self._finish(
            record,
            main_advice,
            reasoning,
            alternatives=alternatives,
            sources=[source_of(c) for c in order.sources(shown)],
            evidence=(cited, refused),
            invented_citations=len(invented),
        )

    async def refuse(self, record: TurnRecord) -> StructuredAdvice:
        return await self._finish(
            record,
            self.text.final_text(REFUSAL_ANSWER),
            "The model provider declined this request.",
        )

    def abandon(self, record: TurnRecord, status: Literal["interrupted", "failed"]) -> None:
        """Nothing is stored of an advice that did not finish. A failed run is answered by
        `fallback` when the runner reports it; an interrupted one by nothing (no one is
        listening)."""
        self.unfinished = record

    async def fallback(self, failed: TurnFailed) -> AdviceFinished:
        """The schema-valid advice that stands in for one the run did not produce: output that
        never validated is an advice (`fallback`), any other failure carries its error."""
        record = self.unfinished or TurnRecord()
        invalid = never_validated(failed.cause)
        if invalid is not None:
            retries = self.book.output_retries
            advice = await self._finish(
                record,
                self.text.final_text(FALLBACK_INVALID),
                "The model's structured answer failed validation after "
                f"{retries} retr{'y' if retries == 1 else 'ies'} ({invalid}); "
                "showing it could mislead, so this fallback replaces it.",
                fallback=True,
            )
            return AdviceFinished(advice, fallback=True)
        advice = await self._finish(
            record,
            self.text.final_text(FALLBACK_FAILED.format(detail=failed.error.detail)),
            "The model run failed before it produced advice.",
            fallback=True,
        )
        return AdviceFinished(advice, fallback=True, error=failed.error)

    async def _finish(
        self,
        record: TurnRecord,
        main_advice: str,
        reasoning: str,
        *,
        alternatives: Sequence[Alternative] = (),
        sources: Sequence[AdviceSource] = (),
        fallback: bool = False,
        evidence: tuple[Sequence[Citation], bool] | None = None,
        invented_citations: int = 0,
    ) -> StructuredAdvice:
        """The advice, logged. Whether a search ran is read from the tool calls the turn core
        recorded. The confidence is the shared estimator's (`use_cases/confidence/estimator.py`),
        calibrated like a chat answer's, from `evidence` (cited citations, refused); without
        evidence (a fallback, a refusal by the provider) the confidence is 0."""
        searched = any(call.name == SEARCH_TOOL for call in record.tool_calls)
        cited, refused = evidence if evidence is not None else ((), True)
        logged = await asyncio.to_thread(
            self.book.responses.record,
            ResponseRecord(
                user_id=self.user_id,
                kind="advice",
                query=self.question,
                response_text=main_advice,
                model=self.resolved.identifier,
                search_ran=searched,
                latency_ms=record.latency_ms,
                cited=cited,
                retrieved=self.deps.citations,
                refused=refused,
                raw_confidence=None if evidence is not None else 0.0,
                invented_citations=invented_citations,
            ),
        )
        grounded = evidence is not None
        return StructuredAdvice(
            response_id=logged.response_id,
            main_advice=main_advice,
            reasoning=reasoning,
            confidence_score=logged.confidence if grounded else 0.0,
            confidence_phrase=logged.confidence_phrase if grounded else confidence_phrase(0.0),
            alternatives=list(alternatives),
            sources=list(sources),
            model_identifier=self.resolved.identifier,
            search_decision=self.decision,
            web_search=self.web_search,
            fallback=fallback,
        )


# --- helpers -------------------------------------------------------------------------------


#: How much of the last validation error an advice's fallback reasoning quotes.
MAX_VALIDATION_DETAIL = 200


def never_validated(cause: BaseException | None) -> str | None:
    """What the last validation said, when a run ended because the model's output never
    passed validation (PydanticAI's output retries ran out on a validation error or an
    output validator's retry); None for any other failure (the provider failed, timed out,
    or answered with nothing), which is the provider's error, not a fallback."""
    if not isinstance(cause, ai_errors.UnexpectedModelBehavior) or isinstance(
        cause, ai_errors.ModelAPIError
    ):
        return None
    last = cause.__cause__
    if not isinstance(last, ai_errors.ToolRetryError | ai_errors.ModelRetry | ValidationError):
        return None
    detail = " ".join(str(last).split())
    return detail[:MAX_VALIDATION_DETAIL] or type(last).__name__


def checked_draft(
    draft: AdviceDraft, citations: Sequence[Citation]
) -> tuple[AdviceDraft, tuple[int, ...]]:
    """The draft without the [n] markers (in its advice, reasoning and alternatives) and the
    `cited_passages` that name no passage a tool returned in this turn, and those numbers:
    what is left of a draft that still invented citations after its retry (the validator of
    `build_agent(ADVICE_TURN)`)."""
    known = {c.number for c in citations}
    invented = sorted(
        set(invented_citations(advice_texts(draft), citations))
        | (set(draft.cited_passages) - known)
    )
    if not invented:
        return draft, ()
    logger.warning("Removed invented citations {} from an advice", invented)
    return (
        draft.model_copy(
            update={
                "main_advice": without_citations(draft.main_advice, invented),
                "reasoning": without_citations(draft.reasoning, invented),
                "alternatives": [
                    a.model_copy(
                        update={
                            "option": without_citations(a.option, invented),
                            "reason": without_citations(a.reason, invented),
                        }
                    )
                    for a in draft.alternatives
                ],
                "cited_passages": [n for n in draft.cited_passages if n in known],
            }
        ),
        tuple(invented),
    )


def cited_citations(
    draft: AdviceDraft, citations: Sequence[Citation], *, with_alternatives: bool = False
) -> list[Citation]:
    """The citations the draft relies on: its `cited_passages` and the [n] / [table: name]
    markers of its advice and reasoning (and of its alternatives, `with_alternatives`)."""
    texts = [draft.main_advice, draft.reasoning]
    if with_alternatives:
        texts += [f"{a.option} {a.reason}" for a in draft.alternatives]
    numbers, tables = citation_markers(texts)
    numbers.update(draft.cited_passages)
    return [
        c for c in citations if c.number in numbers or (c.kind == "table" and c.title in tables)
    ]


def source_of(citation: Citation) -> AdviceSource:
    """The source as the contract names it; the section path without the document's title
    (which the chunker puts first)."""
    parts = [p.strip() for p in citation.section.split(" > ") if p.strip()]
    if parts and parts[0].casefold() == citation.title.casefold():
        parts = parts[1:]
    return AdviceSource(
        n=citation.number,
        document=citation.title,
        section=" > ".join(parts),
        date=citation.updated_at,
        document_id=citation.document_id if citation.kind == "document" else None,
    )


class MainAdviceStream:
    """Follows `main_advice` in the output tool's arguments as they stream in.

    `feed` returns the text to send next (possibly ""). Sent text is never taken back: a retry
    (a new output tool call) is followed only while it extends what was sent, and
    `final_text` puts the final advice after what was sent when the two differ.

    A citation marker is sent only once it is whole and names a passage a tool returned in
    this turn (`known`, read as the text arrives): an invented `[n]` is left out as
    `checked_draft` leaves it out of the final advice, so what was sent stays a prefix of it.
    Until the next character shows that no marker follows, the stream holds back trailing
    spaces (a dropped marker takes the space before it), an unfinished `[n`, and an unfinished
    last line that may be a Sources entry. Markers are sent as the reader numbers them
    (`order`, see `use_cases/chat/citations.py`), in the order they are sent."""

    def __init__(self, tool_name: str, known: Callable[[], Collection[int]] = frozenset) -> None:
        self._tool = tool_name
        self._known = known
        self._args: dict[int, str] = {}
        self.order = CitationOrder()
        self._raw = ""
        """What was sent, as the model numbered it."""
        self.sent = ""
        self._diverged = False

    def feed(self, event: AgentStreamEvent | object) -> str:
        if isinstance(event, PartStartEvent) and isinstance(event.part, ToolCallPart):
            if event.part.tool_name != self._tool:
                self._args.pop(event.index, None)
                return ""
            self._args[event.index] = _args_text(event.part.args)
            index = event.index
        elif (
            isinstance(event, PartDeltaEvent)
            and isinstance(event.delta, ToolCallPartDelta)
            and event.index in self._args
        ):
            delta = event.delta.args_delta
            if isinstance(delta, str):
                self._args[event.index] += delta
            elif delta is not None:
                self._args[event.index] = _args_text(delta)
            index = event.index
        else:
            return ""
        return self._advance(partial_main_advice(self._args[index]))

    def _advance(self, value: str | None) -> str:
        if self._diverged or not value:
            return ""
        value = self._sendable(value)
        if value.startswith(self._raw):
            # What is held back never ends inside a marker, so the new part has whole ones.
            new = self.order.marked(value[len(self._raw) :])
            self._raw, self.sent = value, self.sent + new
            return new
        if not self._raw.startswith(value):
            self._diverged = True  # a retry that says something else: wait for the end
        return ""

    def _sendable(self, value: str) -> str:
        """The part of a partial `main_advice` that can be sent now (see the class)."""
        value = _UNFINISHED_TAIL.sub("", value)
        known = set(self._known())
        dropped = sorted(citation_markers([value])[0] - known)
        return without_citations(value, dropped) if dropped else value

    def final_text(self, main_advice: str) -> str:
        """The advice's text as sent and as stored: `main_advice` (numbered as the model saw
        it) after what was sent, numbered as the reader sees it."""
        if main_advice.startswith(self._raw):
            return self.sent + self.order.marked(main_advice[len(self._raw) :])
        return f"{self.sent.rstrip()}\n\n{self.order.marked(main_advice)}"


#: What may still turn into (or lose) a citation marker: line breaks followed by nothing but
#: a list bullet and the start of a marker (a Sources entry, removed whole with its line
#: break when it names an invented passage), an unfinished `[n` with the spaces before it,
#: or trailing spaces.
_UNFINISHED_TAIL = re.compile(
    r"(?:\n[\n \t]*(?:[-*][ \t]*)?(?:\[\d{0,3})?|[ \t]*\[\d{0,3}|[ \t]+)\Z"
)


def _args_text(args: str | Mapping[str, object] | None) -> str:
    if args is None:
        return ""
    return args if isinstance(args, str) else json.dumps(args)


def partial_main_advice(args: str) -> str | None:
    """`main_advice` of possibly incomplete JSON arguments, as far as they go (a lone high
    surrogate at the end is held back: its pair may follow)."""
    try:
        value = pydantic_core.from_json(args or "{}", allow_partial="trailing-strings")
    except ValueError:
        return None
    text = value.get("main_advice") if isinstance(value, dict) else None
    if not isinstance(text, str):
        return None
    if text and "\ud800" <= text[-1] <= "\udbff":
        text = text[:-1]
    return text
