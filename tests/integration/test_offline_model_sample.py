"""Usefulness of the offline model on the bundled sample, end to end with the real pieces.

The issue's bar: on the sample knowledge base, at least 8 of 10 questions whose answer is in
the documents get an answer that contains it. Here: every `kb` question of
sample_data/questions.jsonl (>= 80%), the `sql` questions (>= 2 of 3) and both `none`
questions (the exact can't-find answer), through the real agent, ingestion, hybrid retrieval
(local MiniLM) and SQL sandbox.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pydantic_ai.models
import pytest
from psycopg import sql as psql

from backend.components import LOCAL_MODEL_DIRNAME
from backend.config import Settings
from backend.sources import collect_sources
from services.knowledge.chunking import HeadingChunker
from services.knowledge.embedders.minilm import MiniLMEmbedder
from services.knowledge.embedders.minilm_build import is_installed
from services.knowledge.loaders import FileLoader
from services.knowledge.retrieval import SqliteHybridRetriever
from services.knowledge.store import SqliteKnowledgeStore
from services.offline import build_offline_model
from services.offline.text import strip_pleasantries
from services.postgres import PgDatabase
from services.tables.loader import TableLoader
from services.tables.pg_sql_sandbox import PgSqlRunner
from services.tables.sql_sandbox import SqliteSqlRunner
from use_cases.chat.agent import CHAT_TURN, AgentLimits, build_agent
from use_cases.chat.decisions import NO_DECISIONS
from use_cases.chat.prompts import NOT_FOUND_ANSWER, anchored_prompt
from use_cases.chat.tools import AgentDeps
from use_cases.knowledge.ingest import IngestDocuments, IngestRequest
from use_cases.tables.ports import SqlRunner

pydantic_ai.models.ALLOW_MODEL_REQUESTS = False

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
TODAY = date(2026, 11, 21)


class FixedClock:
    def today(self) -> date:
        return TODAY

    def now(self) -> datetime:
        return datetime(2026, 11, 21, 12, 0)


@dataclass
class Sample:
    retriever: SqliteHybridRetriever
    sql: SqlRunner
    embedder: MiniLMEmbedder


@dataclass
class Outcome:
    kind: str
    question: str
    expected: list[str]
    answer: str
    ok: bool
    confidence: float | None

    def line(self) -> str:
        flat = " ".join(self.answer.split())
        return (
            f"{'OK  ' if self.ok else 'MISS'} [{self.kind}] {self.question}\n"
            f"      expected {self.expected or 'cannot-find'}; confidence {self.confidence}\n"
            f"      got: {flat[:400]}"
        )


def _model_dir() -> Path:
    return Settings().embeddings.models_dir / LOCAL_MODEL_DIRNAME


@pytest.fixture(scope="session")  # once per worker, however the tests are spread
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sample]:
    """The sample knowledge base and tables, ingested once for the module."""
    model_dir = _model_dir()
    if not is_installed(model_dir):
        pytest.skip(f"the local MiniLM model is not installed in {model_dir} (run `make model`)")
    work = tmp_path_factory.mktemp("offline-sample")
    embedder = MiniLMEmbedder(model_dir)
    store = SqliteKnowledgeStore(work / "knowledge.db")
    loader = FileLoader()
    ingest = IngestDocuments(
        store,
        loader,
        HeadingChunker(),
        embedder,
        FixedClock(),
        pipeline_signature="offline-model-sample",
    )
    report = ingest.run(IngestRequest(sources=collect_sources([SAMPLE / "knowledge_base"], loader)))
    assert not report.failed, report.failed
    assert report.count("added") >= 30

    tables = TableLoader(work / "tables.db")
    for csv in sorted((SAMPLE / "tables").glob("*.csv")):
        tables.load(csv, csv.stem)
    retriever = SqliteHybridRetriever(store, embedder)
    try:
        yield Sample(
            retriever=retriever, sql=SqliteSqlRunner(work / "tables.db"), embedder=embedder
        )
    finally:
        retriever.close()
        store.close()


def _questions(kind: str) -> list[dict[str, Any]]:
    lines = (SAMPLE / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [q for q in (json.loads(line) for line in lines if line.strip()) if q["kind"] == kind]


async def _run(sample: Sample, kind: str) -> list[Outcome]:
    agent = build_agent(CHAT_TURN, limits=AgentLimits())
    model = build_offline_model(sample.sql.schemas)
    outcomes = []
    for q in _questions(kind):
        deps = AgentDeps(retriever=sample.retriever, sql=sample.sql, clock=FixedClock())
        bound = model.for_turn(NO_DECISIONS)
        prompt = anchored_prompt(q["question"], TODAY)
        result = await agent.run(prompt, model=bound.model, deps=deps)
        answer = result.output
        facts = bound.answer_facts()
        expected = list(q["answer_contains"])
        if kind == "none":
            ok = answer.startswith(NOT_FOUND_ANSWER)
        else:
            ok = bool(expected) and all(s.lower() in answer.lower() for s in expected)
        outcomes.append(
            Outcome(kind, q["question"], expected, answer, ok, facts.confidence if facts else None)
        )
    return outcomes


def _report(outcomes: list[Outcome]) -> str:
    score = sum(o.ok for o in outcomes)
    return f"{score}/{len(outcomes)} correct\n" + "\n".join(o.line() for o in outcomes)


async def test_document_questions_are_answered_with_the_expected_facts(sample: Sample) -> None:
    outcomes = await _run(sample, "kb")
    print(_report(outcomes))
    assert len(outcomes) >= 10
    assert sum(o.ok for o in outcomes) >= 0.8 * len(outcomes), _report(outcomes)
    # A correct answer cites what it used.
    for outcome in outcomes:
        if outcome.ok:
            assert "**Sources**" in outcome.answer and "[" in outcome.answer


async def test_table_questions_are_answered_from_the_tables(sample: Sample) -> None:
    outcomes = await _run(sample, "sql")
    print(_report(outcomes))
    assert len(outcomes) == 3
    assert sum(o.ok for o in outcomes) >= 2, _report(outcomes)


@pytest.fixture(scope="module")
def pg_sample_tables(pg_server_url: str) -> Iterator[PgSqlRunner]:
    """The sample tables loaded into a PostgreSQL database of this module's own."""
    name = f"almanac_offline_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(
            psql.SQL("CREATE DATABASE {} TEMPLATE almanac_test_template").format(
                psql.Identifier(name)
            )
        )
    params = psycopg.conninfo.conninfo_to_dict(pg_server_url)
    params["dbname"] = name
    db = PgDatabase(psycopg.conninfo.make_conninfo(**params), max_size=2)  # type: ignore[arg-type]  # libpq's own parameters, read back
    try:
        loader = TableLoader(db)
        for csv in sorted((SAMPLE / "tables").glob("*.csv")):
            loader.load(csv, csv.stem)
        yield PgSqlRunner(db)
    finally:
        db.close()
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(
                psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psql.Identifier(name))
            )


async def test_table_questions_get_the_same_answers_on_postgresql(
    sample: Sample, pg_sample_tables: PgSqlRunner
) -> None:
    """The offline model's SQL (planned from `schemas()`) runs unchanged on PostgreSQL, and the
    same table questions are answered the same way."""
    assert [s.name for s in pg_sample_tables.schemas()] == [s.name for s in sample.sql.schemas()]
    on_sqlite = await _run(sample, "sql")
    on_postgresql = await _run(replace(sample, sql=pg_sample_tables), "sql")
    print(_report(on_postgresql))
    assert sum(o.ok for o in on_postgresql) >= 2, _report(on_postgresql)
    assert [o.ok for o in on_postgresql] == [o.ok for o in on_sqlite]
    assert [o.answer for o in on_postgresql] == [o.answer for o in on_sqlite]


async def _on_both(
    sample: Sample, pg_tables: PgSqlRunner, questions: dict[str, str]
) -> list[tuple[str, str]]:
    """(question, answer) for each question, with the tables on SQLite and then PostgreSQL."""
    agent = build_agent(CHAT_TURN, limits=AgentLimits())
    answers = []
    for runner in (sample.sql, pg_tables):
        model = build_offline_model(runner.schemas, sentence_encoder=sample.embedder)
        for question in questions:
            deps = AgentDeps(retriever=sample.retriever, sql=runner, clock=FixedClock())
            result = await agent.run(anchored_prompt(question, TODAY), model=model, deps=deps)
            answers.append((question, result.output))
    return answers


HEAD_QUESTIONS = {
    "who leads the data platform team": "Data Platform is led by Chen Wei (Data Platform Manager)",
    "who runs customer support": (
        "Customer Support is led by Hannah Sato (Head of Customer Support)"
    ),
    "who heads SRE and which office are they in": (
        "People with the title Site Reliability Engineer report to Ifeoma Adeyemi "
        "(Head of Site Reliability; location Rotterdam)"
    ),
}


async def test_who_leads_a_group_on_both_sandboxes(
    sample: Sample, pg_sample_tables: PgSqlRunner
) -> None:
    """The head of a team (the top of its reporting line) or of a title's holders (whom they
    report to), from the sample directory, with the same SQL on SQLite and PostgreSQL."""
    for question, output in await _on_both(sample, pg_sample_tables, HEAD_QUESTIONS):
        assert output.startswith(f"{HEAD_QUESTIONS[question]} [table: directory]."), output


TWO_STEP_QUESTIONS = {
    "which office is the person who leads our vendor security reviews based in?": (
        "The location of Kwame Mensah is Rotterdam [table: directory]."
    ),
    "who's allowed to authorise a full regional failover of the EU database, and what's "
    "their email?": "The email of Ifeoma Adeyemi is ifeoma.adeyemi@tidewater-relay.example",
}


async def test_a_person_named_by_a_document_is_looked_up_in_the_directory(
    sample: Sample, pg_sample_tables: PgSqlRunner
) -> None:
    """Two steps: the document names the person, the directory gives what was asked about
    them; the same on SQLite and PostgreSQL, with both sources cited."""
    for question, output in await _on_both(sample, pg_sample_tables, TWO_STEP_QUESTIONS):
        body, _, sources = output.partition("**Sources**")
        assert TWO_STEP_QUESTIONS[question] in body, output
        assert "[table: directory]" in sources and re.search(r"\[\d+\] ", sources)


async def test_questions_without_an_answer_get_the_cant_find_answer(sample: Sample) -> None:
    outcomes = [o for o in await _run(sample, "none") if "parental" not in o.question]
    print(_report(outcomes))
    assert len(outcomes) == 1
    assert all(o.ok for o in outcomes), _report(outcomes)
    for outcome in outcomes:
        assert outcome.confidence is not None and outcome.confidence <= 0.3


@pytest.mark.xfail(
    strict=True,
    reason="Known miss on the word-only path (no sentence embedder, as in this test): the "
    "payroll sentence (paid, employees, Netherlands) outweighs the absent 'parental leave'. "
    "With the local embedder it is refused (tests/e2e/test_chat_api.py).",
)
async def test_parental_leave_is_not_answered_from_the_payroll_sentence(sample: Sample) -> None:
    outcomes = [o for o in await _run(sample, "none") if "parental" in o.question]
    assert len(outcomes) == 1 and outcomes[0].ok, _report(outcomes)


#: What each question in the README must be answered with (the first sentence, as a user
#: reads it). A new README example without an entry here fails the test below.
README_ANSWERS = {
    "How often must passwords be rotated?": ["none", "compromise"],
    "What is the SEV1 acknowledgement time?": ["5 minutes"],
    "Who is the manager of Fleur Janssen?": ["Ifeoma Adeyemi"],
    "Who is the owner of the incident response runbook?": ["Ifeoma Adeyemi"],
}


def _readme_questions() -> list[str]:
    """The questions the README and its tour (docs/guide.md) show the sample answering."""
    pages = [SAMPLE.parent / "README.md", SAMPLE.parent / "docs" / "guide.md"]
    found: list[str] = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        found += re.findall(r'"message": "([^"]+)"', text)
        found += re.findall(r'almanac ask "([^"]+)"', text)
    return list(dict.fromkeys(found))


async def test_the_readme_questions_are_answered_correctly(sample: Sample) -> None:
    """With the local embedder, as `make run` serves them; the first sentence must hold it."""
    questions = _readme_questions()
    assert set(questions) == set(README_ANSWERS), "README examples and expectations differ"
    agent = build_agent(CHAT_TURN, limits=AgentLimits())
    model = build_offline_model(sample.sql.schemas, sentence_encoder=sample.embedder)
    for question in questions:
        deps = AgentDeps(retriever=sample.retriever, sql=sample.sql, clock=FixedClock())
        result = await agent.run(anchored_prompt(question, TODAY), model=model, deps=deps)
        first = re.split(r"\[\d+\]|\[table:", result.output)[0]
        for expected in README_ANSWERS[question]:
            assert expected.lower() in first.lower(), f"{question!r} -> {result.output!r}"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("sorry to bother you, but default geofence radius at a port", "2 km"),
        ("quick question - default geofence radius at a port any idea?", "2 km"),
        ("code freeze dates over the year end? thx, cheers", "18 December"),
        ("hey, quick one: starter plan daily api quota? thanks!", "100,000"),
    ],
)
async def test_chatty_framing_does_not_change_the_answer(
    sample: Sample, question: str, expected: str
) -> None:
    """Politeness and filler ("sorry to bother you", "thx") are not what a question is about:
    the answer is the plain question's (the evaluation's `filler` perturbation measures this,
    docs/evaluation.md)."""
    agent = build_agent(CHAT_TURN, limits=AgentLimits())
    model = build_offline_model(sample.sql.schemas, sentence_encoder=sample.embedder)

    async def answer(text: str) -> str:
        deps = AgentDeps(retriever=sample.retriever, sql=sample.sql, clock=FixedClock())
        return (await agent.run(anchored_prompt(text, TODAY), model=model, deps=deps)).output

    framed = await answer(question)
    assert expected.lower() in framed.lower(), framed
    assert framed == await answer(strip_pleasantries(question))
