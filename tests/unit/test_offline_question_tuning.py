"""Reading the question and planning a table lookup take the knowledge base's lexicon and
the knobs as arguments: the lexicon passed is the one read, the tuning passed is the one
obeyed, and the word lists come from their data files."""

from __future__ import annotations

from dataclasses import replace
from importlib.resources import files

import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from services.offline import data
from services.offline.compose_sql import compose_sql
from services.offline.lexicon import EMPTY, Lexicon
from services.offline.question_follow_up import follow_up_query, narrowed_query
from services.offline.question_turn import read_turn
from services.offline.sql_plan import plan_sql
from services.offline.tuning import DEFAULT_TUNING, Tuning
from services.offline.tuning_question import (
    DEFAULT_QUESTION_TUNING,
    DEFAULT_SQL_TUNING,
    QuestionTuning,
    SqlTuning,
)
from use_cases.tables.domain import TableColumn, TableSchema

SERVICES = TableSchema(
    name="services",
    columns=(
        TableColumn("name", "TEXT", ("shipment-api",), values=("shipment-api", "notify-service")),
        TableColumn("tier", "INTEGER", ("1", "2")),
        TableColumn("owner_team", "TEXT", ("Tracking Core",), values=("Tracking Core", "Ops")),
        TableColumn("language", "TEXT", ("Go",), values=("Go", "Python")),
    ),
    row_count=2,
)

LEXICON = Lexicon.from_mapping(
    {
        "acronyms": {"HX": "heat exchanger"},
        "abbreviations": {"trk": "tracking"},
        "column_hints": [{"pattern": r"\bwritten\s+in\b", "column": "language"}],
    }
)


#: The word lists of reading the question and of the table lookup.
WORD_LISTS = (
    "question_asking",
    "question_auxiliaries",
    "question_common_endings",
    "question_joining",
    "question_permission",
    "question_pointing",
    "question_prepositions",
    "question_pronouns",
    "question_referring",
    "question_subjects",
    "question_wh_words",
    "sql_generic_column_words",
    "sql_generic_table_words",
    "sql_measured_columns",
    "sql_people_words",
    "sql_rank_columns",
    "sql_request_words",
    "sql_role_columns",
)


def _turn(*texts: str) -> list[ModelRequest | ModelResponse]:
    """A conversation: user messages, each but the last answered."""
    messages: list[ModelRequest | ModelResponse] = []
    for text in texts:
        if messages:
            messages.append(ModelResponse(parts=[TextPart("An answer.")]))
        messages.append(ModelRequest(parts=[UserPromptPart(text)]))
    return messages


def test_the_turn_is_read_with_the_lexicon_passed() -> None:
    messages = _turn("is the HX serviced yearly?", "who checks the HX?")
    read = read_turn(messages, LEXICON)
    assert read.question == "who checks the heat exchanger?"
    assert read.previous_questions == ["is the heat exchanger serviced yearly?"]
    assert read_turn(messages, EMPTY).question == "who checks the HX?"


def test_a_table_lookup_uses_the_lexicons_column_hints_and_abbreviations() -> None:
    hinted = plan_sql("what is shipment-api written in?", [SERVICES], LEXICON)
    assert hinted is not None and "language" in hinted.asked_columns
    plain = plan_sql("what is shipment-api written in?", [SERVICES], EMPTY)
    assert plain is None or "language" not in plain.asked_columns
    expanded = plan_sql("which services does trk core own?", [SERVICES], LEXICON)
    assert expanded is not None and "tracking core" in expanded.entities


def test_the_answerers_tuning_holds_the_question_and_table_groups() -> None:
    assert DEFAULT_TUNING.question == DEFAULT_QUESTION_TUNING
    assert DEFAULT_TUNING.sql == DEFAULT_SQL_TUNING
    fitted = replace(DEFAULT_TUNING, sql=replace(DEFAULT_TUNING.sql, row_limit=3))
    assert isinstance(fitted, Tuning) and fitted.sql.row_limit == 3
    with pytest.raises(AttributeError):
        DEFAULT_TUNING.sql.row_limit = 7  # type: ignore[misc]  # frozen: a copy is changed


def test_the_sql_planner_obeys_the_tuning_passed() -> None:
    question = "which services are tier 2"
    default = plan_sql(question, [SERVICES], EMPTY)
    fewer = plan_sql(question, [SERVICES], EMPTY, SqlTuning(row_limit=2))
    assert default is not None and default.sql.endswith("LIMIT 20")
    assert fewer is not None and fewer.sql.endswith("LIMIT 8")


def test_a_table_answer_takes_its_confidence_and_rows_from_the_tuning() -> None:
    plan = plan_sql("what tier is notify-service?", [SERVICES], EMPTY)
    assert plan is not None
    rows = {"columns": ["name", "tier", "_relevance"], "rows": [["notify-service", 2, 6]]}
    default = compose_sql(plan, rows)
    surer = compose_sql(plan, rows, SqlTuning(named_row_confidence=0.95))
    assert default is not None and default.confidence == DEFAULT_SQL_TUNING.named_row_confidence
    assert surer is not None and surer.confidence == 0.95 and surer.text == default.text


def test_follow_ups_obey_the_question_tuning_passed() -> None:
    previous = ["how long do we keep raw location pings for the shipment tracking service?"]
    query = follow_up_query("and for invoices?", previous)
    assert len(query.borrowed) > 2
    short = follow_up_query("and for invoices?", previous, QuestionTuning(borrowed_words=2))
    assert short.borrowed == query.borrowed[:2]
    hits = [{"title": "Acme", "text": f"Acme keeps records {n}"} for n in range(3)]
    assert narrowed_query("acme finance records retention", hits) == "finance retention"
    assert (
        narrowed_query("acme finance records retention", hits, QuestionTuning(narrow_hits=4))
        is None
    )


@pytest.mark.parametrize("name", WORD_LISTS)
def test_each_word_list_says_what_it_is_for_and_where_it_came_from(name: str) -> None:
    text = files(data).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert header and any("Written for this project" in line for line in header)
    listed = data.entries(name)
    assert listed and all(" " not in w and w == w.lower() for w in listed)
    assert len(set(listed)) == len(listed)  # each word once
