"""The planner and the `FunctionModel` that runs it (see the package docstring for a turn).

Rules: stateless and deterministic, every decision is recomputed from the messages (tool-call
ids say why a search was made), so blocking and streaming runs give the same answer; at most
one narrowed search per turn; a retry ends the turn.
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition

from services.compute import WorkerPool
from services.offline.advice import advice_call, declined_advice_call
from services.offline.compose import (
    CLARIFYING_QUESTION,
    Answer,
    SentenceReader,
    asking,
    compose_documents,
    not_found,
)
from services.offline.compose_sql import compose_sql
from services.offline.lexicon import EMPTY as EMPTY_LEXICON
from services.offline.lexicon import Lexicon
from services.offline.lexicon import using as using_lexicon
from services.offline.places import mark_other_countries
from services.offline.processes import PlanningProcesses, Stepper
from services.offline.question import (
    SearchQuery,
    TurnView,
    as_of_date,
    follow_up_query,
    narrowed_query,
    read_turn,
    resolve_person,
    resolve_reference,
    standalone_question,
    substituted_by_meaning,
)
from services.offline.semantic import SentenceEncoder, SentenceSimilarity, SentenceVectorStore
from services.offline.sql_plan import (
    SqlPlan,
    chained_plan,
    column_values,
    names_in_tables,
    plan_sql,
)
from services.offline.typos import TypoCorrector, table_vocabulary
from services.offline.vocabulary import KnowledgeVocabulary
from use_cases.chat.prompts import NOT_SEARCHED_ANSWER, SEARCH_TOOL, SQL_TOOL
from use_cases.chat.search_discipline import prescribed_answer
from use_cases.tables.domain import TableSchema

MODEL_NAME = "offline-extractive"

CONFIDENCE_KEY = "confidence"

TableSchemas = Callable[[], list[TableSchema]]


@dataclass
class _Decision:
    calls: list[ToolCallPart] = field(default_factory=list)
    answer: Answer | None = None
    declined: bool = False  # the answer is the decline the run's instructions prescribe


@dataclass
class _Step:
    """A decision and, for an answer, the response part that carries it."""

    decision: _Decision
    part: TextPart | ToolCallPart | None = None


class _Planner:
    """Decides the next step of a turn from the messages alone (stateless and deterministic)."""

    def __init__(
        self,
        table_schemas: TableSchemas,
        similarity: SentenceSimilarity | None = None,
        vocabulary: KnowledgeVocabulary | None = None,
        lexicon: Lexicon = EMPTY_LEXICON,
        not_found_hint: str = CLARIFYING_QUESTION,
        pool: WorkerPool | None = None,
        processes: PlanningProcesses | None = None,
        reader: SentenceReader | None = None,
    ) -> None:
        self._pool = pool
        self._reader = reader
        self._processes = processes
        self._not_found_hint = not_found_hint
        self._table_schemas = table_schemas
        self._similarity = similarity
        self._vocabulary = vocabulary
        self._lexicon = lexicon
        self._typos = TypoCorrector()

    def warm_up(self) -> None:
        """Load what the first turn would otherwise wait for: the knowledge base's words, the
        tables' catalogue and the sentence encoder (a planning process, before it serves)."""
        if self._vocabulary is not None:
            self._vocabulary.snapshot()
        self._schemas()
        if self._similarity is not None:
            self._similarity.similarities("warm up", ["the sentence encoder"])
        if self._reader is not None:
            self._reader("warm up", ["the reader"])

    def _schemas(self) -> list[TableSchema]:
        try:
            return list(self._table_schemas())
        except Exception:  # a broken tables catalogue must not stop document answers
            return []

    def decide(self, messages: Sequence[ModelMessage], tool_names: set[str]) -> _Decision:
        """The next step: the first round's tool calls, one more search, or the answer.

        One extra search at most: a narrower query when nothing was found (words shared by
        most passages dropped). The knowledge base's lexicon is in force throughout. A run
        whose instructions prescribe a decline word for word (a DISALLOWED turn, see
        `use_cases.chat.search_discipline.prescribed_answer`) gets that answer and nothing else.
        """
        declined = prescribed_answer(_latest_instructions(messages))
        if declined is not None:
            return _Decision(answer=Answer(declined, 0.0, found=False, coverage=0.0), declined=True)
        with using_lexicon(self._lexicon), asking(self._not_found_hint):
            return self._decide(messages, tool_names)

    def _decide(self, messages: Sequence[ModelMessage], tool_names: set[str]) -> _Decision:
        view = read_turn(messages)
        if not view.question:
            return _Decision(answer=not_found(0.0))
        schemas = self._schemas() if SQL_TOOL in tool_names else []
        self._correct_typos(view, schemas)
        question = view.question
        if view.previous_questions and view.previous_answers:
            question = resolve_person(
                question,
                view.previous_questions,
                view.previous_answers,
                names_in_tables(schemas),
            )
            question = resolve_reference(question, view.previous_answers, column_values(schemas))
        query = follow_up_query(question, view.previous_questions)
        if self._similarity is not None:
            query = substituted_by_meaning(
                query, question, view.previous_questions, self._similarity.similarities
            )
        plan = self._plan(question, view.previous_questions, schemas)
        can_search = SEARCH_TOOL in tool_names
        if not view.calls:
            calls = []
            if can_search:
                calls.append(_call(SEARCH_TOOL, _search_args(query.text, question)))
            if plan is not None:
                calls.append(_call(SQL_TOOL, {"sql_query": plan.sql}))
            if calls:
                return _Decision(calls=calls)
        results = _tool_results(view)
        answer = self._compose(plan, query, results)
        if answer.found and not answer.from_table and schemas:
            chained = chained_plan(question, answer.text, schemas)
            if chained is not None:
                looked_up = next((m for m in results.sql if m.get("sql") == chained.sql), None)
                if looked_up is None:
                    return _Decision(calls=[_call(SQL_TOOL, {"sql_query": chained.sql}, "chain")])
                answer = _joined(answer, compose_sql(chained, looked_up))
        searched = {_call_kind(c) for c in view.calls if c.tool_name == SEARCH_TOOL}
        if not can_search and not answer.found:  # search was off for this turn
            return _Decision(answer=Answer(NOT_SEARCHED_ANSWER, 0.0, found=False, coverage=0.0))
        if not can_search or view.retries:
            return _Decision(answer=answer)
        if not answer.found and "narrowed" not in searched:
            narrowed = narrowed_query(query.text, results.hits)
            if narrowed is not None:
                return _Decision(
                    calls=[_call(SEARCH_TOOL, _search_args(narrowed, question), "narrowed")]
                )
        return _Decision(answer=answer)

    def _correct_typos(self, view: TurnView, schemas: Sequence[TableSchema]) -> None:
        """The question and the earlier ones with their typos corrected (`typos.py`) and the
        countries the knowledge base does not name marked as such (`places.py`)."""
        known = self._vocabulary.snapshot() if self._vocabulary is not None else None
        table_words = _table_words(tuple(schemas))
        correct = self._typos.correct
        view.question = mark_other_countries(
            correct(view.question, known, table_words), known, table_words
        )
        view.previous_questions = [
            mark_other_countries(correct(q, known, table_words), known, table_words)
            for q in view.previous_questions
        ]

    @staticmethod
    def _plan(
        question: str, previous_questions: Sequence[str], schemas: Sequence[TableSchema]
    ) -> SqlPlan | None:
        """The table lookup for the question; for an elliptical follow-up, for the whole
        question it stands for ("and in lisbon?" after "how many people are in toronto?")."""
        if not schemas:
            return None
        whole = standalone_question(question, previous_questions, column_values(schemas))
        if whole != question:
            plan = plan_sql(whole, schemas)
            if plan is not None:
                return plan
        return plan_sql(question, schemas)

    def _compose(self, plan: SqlPlan | None, query: SearchQuery, results: _ToolResults) -> Answer:
        table = None
        if plan is not None:
            for metadata in results.sql:
                if metadata.get("sql") == plan.sql:
                    table = compose_sql(plan, metadata)
                    if table is not None and not table.bare_row:
                        return table
        known = self._vocabulary.snapshot() if self._vocabulary is not None else None
        documents = compose_documents(
            query.text,
            results.hits,
            self._similarity,
            query.borrowed,
            known,
            query.whole,
            known.abbreviations if known is not None else (),
            self._reader,
        )
        # The row the question named, with nothing asked about it, answers only when the
        # documents do not.
        return documents if table is None or documents.found else table

    # --- FunctionModel callbacks ---------------------------------------------------------

    def step(
        self,
        messages: Sequence[ModelMessage],
        tool_names: set[str],
        output_tools: Sequence[ToolDefinition],
    ) -> _Step:
        """The next step and, when it is the answer, the part that carries it (CPU work: the
        model runs it on its worker pool)."""
        decision = self.decide(messages, tool_names)
        if decision.answer is None:
            return _Step(decision)
        part = self._final_part(messages, output_tools, decision.answer, decision.declined)
        return _Step(decision, part)

    async def step_async(
        self,
        messages: Sequence[ModelMessage],
        tool_names: set[str],
        output_tools: Sequence[ToolDefinition],
    ) -> _Step:
        """`step` off the event loop, on the worker pool (refused with `ServiceBusy` when the
        pool's queue is full)."""
        if self._pool is None:
            return self.step(messages, tool_names, output_tools)
        return await self._pool.run(
            self._step_anywhere, messages, tool_names, output_tools, size=_characters(messages)
        )

    def _step_anywhere(
        self,
        messages: Sequence[ModelMessage],
        tool_names: set[str],
        output_tools: Sequence[ToolDefinition],
    ) -> _Step:
        """`step` in a planning process when a server has them ready, else on this thread."""
        if self._processes is not None:
            step = self._processes.step(list(messages), set(tool_names), list(output_tools))
            if step is not None:
                return cast(_Step, step)
        return self.step(messages, tool_names, output_tools)

    async def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        tools = {t.name for t in info.function_tools}
        step = await self.step_async(messages, tools, info.output_tools)
        if step.decision.calls:
            return ModelResponse(parts=list(step.decision.calls))
        assert step.decision.answer is not None and step.part is not None
        return ModelResponse(
            parts=[step.part], provider_details={CONFIDENCE_KEY: step.decision.answer.confidence}
        )

    def _final_part(
        self,
        messages: Sequence[ModelMessage],
        output_tools: Sequence[ToolDefinition],
        answer: Answer,
        declined: bool = False,
    ) -> TextPart | ToolCallPart:
        """The answer as text, or, when the run wants structured advice, as a call of the
        output tool it offers (`services/offline/advice.py`)."""
        if not output_tools:
            return TextPart(answer.text)
        if declined:
            return declined_advice_call(answer.text, output_tools[0].name)
        with using_lexicon(self._lexicon):
            view = read_turn(messages)
        hits = _tool_results(view).hits
        return advice_call(answer, view.question, hits, output_tools[0].name)

    async def step_once(
        self,
        messages: Sequence[ModelMessage],
        tool_names: set[str],
        output_tools: Sequence[ToolDefinition],
    ) -> _Step:
        """`step_async`, reusing the step `OfflineExtractiveModel.request_stream` already made
        for these very messages in this task (a streamed step needs it twice: for the
        confidence it reports first, then for the stream itself; planning is the turn's
        main cost)."""
        planned = _PLANNED.get()
        key = (id(messages), len(messages), frozenset(tool_names))
        if planned is not None and planned[0] == key:
            return planned[1]
        return await self.step_async(messages, tool_names, output_tools)

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        tools = {t.name for t in info.function_tools}
        step = await self.step_once(messages, tools, info.output_tools)
        if step.decision.calls:
            yield {
                index: DeltaToolCall(
                    name=call.tool_name,
                    json_args=call.args_as_json_str(),
                    tool_call_id=call.tool_call_id,
                )
                for index, call in enumerate(step.decision.calls)
            }
            return
        part = step.part
        assert part is not None
        if isinstance(part, TextPart):
            for chunk in _sentence_chunks(part.content):
                yield chunk
            return
        for index, chunk in enumerate(_sentence_chunks(part.args_as_json_str())):
            first = index == 0
            yield {
                0: DeltaToolCall(
                    name=part.tool_name if first else None,
                    json_args=chunk,
                    tool_call_id=part.tool_call_id if first else None,
                )
            }


#: The step being streamed in this task (see `_Planner.step_once`).
_PLANNED: contextvars.ContextVar[tuple[tuple[int, int, frozenset[str]], _Step] | None] = (
    contextvars.ContextVar("offline_planned_step", default=None)
)


@functools.lru_cache(maxsize=8)
def _table_words(schemas: tuple[TableSchema, ...]) -> Counter[str]:
    """The words of the tables' names, column names and listed values (planning asks up to
    four times a turn; the catalogue changes only when a table is loaded)."""
    return table_vocabulary(
        [s.name for s in schemas]
        + [c.name for s in schemas for c in s.columns]
        + [value for value, _ in column_values(schemas)]
    )


@dataclass
class _ToolResults:
    hits: list[dict[str, Any]] = field(default_factory=list)
    sql: list[dict[str, Any]] = field(default_factory=list)


def _tool_results(view: TurnView) -> _ToolResults:
    """Search hits (each tagged with its rank in its own search) and SQL results of this turn."""
    results = _ToolResults()
    seen: set[Any] = set()
    for part in view.returns:
        metadata = part.metadata if isinstance(part.metadata, dict) else {}
        if part.tool_name == SEARCH_TOOL:
            hits = [h for h in metadata.get("hits") or [] if isinstance(h, dict)]
            for rank, hit in enumerate(hits):
                if hit.get("number") not in seen:
                    seen.add(hit.get("number"))
                    results.hits.append({**hit, "_rank": rank})
        elif part.tool_name == SQL_TOOL and "columns" in metadata:
            results.sql.append(metadata)
    return results


def _joined(documents: Answer, table: Answer | None) -> Answer:
    """The documents' answer followed by the table's (the second step of a question across
    both), with both Sources lists."""
    if table is None:
        return documents
    body, _, sources = documents.text.partition("\n\n**Sources**\n")
    extra, _, more = table.text.partition("\n\n**Sources**\n")
    text = f"{body} {extra}\n\n**Sources**\n{sources}\n{more}"
    return Answer(
        text, documents.confidence, coverage=documents.coverage, evidence=documents.evidence
    )


def _search_args(query: str, question: str) -> dict[str, Any]:
    """The search tool's arguments: the query, and the past date the question asks about
    ("back in 2022": the policy versions in force then rank first)."""
    as_of = as_of_date(question)
    return {"query": query} | ({"as_of": as_of.isoformat()} if as_of else {})


def _call(tool: str, args: dict[str, Any], kind: str = "main") -> ToolCallPart:
    """A tool call; its id says why it was made: "main", "narrowed" (a narrower search) or
    "chain" (the table lookup of a person the documents' answer named)."""
    return ToolCallPart(
        tool_name=tool,
        args=json.dumps(args),
        tool_call_id=f"offline_{kind}_{uuid.uuid4().hex[:12]}",
    )


def _call_kind(call: ToolCallPart) -> str:
    parts = call.tool_call_id.split("_")
    return parts[1] if len(parts) >= 3 and parts[0] == "offline" else "main"


def _latest_instructions(messages: Sequence[ModelMessage]) -> str | None:
    """The instructions of the request being answered (the run's, with its search policy)."""
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            return message.instructions
    return None


def _characters(messages: Sequence[ModelMessage]) -> int:
    """The characters a step reads: the questions and what the tools returned (the pool serves
    steps by expected finish, and the work grows with this)."""
    total = 0
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart | ToolReturnPart):
                    content = part.content
                    total += len(content) if isinstance(content, str) else 1000
    return total


#: The end of a streamed piece: a sentence's end (with closing quotes and brackets) and the
#: whitespace after it, or a line break.
_PIECE_END = re.compile(r"[.!?][\"')\]]*\s+|\n\s*")


def _sentence_chunks(text: str) -> list[str]:
    """Sentence-sized pieces (each with the whitespace after it) that join back to `text`: one
    per sentence or line, as a writer produces them. Every piece is a stream event that goes
    through PydanticAI's stream and the client's encoder: word-sized pieces had cost a turn
    about a quarter of its time, for an answer that was already whole."""
    pieces: list[str] = []
    start = 0
    for end in _PIECE_END.finditer(text):
        pieces.append(text[start : end.end()])
        start = end.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


class OfflineExtractiveModel(FunctionModel):
    """`FunctionModel` whose streamed responses also carry the confidence of the answer."""

    def __init__(self, planner: _Planner) -> None:
        super().__init__(planner.respond, stream_function=planner.stream, model_name=MODEL_NAME)
        self._planner = planner

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        tools = {t.name for t in model_request_parameters.function_tools}
        step = await self._planner.step_async(
            messages, tools, model_request_parameters.output_tools
        )
        token = _PLANNED.set(((id(messages), len(messages), frozenset(tools)), step))
        try:
            async with super().request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as response:
                if step.decision.answer is not None:
                    response.provider_details = {CONFIDENCE_KEY: step.decision.answer.confidence}
                yield response
        finally:
            _PLANNED.reset(token)


def build_offline_model(
    table_schemas: TableSchemas,
    sentence_encoder: SentenceEncoder | None = None,
    vocabulary: KnowledgeVocabulary | None = None,
    lexicon: Lexicon = EMPTY_LEXICON,
    not_found_hint: str = CLARIFYING_QUESTION,
    pool: WorkerPool | None = None,
    processes: PlanningProcesses | None = None,
    *,
    sentence_vectors: SentenceVectorStore | None = None,
    reader: SentenceReader | None = None,
) -> FunctionModel:
    """The embedded default model. `table_schemas` is read per turn, so new tables are seen.
    `sentence_encoder` (the local embedder) lets sentences be scored by meaning as well as by
    their words; without it the answer rests on word overlap alone. `vocabulary` (the
    knowledge base's words) keeps a question word the knowledge base holds elsewhere from
    counting as a topic it lacks. `lexicon`: the knowledge base's own words (`lexicon.py`).
    `not_found_hint`: the clarifying question after a can't-find answer. `pool`: the worker
    threads planning runs on (without one it runs on the caller's thread: tests, scripts).
    `processes`: the worker processes those threads hand the planning to, once a server
    enabled them (`processes.py`). `sentence_vectors`: sentence vectors kept on disk, shared
    with the planning processes and filled ahead by ingestion (`sentence_store.py`). `reader`:
    the trained reader that scores sentences against the question: by default only an
    answer's chosen sentences, for its confidence (`compose._with_belief`); without it the
    confidence is the hand-made features' alone."""
    similarity = (
        SentenceSimilarity(sentence_encoder, store=sentence_vectors)
        if sentence_encoder is not None
        else None
    )
    planner = _Planner(
        table_schemas, similarity, vocabulary, lexicon, not_found_hint, pool, processes, reader
    )
    return OfflineExtractiveModel(planner)


def build_planner(
    table_schemas: TableSchemas,
    sentence_encoder: SentenceEncoder | None = None,
    vocabulary: KnowledgeVocabulary | None = None,
    lexicon: Lexicon = EMPTY_LEXICON,
    not_found_hint: str = CLARIFYING_QUESTION,
    *,
    sentence_vectors: SentenceVectorStore | None = None,
    reader: SentenceReader | None = None,
) -> Stepper:
    """The planner alone, whose `step` a planning process runs (`processes.py`)."""
    similarity = (
        SentenceSimilarity(sentence_encoder, store=sentence_vectors)
        if sentence_encoder is not None
        else None
    )
    return _Planner(table_schemas, similarity, vocabulary, lexicon, not_found_hint, reader=reader)


def confidence_of(messages: Sequence[ModelMessage]) -> float | None:
    """The confidence the offline model reported for the latest answer of this turn, if any."""
    for message in reversed(messages):
        if isinstance(message, ModelResponse):
            details = message.provider_details or {}
            value = details.get(CONFIDENCE_KEY)
            if isinstance(value, int | float):
                return float(value)
        elif isinstance(message, ModelRequest) and any(
            isinstance(p, UserPromptPart) for p in message.parts
        ):
            return None
    return None
