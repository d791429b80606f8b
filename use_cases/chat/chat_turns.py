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
- The stored answer carries the turn's tool calls (each once, with its outcome and a preview
  of what it returned) and the sources the answer cites by [n] or [table: name].
- Every [n] of a stored answer names a passage a tool returned in this turn: an answer citing
  one that does not exist goes back to the model once (an output retry); if it still does, it
  is stored without those markers (and their Sources lines) and logged with a lower confidence
  (`use_cases/confidence/estimator.py`, `INVENTED_CITATION_FACTOR`).
- The current date is prefixed to the latest user message sent to the model, never stored.
- Every complete answer is logged in the response log (when one is wired) with its
  confidence; the result carries its `response_id` for feedback. A failed log write is
  reported in the server log and never costs the user the stored answer.
- Each turn gets a search-discipline decision (`use_cases/chat/search_discipline.py`) from its
  message and `search_override`: the model sees the message without `/search` / `/nosrch`
  markers; an override to "no" removes the search tool for the turn, and MANDATORY makes an
  answer that did not search the knowledge base be retried. A DISALLOWED turn is declined
  here, without a model: its decline is stored and streamed as an answer is (no tool call,
  no source) and logged as a refusal.
- The model is bound to the turn's decisions (`use_cases/chat/decisions.py`); a model that
  composes its answer itself (the offline model) reports the answer's confidence and whether
  it is the can't-find answer as typed facts. For a model that reports none (a hosted LLM),
  the can't-find answer is the sentence its prompt tells it to give
  (`use_cases.chat.prompts.reads_as_not_found`), recognised once, when the turn ends
  (`turn_not_found`). Either way the decision is stored with the answer (`Message.not_found`),
  so a chat's history reads it back and never guesses it from the text again.
- A turn searches with the retriever `scope` makes for its chat (when wired): the knowledge
  base plus that chat's attached files (`use_cases/conversations/files.py`), never another
  chat's.
- The model (the request's, else the default of chat turns, see
  `use_cases/prompts/model_defaults.py`) and the system prompt (the chat prompt in force, see
  `use_cases/prompts/manage_prompts.py`) are read when the turn starts, so an admin's change applies
  to the next turn without a restart. An answer that recites that same prompt is withheld
  (`INSTRUCTIONS_WITHHELD`).
- Prior turns are sent to the model as plain user/assistant text (the last `history_window`
  messages); failed assistant turns are left out.
- A stateless turn (`ChatRequest.conversation`, the OpenAI-compatible API) brings its prior
  turns with it: they are sent to the model instead of a stored chat's, `chat_id` must be
  None, and each of them holds at most `max_message_chars`. Unless `keep` is set, nothing of
  it is stored: no user, chat or message is written (the response log still records the
  answer, without a chat); with `keep`, the conversation and its answer become a new chat of
  the user's.
- Provider refusals by content filter become a polite refusal (a complete answer); other
  upstream failures become `UpstreamUnavailable` / `UpstreamTimeout` / `UpstreamBadResponse`.
- One code path: `execute` is `stream` drained, so the blocking and the streaming forms run,
  store and fail alike. The run itself, the recording of tool calls and the error mapping are
  the shared turn core (`use_cases/chat/turn_runner.py`); this module adds the chat's storage.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol, TypeAlias

from loguru import logger
from pydantic_ai import Agent
from pydantic_ai.run import AgentRunResult

from use_cases.access.domain import Caller
from use_cases.chat.agent import AgentLimits, opening_search
from use_cases.chat.citations import (
    NumberedText,
    answer_sources,
    checked_citations,
    cited_sources,
    given_passages,
    numbered_answer,
)
from use_cases.chat.decisions import AnswerFacts, TurnDecisions, TurnModel, bind_turn
from use_cases.chat.domain import (
    Chat,
    ConversationMessage,
    Message,
    MessageRole,
    NewMessage,
    Source,
    TokenUsage,
    ToolCall,
)
from use_cases.chat.manage_chats import chat_not_found
from use_cases.chat.ports import HistoryStore, TurnObserver
from use_cases.chat.prompts import (
    INSTRUCTIONS_WITHHELD,
    SEARCH_TOOL,
    SYSTEM_PROMPT,
    anchored_prompt,
    leaks_instructions,
    reads_as_not_found,
)
from use_cases.chat.recent import latest_messages
from use_cases.chat.responses import RecordedResponse, ResponseRecord
from use_cases.chat.search_discipline import SearchDecision, decide
from use_cases.chat.tools import AgentDeps, deps_for_turn
from use_cases.chat.turn_runner import (
    AgentCall,
    TurnEvent,
    TurnRecord,
    TurnRunner,
    TurnStarted,
    drain,
    model_history,
    token_usage,
)
from use_cases.chat.withholding import StoredAnswers
from use_cases.knowledge.collections import ResolveReadScope, reader_of
from use_cases.knowledge.ports import Retriever
from use_cases.knowledge.scope import DocumentFilter
from use_cases.knowledge.scoped import scoped
from use_cases.prompts.ports import ModelResolver, ResolvedModel
from use_cases.shared.clock import Clock
from use_cases.shared.errors import Conflict, InvalidRequest, PayloadTooLarge
from use_cases.shared.sampling import NO_SAMPLING, Sampling
from use_cases.tables.tables import scoped_sql

MAX_MESSAGE_CHARS = 8000
REFUSAL_ANSWER = (
    "I'm sorry, but I can't help with that request. I can answer questions about the "
    "organisation's documents and data."
)


def check_conversation_size(
    messages: int, chars: int, *, max_messages: int, max_chars: int
) -> None:
    """The one bound on a conversation a client sends whole (advice, useChat): at most
    `max_messages` messages (MAX_CONVERSATION_MESSAGES) holding at most `max_chars`
    characters of text (MAX_CONVERSATION_CHARS); `PayloadTooLarge` otherwise."""
    if messages > max_messages:
        raise PayloadTooLarge(
            f"The conversation holds {messages:,} messages; the limit is {max_messages:,} "
            "(MAX_CONVERSATION_MESSAGES)."
        )
    if chars > max_chars:
        raise PayloadTooLarge(
            f"The conversation holds {chars:,} characters; the limit is {max_chars:,} "
            "(MAX_CONVERSATION_CHARS)."
        )


def checked_conversation(
    conversation: Sequence[ConversationMessage],
    *,
    max_message_chars: int = MAX_MESSAGE_CHARS,
    max_messages: int,
    max_chars: int,
) -> str:
    """The one check of a conversation a client sends whole (advice, useChat): not empty,
    only 'user' and 'assistant' messages, within `check_conversation_size`'s bounds, ending
    with the user's question, which is returned as `checked_question` returns it.
    `InvalidRequest` or `PayloadTooLarge` otherwise."""
    if not conversation:
        raise InvalidRequest("The conversation is empty: send at least the user's question.")
    for index, message in enumerate(conversation):
        if message.role not in ("user", "assistant"):
            raise InvalidRequest(
                f"Message {index} has role {message.role!r}; roles are 'user' and 'assistant'."
            )
    check_conversation_size(
        len(conversation),
        sum(len(m.content) for m in conversation),
        max_messages=max_messages,
        max_chars=max_chars,
    )
    last = conversation[-1]
    if last.role != "user":
        raise InvalidRequest("The last message must be the user's question.")
    return checked_question(last.content, max_message_chars)


def checked_client_conversation(
    conversation: Sequence[ConversationMessage],
    *,
    max_message_chars: int = MAX_MESSAGE_CHARS,
    max_messages: int,
    max_chars: int,
) -> str:
    """A conversation a chat client sends whole, system messages included (useChat, the
    OpenAI-compatible API): all of it within `check_conversation_size`'s bounds (system
    messages are sent, so they are bounded), then the rest as `checked_conversation` checks
    it. System messages are not part of the turn: the server's prompt rules."""
    check_conversation_size(
        len(conversation),
        sum(len(m.content) for m in conversation),
        max_messages=max_messages,
        max_chars=max_chars,
    )
    return checked_conversation(
        [m for m in conversation if m.role != "system"],
        max_message_chars=max_message_chars,
        max_messages=max_messages,
        max_chars=max_chars,
    )


def checked_question(text: str, max_chars: int, *, noun: str = "question") -> str:
    """`text` stripped, refused (`InvalidRequest`) when empty or over `max_chars`
    (MAX_MESSAGE_CHARS): the one check of chat, advice and the playground."""
    question = text.strip()
    if not question:
        raise InvalidRequest(f"The {noun} is empty.")
    if len(question) > max_chars:
        raise InvalidRequest(
            f"The {noun} is {len(question):,} characters long; the limit is "
            f"{max_chars:,} (MAX_MESSAGE_CHARS)."
        )
    return question


@dataclass(frozen=True)
class ChatRequest:
    user_id: str
    message: str
    chat_id: str | None = None
    model: str | None = None
    start_if_missing: bool = False
    """Create the chat `chat_id` if no chat has that id yet (the client chose it)."""
    search_override: bool | None = None
    """Force (True) or forbid (False) the knowledge-base search; see `search_discipline`."""
    instructions: str | None = None
    """A system prompt for this turn only, instead of the active one (evaluation runs of a
    prompt version); None uses the active prompt."""
    sampling: Sampling = NO_SAMPLING
    """temperature, max_tokens, top_p, seed for the model (`use_cases/shared/sampling.py`)."""
    reader: Caller | None = None
    """Whose read rights the turn's searches have: the caller's when they act as
    themselves; None, or another user's turn, reads as `user_id` with a user's rights."""
    filters: DocumentFilter | None = None
    """What the turn's searches are narrowed to, within what the reader may read."""
    reads_as: Caller | None = None
    """The rights the turn reads with when it is kept under another user id than the
    reader's: an evaluation run's turns are the evaluation user's chats, read with the rights
    of whoever started the run. None: `reader` decides, as above."""
    replace_last: bool = False
    """Answer `message` in place of the chat's last exchange (its last question and what
    followed it): "Retry" with the same text, or the last question edited. The old exchange
    is removed once the new one is stored; its answer (and the versions it kept) stay
    reachable as the new answer's previous versions."""
    conversation: tuple[ConversationMessage, ...] | None = None
    """A stateless turn: the messages before `message` ('user' and 'assistant', oldest
    first), as the client sent them, instead of a stored chat's (`chat_id` must be None)."""
    keep: bool = True
    """For a stateless turn, whether the conversation and its answer are stored as a new
    chat of the user's (OpenAI's `store: true`); a turn of a stored chat is always kept."""


@dataclass(frozen=True)
class ChatResult:
    chat_id: str
    message_id: str
    user_message_id: str
    answer: str
    tool_calls: tuple[ToolCall, ...]
    sources: tuple[Source, ...]
    model: str
    usage: TokenUsage
    latency_ms: int
    refused: bool = False
    response_id: str | None = None
    """The answer's entry in the response log (for `POST /feedback`); None without a log."""
    confidence: float | None = None
    """Calibrated confidence that the answer is right (0..1), from the response log."""
    confidence_phrase: str | None = None
    confidence_raw: float | None = None
    """The confidence before recalibration (for evaluation runs' raw Brier score and ECE)."""
    not_found: bool = False
    """The answer is the can't-find answer (decided when the turn ends: see the rules)."""

    @property
    def cited(self) -> tuple[Source, ...]:
        """The sources the answer cites (`sources` less the passages given but not cited)."""
        return tuple(source for source in self.sources if source.cited)


class ResponseRecorder(Protocol):
    """Logs a finished answer (`use_cases.chat.responses.RecordResponse`)."""

    def record(self, record: ResponseRecord) -> RecordedResponse: ...


#: The events of a chat turn; `TurnFinished.result` is the stored `ChatResult`.
ChatEvent: TypeAlias = TurnEvent[ChatResult]

DepsFactory = Callable[[], AgentDeps]

#: The retriever of a turn in one chat, from the knowledge base's (a chat's attached files
#: are searched with it: use_cases/conversations/files.py).
ScopeRetriever = Callable[[Retriever, str], Retriever]

#: The system prompt in force, read at the start of each turn (from a worker thread).
InstructionsSource = Callable[[], str]


def built_in_prompt() -> str:
    return SYSTEM_PROMPT


class ChatTurns:
    """Runs chat turns, as a stream of typed events (`stream`) or that stream drained
    (`execute`)."""

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
        responses: ResponseRecorder | None = None,
        scope: ScopeRetriever | None = None,
        observer: TurnObserver | None = None,
        readers: ResolveReadScope | None = None,
        answers: StoredAnswers | None = None,
    ) -> None:
        self._answers = answers or StoredAnswers()
        """The chat's earlier answers reach the model as their reader is shown them: one
        withheld from them (`withholding.py`) never with its text."""
        self._responses = responses
        self._scope = scope
        self._readers = readers
        self._runner = TurnRunner(agent, limits, kind="chat", observer=observer)
        self._instructions = instructions
        self._history = history
        self._models = models
        self._deps_factory = deps_factory
        self._clock = clock
        self._history_window = history_window
        self._max_message_chars = max_message_chars

    def _reader_deps(self, request: ChatRequest) -> AgentDeps:
        """The run's dependencies, its searches bound to what the turn's reader may read."""
        deps = self._deps_factory()
        if self._readers is None:
            return deps
        reader = request.reads_as or reader_of(request.user_id, request.reader)
        scope = self._readers.run(reader, request.filters)
        narrow = functools.partial(self._readers.run, reader)
        return replace(
            deps,
            retriever=scoped(deps.retriever, scope),
            sql=scoped_sql(deps.sql, scope.collections),
            narrow=narrow,
        )

    def model_identifier(self, requested: str | None) -> str:
        """The model a turn asking for `requested` would use; raises if it may not be used."""
        return self._models.resolve(requested).identifier

    async def execute(self, request: ChatRequest) -> ChatResult:
        """The turn, blocking: `stream` drained. Raises the turn's domain error."""
        return await drain(self.stream(request))

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """Yields `TurnStarted`, then PydanticAI stream events, then `TurnFinished` or
        `TurnFailed`. Bad input raises before the first event, with nothing written. Closing
        the iterator early stores the turn as interrupted."""
        question = self._check(request.message)
        kept = self._kept(request)
        decision = decide(question, request.search_override)
        decisions = TurnDecisions.of(decision.policy)
        resolved, instructions = await asyncio.to_thread(
            self._prepare, request.model, request.instructions
        )
        if decisions.declined is None:  # a declined turn runs no model: nothing to admit
            resolved.admit()
        turn = (
            await asyncio.to_thread(
                self._store_question, request, question, resolved, instructions, decision
            )
            if kept
            else self._unkept_turn(request, question, resolved, instructions, decision)
        )
        if decisions.declined is None:
            turn.bound = bind_turn(resolved.model, decisions)
        call = AgentCall(
            prompt=anchored_prompt(decision.question, self._clock.today()),
            history=model_history((m.role, m.content) for m in turn.prior if _fit_for_history(m)),
            model=turn.bound.model if turn.bound is not None else None,
            deps=turn.deps,
            sampling=request.sampling,
            opening_search=opening_search(resolved, turn.deps.search_policy, decision.question),
            timeout_s=resolved.turn_timeout_s,
            fixed_answer=decisions.declined,
        )
        started = TurnStarted(turn.assistant.id, resolved.identifier)
        citations = turn.deps.citations
        numbered = NumberedText(lambda: {c.number for c in citations})
        async with aclosing(self._runner.run(call, started, turn)) as events:
            async for event in events:
                for shown in numbered.events(event):
                    yield shown

    # --- steps ----------------------------------------------------------------------------

    def _check(self, message: str) -> str:
        return checked_question(message, self._max_message_chars, noun="message")

    def _kept(self, request: ChatRequest) -> bool:
        """Whether the turn is stored; a stateless turn's conversation checked first: it names
        no chat, and each of its messages is 'user' or 'assistant' and within
        `max_message_chars`, as if it had been sent through `/chat` (the model reads them)."""
        if request.conversation is None:
            return True
        if request.chat_id or request.replace_last:
            raise InvalidRequest("A turn that brings its conversation names no chat.")
        for index, message in enumerate(request.conversation):
            if message.role not in ("user", "assistant"):
                raise InvalidRequest(
                    f"Message {index} has role {message.role!r}; roles are 'user' and 'assistant'."
                )
            if len(message.content) > self._max_message_chars:
                raise InvalidRequest(
                    f"Message {index} is {len(message.content):,} characters long; the limit "
                    f"is {self._max_message_chars:,} (MAX_MESSAGE_CHARS)."
                )
        return request.keep

    def _unkept_turn(
        self,
        request: ChatRequest,
        question: str,
        resolved: ResolvedModel,
        instructions: str,
        decision: SearchDecision,
    ) -> _ChatTurn:
        """A stateless turn that stores nothing: its chat and messages live in memory only,
        under fresh ids (the answer's id names the turn in the stream and the log)."""
        now = self._clock.now()
        chat = Chat("", request.user_id, "", now, now)
        prior = [
            _unstored(chat, role, text, now) for role, text in _prior_turns(request.conversation)
        ]
        deps = deps_for_turn(
            replace(self._reader_deps(request), instructions=instructions),
            decision,
            outside_tools=resolved.outside_tools,
        )
        return _ChatTurn(
            self._history,
            chat,
            _unstored(chat, "user", question, now),
            _unstored(chat, "assistant", "", now),
            prior[-self._history_window :] if self._history_window else [],
            resolved,
            deps,
            self._responses,
            kept=False,
        )

    def _prepare(
        self, requested: str | None, instructions: str | None
    ) -> tuple[ResolvedModel, str]:
        """The turn's model and system prompt, before anything is written (both may read
        the app DB)."""
        return self._models.resolve(requested), instructions or self._instructions()

    def _store_question(
        self,
        request: ChatRequest,
        question: str,
        resolved: ResolvedModel,
        instructions: str,
        decision: SearchDecision,
    ) -> _ChatTurn:
        if request.chat_id is not None:
            self._check_chat(request)
        replaced = self._last_exchange(request) if request.replace_last else []
        self._history.ensure_user(request.user_id)
        brought = _prior_turns(request.conversation)
        first = next((text for role, text in brought if role == "user"), question)
        chat = self._history.get_or_create_chat(request.chat_id, request.user_id, first)
        for role, text in brought:  # a stateless turn kept: its conversation becomes the chat
            self._history.append_message(chat.id, NewMessage(role, text))
        gone = {m.id for m in replaced}
        window = self._history_window
        recent = self._history.list_messages(chat.id, limit=window + len(replaced))
        prior = [m for m in recent if m.id not in gone][-window:] if window else []
        shown = self._answers.of(request.reads_as or reader_of(request.user_id, request.reader))
        if shown.restricted and prior:
            prior = shown.messages(prior)
        user_message = self._history.append_message(chat.id, NewMessage("user", question))
        assistant = self._history.append_message(
            chat.id, NewMessage("assistant", "", model=resolved.identifier, status="streaming")
        )
        if replaced:  # after the new exchange is stored: a failure here loses nothing
            self._history.delete_messages(chat.id, sorted(gone), versions_of=assistant.id)
        deps = deps_for_turn(
            replace(self._reader_deps(request), instructions=instructions),
            decision,
            outside_tools=resolved.outside_tools,
        )
        if self._scope is not None:
            deps = replace(deps, retriever=self._scope(deps.retriever, chat.id))
        return _ChatTurn(
            self._history, chat, user_message, assistant, prior, resolved, deps, self._responses
        )

    def _last_exchange(self, request: ChatRequest) -> list[Message]:
        """The chat's last question and what followed it, to be answered again."""
        if request.chat_id is None or self._history.get_chat(request.chat_id) is None:
            raise InvalidRequest("replace_last needs the chat_id of an existing chat.")
        messages = latest_messages(  # read back to the last question, not the whole chat
            self._history, request.chat_id, lambda read: any(m.role == "user" for m in read)
        )
        last = next(
            (i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None
        )
        if last is None:
            raise InvalidRequest("The chat has no question to answer again.")
        exchange = messages[last:]
        if any(m.status == "streaming" for m in exchange):
            raise Conflict(
                "The last answer is still being written: stop it or wait for it, then retry."
            )
        return exchange

    def _check_chat(self, request: ChatRequest) -> None:
        assert request.chat_id is not None
        chat = self._history.get_chat(request.chat_id)
        if chat is None and request.start_if_missing:
            return
        if chat is None or chat.user_id != request.user_id:
            raise chat_not_found(request.chat_id)


def _prior_turns(
    conversation: Sequence[ConversationMessage] | None,
) -> list[tuple[MessageRole, str]]:
    """A stateless turn's earlier messages that have text, as (role, text)."""
    turns: list[tuple[MessageRole, str]] = []
    for message in conversation or ():  # roles checked by `ChatTurns._kept`
        if message.content.strip():
            turns.append(("user" if message.role == "user" else "assistant", message.content))
    return turns


def _unstored(chat: Chat, role: MessageRole, text: str, now: datetime) -> Message:
    """A message of a turn that stores nothing, under a fresh id."""
    return Message(
        f"msg_{uuid.uuid4().hex}", chat.id, role, text, (), (), None, None, None, "complete", now
    )


def _fit_for_history(message: Message) -> bool:
    """Prior turns the model is sent: every user message, and the assistant's answers that
    have text and did not fail."""
    if message.role == "user":
        return True
    return message.status in ("complete", "interrupted") and bool(message.content)


def turn_not_found(answer: str, bound: TurnModel | None, facts: AnswerFacts | None) -> bool:
    """Whether a turn's answer is the can't-find answer: the model's fact when it reports one
    (`facts`, the offline model), else (a hosted model) whether its text gives the prompt's
    sentence. A withheld answer and a decline (no model bound) never are. Decided once, when
    the turn ends; what is stored or shown afterwards carries the value."""
    if answer == INSTRUCTIONS_WITHHELD or bound is None:
        return False
    return facts.not_found if facts is not None else reads_as_not_found(answer)


@dataclass
class _ChatTurn:
    """One chat turn once its question is stored: how its answer is stored when the run ends
    (the `TurnHandler` of a chat turn)."""

    history: HistoryStore
    chat: Chat
    user_message: Message
    assistant: Message
    prior: list[Message]
    resolved: ResolvedModel
    deps: AgentDeps
    responses: ResponseRecorder | None = None
    bound: TurnModel | None = None
    """The model bound to this turn; None for a declined turn, which runs none."""
    kept: bool = True
    """False for a stateless turn that stores nothing (its chat and messages are in memory)."""

    async def complete(self, run: AgentRunResult[str], record: TurnRecord) -> ChatResult:
        answer = run.output
        if leaks_instructions(answer, self.deps.instructions):
            # A prompt injection (or a user) talked the model into reciting its instructions.
            logger.warning(
                "Withheld an answer that repeated the system prompt (chat {})", self.chat.id
            )
            answer = INSTRUCTIONS_WITHHELD
        facts = self.bound.answer_facts() if self.bound is not None else None
        not_found = turn_not_found(answer, self.bound, facts)
        answer, invented = checked_citations(answer, self.deps.citations)
        cited = cited_sources(answer, self.deps.citations, not_found=not_found)
        withheld_text = answer == INSTRUCTIONS_WITHHELD
        given = (
            () if withheld_text else given_passages(cited, self.deps.citations, not_found=not_found)
        )
        answer, sources = answer_sources(answer, cited, given)
        declined = self.deps.search_policy.declined
        withheld = answer == INSTRUCTIONS_WITHHELD or bool(declined and answer == declined)
        result = await self._store(answer, record, token_usage(run), sources, not_found=not_found)
        return await self._log(
            result,
            refused=withheld,
            model_confidence=facts.confidence if facts is not None else None,
            invented_citations=len(invented),
        )

    async def refuse(self, record: TurnRecord) -> ChatResult:
        result = await self._store(REFUSAL_ANSWER, record, TokenUsage(), (), refused=True)
        return await self._log(result, refused=True)

    async def _log(
        self,
        result: ChatResult,
        *,
        refused: bool,
        model_confidence: float | None = None,
        invented_citations: int = 0,
    ) -> ChatResult:
        """The stored answer with its response-log entry (unchanged without a log)."""
        if self.responses is None:
            return result
        entry = ResponseRecord(
            user_id=self.chat.user_id,
            kind="chat",
            query=self.user_message.content,
            response_text=result.answer,
            model=result.model,
            search_ran=any(call.name == SEARCH_TOOL for call in result.tool_calls),
            latency_ms=result.latency_ms,
            cited=result.cited,
            retrieved=self.deps.citations,
            refused=refused,
            not_found=result.not_found,
            model_confidence=model_confidence,
            invented_citations=invented_citations,
            chat_id=self.chat.id if self.kept else None,
            message_id=self.assistant.id if self.kept else None,
        )
        try:
            logged = await asyncio.to_thread(self.responses.record, entry)
        except Exception:
            logger.exception("Could not log the answer of chat {}", self.chat.id)
            return result
        return replace(
            result,
            response_id=logged.response_id,
            confidence=logged.confidence,
            confidence_phrase=logged.confidence_phrase,
            confidence_raw=logged.raw_confidence,
        )

    def abandon(self, record: TurnRecord, status: Literal["interrupted", "failed"]) -> None:
        if not self.kept:
            return
        # Numbered as it streamed (`NumberedText`), though it keeps no sources.
        text, _ = numbered_answer(record.text, ())
        self.history.finalize_message(
            self.assistant.id,
            NewMessage(
                "assistant",
                text,
                tool_calls=record.tool_calls,
                model=self.resolved.identifier,
                latency_ms=record.latency_ms,
                status=status,
            ),
        )

    async def _store(
        self,
        answer: str,
        record: TurnRecord,
        usage: TokenUsage,
        sources: tuple[Source, ...],
        *,
        refused: bool = False,
        not_found: bool = False,
    ) -> ChatResult:
        result = ChatResult(
            chat_id=self.chat.id,
            message_id=self.assistant.id,
            user_message_id=self.user_message.id,
            answer=answer,
            tool_calls=record.tool_calls,
            sources=sources,
            model=self.resolved.identifier,
            usage=usage,
            latency_ms=record.latency_ms,
            refused=refused,
            not_found=not_found,
        )
        if not self.kept:
            return result
        await asyncio.to_thread(
            self.history.finalize_message,
            self.assistant.id,
            NewMessage(
                "assistant",
                answer,
                tool_calls=result.tool_calls,
                sources=result.sources,
                model=result.model,
                latency_ms=result.latency_ms,
                usage=usage if usage.reported else None,
                status="complete",
                not_found=not_found,
            ),
        )
        return result
