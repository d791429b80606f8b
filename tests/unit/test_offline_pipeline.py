"""The offline answerer's one interface, `pipeline.answer(question, hits, rows, context)`: the
table lookup's rows first when they answer, the documents otherwise, and everything else an
answer depends on (the clarifying question, the lexicon, the knobs) from the context."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from services.offline.context import AnswerContext
from services.offline.lexicon import Lexicon
from services.offline.pipeline import Question, answer
from services.offline.sql_plan import plan_sql
from services.offline.tuning import DEFAULT_TUNING
from tests.sample_lexicon import SAMPLE_LEXICON
from use_cases.chat.prompts import NOT_FOUND_ANSWER
from use_cases.tables.domain import TableColumn, TableSchema


def _hit(text: str, number: int = 1) -> dict[str, Any]:
    return {"number": number, "title": "Limits", "section": "Statements", "text": text}


STATED = _hit("One statement can hold at most 32766 host parameters.")
ASKED = Question("how many host parameters can one statement hold?")

NOTIFY_SERVICES = TableSchema(
    name="services",
    columns=(
        TableColumn("name", "TEXT", ("notify-service",), values=("notify-service", "api")),
        TableColumn("tier", "INTEGER", ("1",)),
    ),
    row_count=2,
)


def test_the_documents_answer_when_no_table_lookup_was_planned() -> None:
    found = answer(ASKED, [STATED], [], AnswerContext())
    assert found.found and "32766" in found.text and "**Sources**" in found.text


def test_the_cant_find_answer_asks_the_contexts_clarifying_question() -> None:
    context = AnswerContext(not_found_hint="Which team's runbook do you mean?")
    refused = answer(Question("who painted the ceiling?"), [], [], context)
    assert not refused.found
    assert refused.text == f"{NOT_FOUND_ANSWER} Which team's runbook do you mean?"


def test_the_knobs_come_from_the_context() -> None:
    strict = replace(
        DEFAULT_TUNING, choose=replace(DEFAULT_TUNING.choose, min_evidence=2.0, min_coverage=2.0)
    )
    assert answer(ASKED, [STATED], [], AnswerContext()).found
    assert not answer(ASKED, [STATED], [], AnswerContext(tuning=strict)).found


def test_the_lexicon_comes_from_the_context() -> None:
    kettle = Lexicon.build(synonym_groups=(("kettle", "boiler"),))
    passage = [_hit("The boiler is descaled every 6 months by facilities.")]
    question = Question("how often is the kettle descaled?")
    plain = answer(question, passage, [], AnswerContext())
    read = answer(question, passage, [], AnswerContext(lexicon=kettle))
    assert read.coverage > plain.coverage


def test_the_planned_lookups_rows_answer_before_the_documents() -> None:
    plan = plan_sql("are there any tier 1 services?", [NOTIFY_SERVICES], SAMPLE_LEXICON)
    assert plan is not None
    rows = {"sql": plan.sql, "columns": ["name", "tier"], "rows": [["notify-service", 1]]}
    question = Question("are there any tier 1 services?", plan=plan)
    tiers = _hit("Tier 1 services are paged at any hour.")
    table = answer(question, [tiers], [rows], AnswerContext())
    assert table.found and table.from_table and "notify-service" in table.text
    other_lookup = {**rows, "sql": "SELECT 1"}
    documents = answer(question, [tiers], [other_lookup], AnswerContext())
    assert not documents.from_table
