"""The planner and the `FunctionModel` that runs it (see the package docstring for a turn).

Rules: the planner is stateless and deterministic, every decision is recomputed from the
messages (a turn's second search is its narrowed one), so blocking and streaming runs give
the same answer; at most one narrowed search per turn; a retry ends the turn. Each request is
planned once. What the turn decided before the model (`TurnDecisions`) reaches the model by
binding it to the turn (`OfflineExtractiveModel.for_turn`), and the facts of its answer
(`AnswerFacts`: confidence, can't-find) are read back from that bound model.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
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
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai.tools import ToolDefinition

from services.compute import WorkerPool
from services.offline import pipeline
from services.offline.advice import advice_call, declined_advice_call
from services.offline.compose_sql import compose_sql
from services.offline.context import CLARIFYING_QUESTION, AnswerContext, SentenceReader
from services.offline.lexicon import EMPTY as EMPTY_LEXICON
from services.offline.lexicon import Lexicon
from services.offline.places import mark_other_countries
from services.offline.processes import PlanningProcesses, Stepper
from services.offline.question import as_of_date
from services.offline.question_follow_up import (
    SearchQuery,
    follow_up_query,
    narrowed_query,
    standalone_question,
    substituted_by_meaning,
)
from services.offline.question_references import resolve_person, resolve_reference
from services.offline.question_turn import TurnView, read_turn
from services.offline.render import Answer, not_found
from services.offline.semantic import SentenceEncoder, SentenceSimilarity, SentenceVectorStore
from services.offline.sql_build import SqlPlan
from services.offline.sql_match import column_values, names_in_tables
from services.offline.sql_plan import chained_plan, plan_sql
from services.offline.typos import TypoCorrector, table_vocabulary
from services.offline.vocabulary import KnowledgeVocabulary
from use_cases.chat.decisions import NO_DECISIONS, AnswerFacts, TurnDecisions
from use_cases.chat.prompts import NOT_SEARCHED_ANSWER, SEARCH_TOOL, SQL_TOOL
from use_cases.chat.tools import TABLES_METADATA
from use_cases.chat.turn_runner import sentence_pieces
from use_cases.tables.domain import TableSchema

MODEL_NAME = "offline-extractive"

TableSchemas = Callable[[], list[TableSchema]]


@dataclass
class _Decision:
    calls: list[ToolCallPart] = field(default_factory=list)
    answer: Answer | None = None
    declined: bool = False  # the answer is the turn's decline (`TurnDecisions.declined`)
    not_searched: bool = False  # the answer says search was off and the tables had nothing

    def facts(self) -> AnswerFacts | None:
        """The answer's facts: its confidence, and whether it is the can't-find answer (an
        answer the composer found no evidence for; not a decline, not the search-off one)."""
        if self.answer is None:
            return None
        cannot_find = not self.answer.found and not (self.declined or self.not_searched)
        return AnswerFacts(float(self.answer.confidence), cannot_find)


@dataclass
class _Step:
    """A decision and, for an answer, the response part that carries it."""

    decision: _Decision
    part: TextPart | ToolCallPart | None = None


def _shown(schemas: list[TableSchema], tables: tuple[str, ...] | None) -> list[TableSchema]:
    """The tables the turn's reader may query (`tables`, from the table lookup's definition:
    every table for an admin or a deployment without collections, so their answers are as
    before): the planner never plans over, corrects words towards or resolves references to
    a table the reader may not read. All of them when the run names none (a model called
    directly)."""
    if tables is None:
        return schemas
    readable = {name.lower() for name in tables}
    return [s for s in schemas if s.name.lower() in readable]


def _readable_tables(tools: Sequence[ToolDefinition]) -> tuple[str, ...] | None:
    """The tables the table lookup's definition says its reader may query (None: it names
    none, or it is not offered)."""
    for tool in tools:
        if tool.name == SQL_TOOL and tool.metadata and TABLES_METADATA in tool.metadata:
            return tuple(tool.metadata[TABLES_METADATA])
    return None


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

    def decide(
        self,
        messages: Sequence[ModelMessage],
        tool_names: set[str],
        tables: tuple[str, ...] | None = None,
    ) -> _Decision:
        """The next step: the first round's tool calls, one more search, or the answer.

        One extra search at most: a narrower query when nothing was found (words shared by
        most passages dropped). The knowledge base's lexicon is passed to every stage. (A
        declined turn is never planned: its model answers the decline, see
        `OfflineExtractiveModel`.)
        """
        return self._decide(messages, tool_names, tables)

    def _decide(
        self,
        messages: Sequence[ModelMessage],
        tool_names: set[str],
        tables: tuple[str, ...] | None,
    ) -> _Decision:
        view = read_turn(messages, self._lexicon)
        if not view.question:
            return _Decision(answer=not_found(0.0, self._context()))
        schemas = _shown(self._schemas(), tables) if SQL_TOOL in tool_names else []
        self._correct_typos(view, schemas)
        context = self._context()
        question = view.question
        if view.previous_questions and view.previous_answers:
            question = resolve_person(
                question,
                view.previous_questions,
                view.previous_answers,
                names_in_tables(schemas),
            )
            question = resolve_reference(question, view.previous_answers, column_values(schemas))
        query = follow_up_query(question, view.previous_questions, context.tuning.question)
        if self._similarity is not None:
            similarities = self._similarity.similarities
            query = substituted_by_meaning(
                query, question, view.previous_questions, similarities, context.tuning.question
            )
        plan = self._plan(question, view.previous_questions, schemas, context)
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
            chained = chained_plan(
                question, answer.text, schemas, context.lexicon, context.tuning.sql
            )
            if chained is not None:
                looked_up = next((m for m in results.sql if m.get("sql") == chained.sql), None)
                if looked_up is None:
                    return _Decision(calls=[_call(SQL_TOOL, {"sql_query": chained.sql})])
                answer = _joined(answer, compose_sql(chained, looked_up, context.tuning.sql))
        if not can_search and not answer.found:  # search was off for this turn
            not_searched = Answer(NOT_SEARCHED_ANSWER, 0.0, found=False, coverage=0.0)
            return _Decision(answer=not_searched, not_searched=True)
        if not can_search or view.retries:
            return _Decision(answer=answer)
        # The first round makes one search; a second one in the turn is the narrowed search.
        narrowed_already = sum(c.tool_name == SEARCH_TOOL for c in view.calls) > 1
        if not answer.found and not narrowed_already:
            narrowed = narrowed_query(query.text, results.hits, context.tuning.question)
            if narrowed is not None:
                return _Decision(calls=[_call(SEARCH_TOOL, _search_args(narrowed, question))])
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
        question: str,
        previous_questions: Sequence[str],
        schemas: Sequence[TableSchema],
        context: AnswerContext,
    ) -> SqlPlan | None:
        """The table lookup for the question; for an elliptical follow-up, for the whole
        question it stands for ("and in lisbon?" after "how many people are in toronto?")."""
        if not schemas:
            return None
        values = column_values(schemas)
        whole = standalone_question(question, previous_questions, values, context.tuning.question)
        lexicon, tuning = context.lexicon, context.tuning.sql
        if whole != question:
            plan = plan_sql(whole, schemas, lexicon, tuning)
            if plan is not None:
                return plan
        return plan_sql(question, schemas, lexicon, tuning)

    def _context(self) -> AnswerContext:
        """What this turn's answer is composed with (`pipeline.answer`): the lexicon, the
        clarifying question, the knowledge base's words and abbreviations, the embedder and
        the reader."""
        known = self._vocabulary.snapshot() if self._vocabulary is not None else None
        return AnswerContext(
            lexicon=self._lexicon,
            not_found_hint=self._not_found_hint,
            similarity=self._similarity,
            known=known,
            abbreviations=known.abbreviations if known is not None else (),
            reader=self._reader,
            boilerplate=known.boilerplate if known is not None else frozenset(),
        )

    def _compose(self, plan: SqlPlan | None, query: SearchQuery, results: _ToolResults) -> Answer:
        question = pipeline.Question(query.text, query.borrowed, query.whole, plan)
        return pipeline.answer(question, results.hits, results.sql, self._context())

    # --- FunctionModel callbacks ---------------------------------------------------------

    def step(
        self,
        messages: Sequence[ModelMessage],
        tool_names: set[str],
        output_tools: Sequence[ToolDefinition],
        tables: tuple[str, ...] | None = None,
    ) -> _Step:
        """The next step and, when it is the answer, the part that carries it (CPU work: the
        model runs it on its worker pool)."""
        decision = self.decide(messages, tool_names, tables)
        if decision.answer is None:
            return _Step(decision)
        part = self._final_part(messages, output_tools, decision.answer, decision.declined)
        return _Step(decision, part)

    async def step_async(
        self,
        messages: Sequence[ModelMessage],
        tool_names: set[str],
        output_tools: Sequence[ToolDefinition],
        tables: tuple[str, ...] | None = None,
    ) -> _Step:
        """`step` off the event loop, on the worker pool (refused with `ServiceBusy` when the
        pool's queue is full)."""
        if self._pool is None:
            return self.step(messages, tool_names, output_tools, tables)
        return await self._pool.run(
            self._step_anywhere,
            messages,
            tool_names,
            output_tools,
            tables,
            size=_characters(messages),
        )

    def _step_anywhere(
        self,
        messages: Sequence[ModelMessage],
        tool_names: set[str],
        output_tools: Sequence[ToolDefinition],
        tables: tuple[str, ...] | None,
    ) -> _Step:
        """`step` in a planning process when a server has them ready, else on this thread."""
        if self._processes is not None:
            step = self._processes.step(list(messages), set(tool_names), list(output_tools), tables)
            if step is not None:
                return cast(_Step, step)
        return self.step(messages, tool_names, output_tools, tables)

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
        view = read_turn(messages, self._lexicon)
        hits = _tool_results(view).hits
        return advice_call(
            answer, view.question, hits, output_tools[0].name, self._context().tuning.advice
        )

    def declined_step(
        self,
        messages: Sequence[ModelMessage],
        output_tools: Sequence[ToolDefinition],
        declined: str,
    ) -> _Step:
        """The step of a declined turn: its decline, word for word, and nothing looked up."""
        answer = Answer(declined, 0.0, found=False, coverage=0.0)
        decision = _Decision(answer=answer, declined=True)
        return _Step(decision, self._final_part(messages, output_tools, answer, True))


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


def _call(tool: str, args: dict[str, Any]) -> ToolCallPart:
    """A tool call, with PydanticAI's own unique id (an id says nothing about the call: why a
    search was made is read from the turn's messages)."""
    return ToolCallPart(tool_name=tool, args=json.dumps(args))


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


class OfflineExtractiveModel(FunctionModel):
    """The `FunctionModel` that runs the planner, once per request, blocking or streamed.

    Bound to a turn (`for_turn`, the `use_cases.chat.decisions.BindsTurns` port), it is a new
    model for that turn alone: it answers a declined turn with its decline, plans nothing
    for it, and keeps the facts of the latest answer it gave (`answer_facts`). The model the
    server builds is bound to no turn (`NO_DECISIONS`) and, shared by concurrent runs, keeps
    no facts."""

    def __init__(
        self, planner: _Planner, decisions: TurnDecisions = NO_DECISIONS, *, bound: bool = False
    ) -> None:
        super().__init__(self._respond, stream_function=self._stream, model_name=MODEL_NAME)
        self._planner = planner
        self._decisions = decisions
        self._bound = bound
        self._facts: AnswerFacts | None = None

    def for_turn(self, decisions: TurnDecisions) -> OfflineExtractiveModel:
        """This model bound to one turn's decisions (the `TurnModel` of that turn)."""
        return OfflineExtractiveModel(self._planner, decisions, bound=True)

    @property
    def model(self) -> OfflineExtractiveModel:
        """The model a bound turn's run uses: this one."""
        return self

    def answer_facts(self) -> AnswerFacts | None:
        """The facts of the latest answer this model gave (None before one, and always for
        the unbound model)."""
        return self._facts

    async def _step(self, messages: Sequence[ModelMessage], info: AgentInfo) -> _Step:
        declined = self._decisions.declined
        if declined is not None:
            step = self._planner.declined_step(messages, info.output_tools, declined)
        else:
            tools = {t.name for t in info.function_tools}
            step = await self._planner.step_async(
                messages, tools, info.output_tools, _readable_tables(info.function_tools)
            )
        facts = step.decision.facts()
        if facts is not None and self._bound:
            self._facts = facts
        return step

    async def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        step = await self._step(messages, info)
        if step.decision.calls:
            return ModelResponse(parts=list(step.decision.calls))
        assert step.part is not None
        return ModelResponse(parts=[step.part])

    async def _stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        step = await self._step(messages, info)
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
            for chunk in sentence_pieces(part.content):
                yield chunk
            return
        for index, chunk in enumerate(sentence_pieces(part.args_as_json_str())):
            first = index == 0
            yield {
                0: DeltaToolCall(
                    name=part.tool_name if first else None,
                    json_args=chunk,
                    tool_call_id=part.tool_call_id if first else None,
                )
            }


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
) -> OfflineExtractiveModel:
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
    answer's chosen sentences, for its confidence (`confidence.mixed`); without it the
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
