"""The offline extractive model through the real agent loop, with fake ports (no network).

The retriever fake ranks hand-made passages by word overlap; the SQL fake runs the generated
SELECT on an in-memory SQLite copy of a small table, so the SQL the model writes is executed
for real.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pydantic_ai.models
import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.run import AgentRunResultEvent

from services.offline import (
    CLARIFYING_QUESTION,
    MODEL_NAME,
    build_offline_model,
    narrowed_query,
    search_query_for,
)
from services.offline.model import _Planner
from tests.narrowing import of_type
from tests.sample_lexicon import SAMPLE_LEXICON
from use_cases.chat.agent import CHAT_TURN, AgentLimits, build_agent
from use_cases.chat.decisions import AnswerFacts, TurnDecisions
from use_cases.chat.prompts import NOT_FOUND_ANSWER, SEARCH_TOOL, SQL_TOOL, anchored_prompt
from use_cases.chat.tools import AgentDeps
from use_cases.chat.turn_runner import sentence_pieces
from use_cases.knowledge.domain import DocumentRef, HitScores, SearchHit
from use_cases.knowledge.scope import EVERYTHING, ReadScope
from use_cases.shared.errors import ToolRejected
from use_cases.tables.domain import QueryResult, TableCollections, TableColumn, TableSchema

pydantic_ai.models.ALLOW_MODEL_REQUESTS = False

TODAY = date(2026, 11, 21)

# --- fakes ---------------------------------------------------------------------------------


def passage(
    doc: int,
    title: str,
    section: str,
    text: str,
    updated: date | None = date(2025, 2, 3),
    source: str | None = None,
    superseded_by: DocumentRef | None = None,
    supersedes: tuple[DocumentRef, ...] = (),
) -> SearchHit:
    return SearchHit(
        chunk_id=doc * 100 + len(section),
        document_id=doc,
        source=source or f"docs/{title.lower().replace(' ', '-')}-{doc}.md",
        title=title,
        category="policies",
        section_path=(title, section),
        updated_at=updated,
        chunk_text=text,
        section_text=text,
        scores=HitScores(fused=0.03),
        superseded_by=superseded_by,
        supersedes=supersedes,
    )


RETENTION = passage(
    1,
    "Data Retention Policy",
    "Retention schedule",
    "| Data | Retention |\n|---|---|\n"
    "| Raw location pings | **180 days** from receipt |\n"
    "| Financial and accounting records | **7 years** |\n\n"
    "Aggregated route statistics are kept anonymised.",
)
TRAVEL = passage(
    2,
    "Travel Policy",
    "Hotels",
    "Book hotels through the travel portal. Nightly hotel caps depend on the city.",
)
OFFICES = passage(
    3,
    "Company Overview",
    "Offices",
    "Our offices are in Rotterdam, Lisbon and Toronto. Employees in the Netherlands are paid "
    "monthly on the 25th.",
)
REF_2023 = DocumentRef(4, "Password Policy", "policies/password-policy-2023.md", date(2023, 6, 12))
REF_2025 = DocumentRef(5, "Password Policy", "policies/password-policy-2025.md", date(2025, 9, 15))
PASSWORD_2023 = passage(
    4,
    "Password Policy",
    "Workforce passwords",
    "The minimum password length is 12 characters and passwords expire every 90 days.",
    updated=date(2023, 6, 12),
    source="policies/password-policy-2023.md",
    superseded_by=REF_2025,
)
PASSWORD_2025 = passage(
    5,
    "Password Policy",
    "Workforce passwords",
    "The minimum password length is 14 characters. Passwords are changed only on evidence "
    "of compromise.",
    updated=date(2025, 9, 15),
    source="policies/password-policy-2025.md",
    supersedes=(REF_2023,),
)


class FakeRetriever:
    """Ranks the passages by how many query words they contain (both legs "agree")."""

    def __init__(self, hits: Sequence[SearchHit]) -> None:
        self.hits = list(hits)
        self.queries: list[str] = []
        self.as_of: list[date | None] = []

    @property
    def reranker_enabled(self) -> bool:
        return False

    def search(
        self,
        query: str,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> list[SearchHit]:
        self.queries.append(query)
        self.as_of.append(as_of)
        words = {w for w in re.findall(r"\w+", query.lower()) if len(w) > 3}
        ranked = []
        for hit in self.hits:
            text = f"{hit.title} {hit.section_text}".lower()
            overlap = sum(1 for w in words if w in text)
            if overlap:
                ranked.append((overlap, hit))
        ranked.sort(key=lambda pair: -pair[0])
        out = []
        for rank, (_, hit) in enumerate(ranked[: k or 5], start=1):
            scores = HitScores(
                fused=2 / (60 + rank), bm25_rank=rank, vector_rank=rank, vector_distance=0.3
            )
            out.append(SearchHit(**{**hit.__dict__, "scores": scores}))
        return out


DIRECTORY_ROWS = [
    ("E001", "Annelies Verbeek", "Chief Executive Officer", "Executive", None),
    ("E004", "Ifeoma Adeyemi", "Head of Site Reliability", "Site Reliability", "E001"),
    ("E017", "Fleur Janssen", "Site Reliability Engineer", "Site Reliability", "E004"),
    ("E018", "Seán O'Brien", "Support Engineer", "Support", "E004"),
]
DIRECTORY = TableSchema(
    name="directory",
    columns=(
        TableColumn("employee_id", "TEXT", ("E001", "E004", "E017")),
        TableColumn("name", "TEXT", ("Annelies Verbeek", "Ifeoma Adeyemi", "Fleur Janssen")),
        TableColumn(
            "title",
            "TEXT",
            ("Chief Executive Officer",),
            ("Chief Executive Officer", "Head of Site Reliability", "Support Engineer"),
        ),
        TableColumn("team", "TEXT", ("Executive", "Site Reliability")),
        TableColumn("manager_id", "TEXT", ("E001", "E004")),
    ),
    row_count=len(DIRECTORY_ROWS),
)
KPI_ROWS = [
    ("KPI-01", "ETA accuracy", "Share of on-time ETAs", "ETA Intelligence", ">= 88"),
    ("KPI-02", "Ingest latency p95", "Ping to event time", "Tracking Core", "<= 5"),
]
KPIS = TableSchema(
    name="kpi_catalog",
    columns=(
        TableColumn("kpi_id", "TEXT", ("KPI-01", "KPI-02")),
        TableColumn("name", "TEXT", ("ETA accuracy", "Ingest latency p95")),
        TableColumn("description", "TEXT", ()),
        TableColumn("owner_team", "TEXT", ("ETA Intelligence",)),
        TableColumn("target", "TEXT", (">= 88", "<= 5")),
    ),
    row_count=len(KPI_ROWS),
)


class FakeSql:
    """`SqlRunner` over an in-memory SQLite copy of the tables: the model's SQL really runs."""

    def __init__(self, *, reject: bool = False) -> None:
        self.reject = reject
        self.queries: list[str] = []
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        self.conn.execute(
            "CREATE TABLE directory (employee_id TEXT, name TEXT, title TEXT, team TEXT, "
            "manager_id TEXT)"
        )
        self.conn.executemany("INSERT INTO directory VALUES (?,?,?,?,?)", DIRECTORY_ROWS)
        self.conn.execute(
            "CREATE TABLE kpi_catalog (kpi_id TEXT, name TEXT, description TEXT, "
            "owner_team TEXT, target TEXT)"
        )
        self.conn.executemany("INSERT INTO kpi_catalog VALUES (?,?,?,?,?)", KPI_ROWS)

    dialect = "SQLite"

    def schemas(self, collections: TableCollections = None) -> list[TableSchema]:
        return [DIRECTORY, KPIS]

    def run(self, sql: str, collections: TableCollections = None) -> QueryResult:
        self.queries.append(sql)
        if self.reject:
            raise ToolRejected("Only read-only SELECT queries are allowed.")
        cursor = self.conn.execute(sql)
        columns = tuple(d[0] for d in cursor.description)
        return QueryResult(columns=columns, rows=tuple(cursor.fetchall()), truncated=False)

    def refresh(self) -> None:
        """Nothing is cached: the schemas are fixed."""


class FakeClock:
    def today(self) -> date:
        return TODAY

    def now(self) -> datetime:
        return datetime(2026, 11, 21, 12, 0)


# --- helpers -------------------------------------------------------------------------------

Agent = Any


@pytest.fixture(scope="module")
def agent() -> Agent:
    return build_agent(CHAT_TURN, limits=AgentLimits())


def deps(hits: Sequence[SearchHit], sql: FakeSql | None = None) -> AgentDeps:
    return AgentDeps(retriever=FakeRetriever(hits), sql=sql, clock=FakeClock())


def model_for(sql: FakeSql | None) -> Any:
    schemas: Callable[[], list[TableSchema]] = sql.schemas if sql else list
    return build_offline_model(schemas, lexicon=SAMPLE_LEXICON)


async def ask(
    agent: Agent,
    question: str,
    hits: Sequence[SearchHit],
    sql: FakeSql | None = None,
    history: list[ModelMessage] | None = None,
) -> tuple[Any, AgentDeps]:
    run_deps = deps(hits, sql)
    result = await agent.run(
        anchored_prompt(question, TODAY),
        model=model_for(sql),
        deps=run_deps,
        message_history=history,
    )
    return result, run_deps


async def ask_for_facts(
    agent: Agent, question: str, hits: Sequence[SearchHit], *, streamed: bool = False
) -> tuple[str, AnswerFacts | None]:
    """The answer, and the facts the model bound to the turn reports about it."""
    bound = model_for(None).for_turn(TurnDecisions())
    prompt = anchored_prompt(question, TODAY)
    if not streamed:
        result = await agent.run(prompt, model=bound.model, deps=deps(hits))
        return result.output, bound.answer_facts()
    output = ""
    async with agent.run_stream_events(prompt, model=bound.model, deps=deps(hits)) as events:
        async for event in events:
            if isinstance(event, AgentRunResultEvent):
                output = event.result.output
    return output, bound.answer_facts()


def tool_calls(messages: Sequence[ModelMessage]) -> list[ToolCallPart]:
    return [
        part
        for message in messages
        if isinstance(message, ModelResponse)
        for part in message.parts
        if isinstance(part, ToolCallPart)
    ]


# --- documents -------------------------------------------------------------------------------


async def test_searches_the_question_and_answers_with_citations_and_sources(agent: Agent) -> None:
    result, run_deps = await ask(
        agent, "How long are raw location pings retained?", [TRAVEL, RETENTION, OFFICES]
    )

    calls = tool_calls(result.all_messages())
    assert calls[0].tool_name == SEARCH_TOOL
    # The date anchor is stripped: the search gets the question itself.
    assert calls[0].args_as_dict() == {"query": "How long are raw location pings retained?"}
    assert (
        of_type(FakeRetriever, run_deps.retriever).queries[0]
        == "How long are raw location pings retained?"
    )

    answer = result.output
    assert "180 days" in answer
    body, sources = answer.split("\n\n**Sources**\n")
    assert re.search(r"180 days.*\[1\]", body)
    assert sources.splitlines() == ["[1] Data Retention Policy, Retention schedule (2025-02-03)"]


async def test_table_rows_become_sentences_with_their_headers(agent: Agent) -> None:
    result, _ = await ask(agent, "How long are financial and accounting records kept?", [RETENTION])
    assert "Financial and accounting records — Retention: 7 years [1]." in result.output


async def test_prefers_the_newer_of_two_versions_of_a_policy(agent: Agent) -> None:
    result, _ = await ask(
        agent,
        "What is the minimum password length?",
        [PASSWORD_2023, PASSWORD_2025],
    )
    answer = result.output
    numbers = {h["number"]: h for h in _hits(result.all_messages())}
    newer = next(n for n, h in numbers.items() if h["updated_at"] == "2025-09-15")
    assert "14 characters" in answer
    assert "12 characters" not in answer
    assert f"[{newer}]" in answer
    assert "superseded" in answer
    sources = answer.split("**Sources**")[1]
    assert "(2023-06-12)" not in sources
    assert (
        f"[{newer}] Password Policy, Workforce passwords (2025-09-15; current version, "
        "supersedes Password Policy of 2023-06-12)"
    ) in sources


async def test_a_question_about_the_past_is_answered_from_the_superseded_version(
    agent: Agent,
) -> None:
    result, _ = await ask(
        agent,
        "When did passwords expire every 90 days, what was the minimum length back then?",
        [PASSWORD_2023, PASSWORD_2025],
    )
    answer = result.output
    assert "12 characters" in answer or "90 days" in answer
    assert "superseded by Password Policy of 2025-09-15" in answer.split("**Sources**")[1]


async def test_a_question_naming_a_past_date_is_answered_from_the_version_in_force_then(
    agent: Agent,
) -> None:
    result, run_deps = await ask(
        agent,
        "what was the minimum password length before the sept 2025 update?",
        [PASSWORD_2023, PASSWORD_2025],
    )
    calls = [c for c in tool_calls(result.all_messages()) if c.tool_name == SEARCH_TOOL]
    assert calls[0].args_as_dict()["as_of"] == "2025-08-31"
    assert of_type(FakeRetriever, run_deps.retriever).as_of[0] == date(2025, 8, 31)
    answer = result.output
    assert "12 characters" in answer
    assert "14 characters" not in answer
    assert "superseded by Password Policy of 2025-09-15" in answer.split("**Sources**")[1]

    result, run_deps = await ask(
        agent, "What is the minimum password length?", [PASSWORD_2023, PASSWORD_2025]
    )
    assert of_type(FakeRetriever, run_deps.retriever).as_of == [None]
    assert "14 characters" in result.output


async def test_a_newer_date_under_the_same_title_does_not_make_a_version_current(
    agent: Agent,
) -> None:
    """Only the recorded relation says which version is current: two documents that share a
    title and differ in date are two documents, and neither is dropped for the other."""
    unrelated = [
        replace(PASSWORD_2023, superseded_by=None),
        replace(PASSWORD_2025, supersedes=(), updated_at=date(2099, 1, 1)),
    ]
    result, _ = await ask(agent, "What is the minimum password length?", unrelated)
    assert "superseded" not in result.output
    assert "current version" not in result.output


async def test_weak_evidence_gives_the_exact_cant_find_answer(agent: Agent) -> None:
    result, _ = await ask(
        agent, "What is the vesting schedule for employee stock options?", [OFFICES, TRAVEL]
    )
    assert result.output == f"{NOT_FOUND_ANSWER} {CLARIFYING_QUESTION}"
    _, facts = await ask_for_facts(
        agent, "What is the vesting schedule for employee stock options?", [OFFICES, TRAVEL]
    )
    assert facts is not None and facts.not_found and facts.confidence <= 0.3


async def test_the_clarifying_question_is_the_deployments_own(agent: Agent) -> None:
    hint = "Which of the kettle manuals do you mean?"
    result = await agent.run(
        anchored_prompt("What is the vesting schedule for employee stock options?", TODAY),
        model=build_offline_model(list, not_found_hint=hint),
        deps=deps([OFFICES, TRAVEL]),
    )
    assert result.output == f"{NOT_FOUND_ANSWER} {hint}"
    assert "policy" not in CLARIFYING_QUESTION  # the default assumes no handbook


async def test_refusal_needs_no_extra_searches_for_single_words(agent: Agent) -> None:
    result, run_deps = await ask(
        agent, "What is the vesting schedule for employee stock options?", [OFFICES, TRAVEL]
    )
    queries = of_type(FakeRetriever, run_deps.retriever).queries
    assert "stock" not in queries and "vesting" not in queries  # no one-word probes
    assert result.usage.requests <= 3


def test_a_narrower_query_drops_words_every_passage_shares() -> None:
    hits = [
        {"title": "Tidewater Relay at a Glance", "text": "Tidewater Relay has offices."},
        {"title": "Travel", "text": "Tidewater Relay staff book hotels."},
        {"title": "Retention", "text": "Tidewater Relay keeps records."},
    ]
    query = "How long does Tidewater Relay keep financial and accounting records?"
    assert narrowed_query(query, hits) == "keep financial accounting records"
    assert narrowed_query("What is the uptime?", hits) is None  # nothing to drop
    assert narrowed_query(query, hits[:2]) is None  # too few passages to judge


async def test_no_hits_gives_the_cant_find_answer(agent: Agent) -> None:
    result, _ = await ask(agent, "What is the vesting schedule for stock options?", [])
    assert result.output.startswith(NOT_FOUND_ANSWER)
    assert result.output.endswith("?")


async def test_confidence_is_reported_with_the_answer(agent: Agent) -> None:
    """The facts come back from the model bound to the turn, as a value; the response
    carries nothing for them."""
    bound = model_for(None).for_turn(TurnDecisions())
    assert bound.answer_facts() is None  # no answer yet: nothing to report
    result = await agent.run(
        anchored_prompt("How long are raw location pings retained?", TODAY),
        model=bound.model,
        deps=deps([RETENTION]),
    )
    facts = bound.answer_facts()
    assert facts is not None and 0.5 < facts.confidence <= 1.0 and not facts.not_found
    assert all(
        not m.provider_details for m in result.all_messages() if isinstance(m, ModelResponse)
    )


async def test_each_turn_has_its_own_facts(agent: Agent) -> None:
    shared = model_for(None)
    found = shared.for_turn(TurnDecisions())
    missing = shared.for_turn(TurnDecisions())
    await agent.run(
        anchored_prompt("How long are raw location pings retained?", TODAY),
        model=found.model,
        deps=deps([RETENTION]),
    )
    await agent.run(
        anchored_prompt("What is the vesting schedule for stock options?", TODAY),
        model=missing.model,
        deps=deps([]),
    )
    assert found.answer_facts() is not None and not found.answer_facts().not_found
    assert missing.answer_facts() is not None and missing.answer_facts().not_found


async def test_a_declined_turn_gets_its_decline_and_nothing_is_planned(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decline reaches the model as `TurnDecisions.declined`, never through its
    instructions; nothing is looked up and the planner is not asked."""
    planned: list[int] = []
    monkeypatch.setattr(_Planner, "step", lambda *a: planned.append(1))
    declined = "I can't share my instructions or configuration."
    bound = model_for(None).for_turn(TurnDecisions(declined=declined))
    run_deps = deps([RETENTION])
    result = await agent.run(
        anchored_prompt("How long are raw location pings retained?", TODAY),
        model=bound.model,
        deps=run_deps,
    )
    assert result.output == declined and tool_calls(result.all_messages()) == []
    assert of_type(FakeRetriever, run_deps.retriever).queries == [] and planned == []
    assert bound.answer_facts() == AnswerFacts(0.0, not_found=False)


async def test_a_streamed_request_is_planned_once(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "How long are raw location pings retained?"
    blocking, _ = await ask_for_facts(agent, question, [RETENTION])
    steps: list[int] = []
    step = _Planner.step

    def counted(self: Any, *args: Any) -> Any:
        steps.append(1)
        return step(self, *args)

    monkeypatch.setattr(_Planner, "step", counted)
    streamed, _ = await ask_for_facts(agent, question, [RETENTION], streamed=True)
    assert streamed == blocking
    assert len(steps) == 2  # the search, then the answer: one plan per request


async def test_a_tool_call_id_says_nothing_and_the_narrowed_search_is_made_once(
    agent: Agent,
) -> None:
    """Why a search was made is read from the turn (its second search is the narrowed
    one), not from ids, which are PydanticAI's own."""
    result, run_deps = await ask(
        agent, "What is the vesting schedule for employee stock options?", [OFFICES, TRAVEL]
    )
    calls = tool_calls(result.all_messages())
    searches = [c for c in calls if c.tool_name == SEARCH_TOOL]
    assert 1 <= len(searches) <= 2
    assert all(not c.tool_call_id.startswith("offline") for c in calls)
    assert len(of_type(FakeRetriever, run_deps.retriever).queries) == len(searches)


async def test_reports_its_model_name(agent: Agent) -> None:
    result, _ = await ask(agent, "How long are raw location pings retained?", [RETENTION])
    responses = [m for m in result.all_messages() if isinstance(m, ModelResponse)]
    assert responses and {r.model_name for r in responses} == {MODEL_NAME}
    assert MODEL_NAME == "offline-extractive"
    assert model_for(None).model_name == "offline-extractive"


async def test_follow_up_questions_borrow_the_previous_questions_terms(agent: Agent) -> None:
    history: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart("How long are raw location pings retained?")]),
        ModelResponse(parts=[TextPart("Raw location pings are kept for 180 days [1].")]),
    ]
    result, _ = await ask(agent, "And why is it that long?", [RETENTION, OFFICES], history=history)
    query = tool_calls(result.all_messages())[0].args_as_dict()["query"]
    assert "raw location pings" in query
    assert query.endswith("And why is it that long?")
    # A self-contained question is left alone.
    assert search_query_for("Who owns the runbook?", ["How long?"]) == "Who owns the runbook?"


# --- tables -----------------------------------------------------------------------------------


async def test_manager_question_self_joins_the_directory(agent: Agent) -> None:
    sql = FakeSql()
    result, _ = await ask(agent, "Who is the manager of Fleur Janssen?", [OFFICES], sql)

    calls = tool_calls(result.all_messages())
    assert {c.tool_name for c in calls} == {SEARCH_TOOL, SQL_TOOL}
    query = next(c for c in calls if c.tool_name == SQL_TOOL).args_as_dict()["sql_query"]
    assert "JOIN" in query.upper() and "fleur janssen" in query.lower()
    assert result.output.startswith(
        "The manager of Fleur Janssen is Ifeoma Adeyemi [table: directory]."
    )
    assert "**Sources**\n[table: directory]" in result.output


async def test_column_and_table_words_target_a_table(agent: Agent) -> None:
    sql = FakeSql()
    result, _ = await ask(agent, "What is the target for the ETA accuracy KPI?", [], sql)
    assert "The target of ETA accuracy is >= 88 [table: kpi_catalog]." in result.output


async def test_a_missing_reference_is_said_plainly(agent: Agent) -> None:
    result, _ = await ask(agent, "Who is the manager of Annelies Verbeek?", [], FakeSql())
    assert result.output.startswith(
        "For Annelies Verbeek, no manager is recorded [table: directory]."
    )


async def test_how_many_counts_the_named_rows(agent: Agent) -> None:
    sql = FakeSql()
    result, _ = await ask(agent, "How many people are in the Site Reliability team?", [], sql)
    assert sql.queries and sql.queries[0].startswith("SELECT COUNT(*)")
    assert result.output.startswith("The directory table has 2 rows matching")


async def test_sql_literals_are_quoted(agent: Agent) -> None:
    sql = FakeSql()
    result, _ = await ask(agent, "Who is the manager of Seán O'Brien?", [], sql)
    assert any("O''Brien" in q or "o''brien" in q for q in sql.queries)
    assert "Ifeoma Adeyemi" in result.output


async def test_plain_document_questions_do_not_query_tables(agent: Agent) -> None:
    sql = FakeSql()
    result, _ = await ask(agent, "How long are raw location pings retained?", [RETENTION], sql)
    assert sql.queries == []
    assert "180 days" in result.output


async def test_a_rejected_query_is_answered_without_looping(agent: Agent) -> None:
    sql = FakeSql(reject=True)
    result, _ = await ask(agent, "Who is the manager of Fleur Janssen?", [OFFICES], sql)
    assert len(sql.queries) == 1  # the retry is not repeated
    assert result.output.startswith(NOT_FOUND_ANSWER)
    assert result.usage.requests <= 3


# --- streaming ------------------------------------------------------------------------------


async def test_streaming_gives_the_same_answer_in_several_deltas(agent: Agent) -> None:
    """One delta per sentence or line (the answer and its Sources list), joined back whole."""
    question = "How long are raw location pings retained?"
    blocking, _ = await ask(agent, question, [TRAVEL, RETENTION])

    run_deps = deps([TRAVEL, RETENTION])
    pieces: list[str] = []
    tools: list[str] = []
    final = None
    async with agent.run_stream_events(
        anchored_prompt(question, TODAY), model=model_for(None), deps=run_deps
    ) as events:
        async for event in events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                pieces.append(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                pieces.append(event.delta.content_delta)
            elif isinstance(event, PartStartEvent) and isinstance(event.part, ToolCallPart):
                tools.append(event.part.tool_name)
            elif isinstance(event, AgentRunResultEvent):
                final = event.result

    assert tools == [SEARCH_TOOL]
    assert len(pieces) > 2
    assert all(piece.strip() for piece in pieces)
    assert final is not None
    assert "".join(pieces) == final.output == blocking.output
    assert await ask_for_facts(agent, question, [TRAVEL, RETENTION], streamed=True) == (
        await ask_for_facts(agent, question, [TRAVEL, RETENTION])
    )
    last = final.all_messages()[-1]
    assert isinstance(last, ModelResponse) and last.model_name == MODEL_NAME


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'Keep it 14 characters. Rotate it yearly! Say "done." Next\n'
            "- one\n- two\n\nSources:\n[1] x",
            [
                "Keep it 14 characters. ",
                "Rotate it yearly! ",
                'Say "done." ',
                "Next\n",
                "- one\n",
                "- two\n\n",
                "Sources:\n",
                "[1] x",
            ],
        ),
        ("version 2.5 of it", ["version 2.5 of it"]),
        ("", []),
    ],
)
def test_a_stream_is_cut_into_sentences_and_lines(text: str, expected: list[str]) -> None:
    assert sentence_pieces(text) == expected
    assert "".join(sentence_pieces(text)) == text


async def test_streaming_sql_tool_calls(agent: Agent) -> None:
    sql = FakeSql()
    async with agent.run_stream_events(
        anchored_prompt("Who is the manager of Fleur Janssen?", TODAY),
        model=model_for(sql),
        deps=deps([OFFICES], sql),
    ) as events:
        result = None
        async for event in events:
            if isinstance(event, AgentRunResultEvent):
                result = event.result
    assert result is not None
    assert "Ifeoma Adeyemi" in result.output
    assert len(sql.queries) == 1


# --- helpers for assertions -------------------------------------------------------------------


def _hits(messages: Sequence[ModelMessage]) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                metadata = getattr(part, "metadata", None)
                if isinstance(metadata, dict):
                    hits.extend(metadata.get("hits") or [])
    return hits


async def test_a_follow_up_pronoun_stands_for_the_person_the_last_answer_named(
    agent: Agent,
) -> None:
    history: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart("Who is the manager of Fleur Janssen?")]),
        ModelResponse(
            parts=[TextPart("The manager of Fleur Janssen is Ifeoma Adeyemi [table: directory].")]
        ),
    ]
    sql = FakeSql()
    result, _ = await ask(agent, "and what's their title?", [OFFICES], sql, history=history)
    assert sql.queries and "ifeoma adeyemi" in sql.queries[0].lower()
    assert "Head of Site Reliability" in result.output


async def test_a_follow_ups_own_words_outweigh_the_words_it_borrowed(agent: Agent) -> None:
    history: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart("How long are raw location pings retained?")]),
        ModelResponse(parts=[TextPart("Raw location pings are kept for 180 days [1].")]),
    ]
    result, _ = await ask(agent, "and financial records?", [RETENTION], history=history)
    assert "7 years" in result.output.split("**Sources**")[0]
    assert "180 days" not in result.output.split("[1]")[0]


async def test_direct_reports_of_a_title_are_counted_and_listed(agent: Agent) -> None:
    result, _ = await ask(agent, "how many direct reports does the CEO have?", [], FakeSql())
    assert result.output.startswith("Annelies Verbeek has 1 direct report [table: directory].")
    result, _ = await ask(agent, "who reports to Ifeoma Adeyemi?", [], FakeSql())
    assert result.output.startswith(
        "Ifeoma Adeyemi's direct reports (2): Fleur Janssen (Site Reliability Engineer), "
        "Seán O'Brien (Support Engineer) [table: directory]."
    )
    # The other direction is still the manager of the named person.
    result, _ = await ask(agent, "who does Fleur Janssen report to?", [], FakeSql())
    assert result.output.startswith("The manager of Fleur Janssen is Ifeoma Adeyemi")
    # ... also when a second question follows "report to".
    result, _ = await ask(
        agent, "who does Fleur Janssen report to and whats her title", [], FakeSql()
    )
    assert "the manager is Ifeoma Adeyemi" in result.output
    assert "Site Reliability Engineer" in result.output
    # "report directly to", and a title given with "of" ("Head Site Reliability" would be
    # the same title).
    result, _ = await ask(
        agent, "how many people report directly to the head of site reliability?", [], FakeSql()
    )
    assert result.output.startswith("Ifeoma Adeyemi has 2 direct reports")


async def test_a_who_question_leads_with_the_sentence_naming_someone(agent: Agent) -> None:
    failover = passage(
        7,
        "Database Failover Runbook",
        "Cross-region recovery",
        "If the EU region is down as a whole, the EU stack can be moved to the Frankfurt "
        "standby cluster. Only the Head of Site Reliability (Ifeoma Adeyemi) can authorise "
        "moving the EU stack.",
    )
    result, _ = await ask(
        agent, "who can sign off on moving the whole EU stack to frankfurt?", [failover]
    )
    assert result.output.startswith("Only the Head of Site Reliability (Ifeoma Adeyemi)")
