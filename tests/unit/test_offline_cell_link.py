"""Linking a question to a table's cells (services/offline/cell_link.py, cell_words.py) and
the SELECT it makes (cell_answer.py): read from the table's own headers and values alone."""

from __future__ import annotations

import pytest

from services.offline.cell_answer import cell_sql, compose_cells
from services.offline.cell_link import link_cells
from services.offline.cell_words import header_words, matched_at
from use_cases.tables.domain import TableColumn, TableSchema

PEOPLE = TableSchema(
    "staff",
    (
        TableColumn("emp_no", "TEXT", ("A-1", "A-2"), ("A-1", "A-2", "A-3")),
        TableColumn("fullName", "TEXT", (), ("Nora Quist", "Ola Brenn", "Piet Varga")),
        TableColumn("dob", "DATE", ("1980-01-02",), ("1980-01-02", "1991-05-06", "1975-09-30")),
        TableColumn("dept", "TEXT", (), ("Sales", "Audit")),
        TableColumn("shift_wk", "INTEGER", ("3", "4")),
    ),
    3,
)
PARTS = TableSchema(
    "parts",
    (
        TableColumn("part", "TEXT", (), ("Hex bolt", "Wing nut", "Spring washer")),
        TableColumn("net_price_eur", "REAL", ("0.2", "0.5")),
        TableColumn("qty", "INTEGER", ("100", "40")),
        TableColumn("added_on", "DATE", ("2019-02-01",), ("2019-02-01", "2022-07-15")),
    ),
    3,
)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("net_price_eur", ("net", "price", "eur")),
        ("unitPriceEUR", ("unit", "price", "eur")),
        ("Week No", ("week", "no")),
        ("q3Sales", ("q", "3", "sales")),
    ],
)
def test_a_header_is_split_into_its_words(name: str, words: tuple[str, ...]) -> None:
    assert header_words(name) == words


@pytest.mark.parametrize(
    ("header", "question", "named"),
    [
        ("dob", "what is her date of birth", True),  # initials
        ("qty", "what quantity is left", True),  # listed
        ("dept", "which department", True),  # its consonants
        ("num", "the desk number", True),  # begins the word
        ("eur", "in euros", True),
        ("price", "what does it cost", True),  # English synonyms
        ("supplier", "who supplies it", True),  # one stem begins the other
        ("language", "what lang is it", True),  # the question's shorthand
        ("area", "any arrears", False),  # an English word is no one's consonants
        ("price", "the prize", False),
    ],
)
def test_a_header_word_names_the_question_words_it_stands_for(
    header: str, question: str, named: bool
) -> None:
    assert bool(matched_at(header, question.split())) is named


def test_a_value_names_the_row_and_a_header_the_column_asked_for() -> None:
    link = link_cells("What is Ola Brenn's date of birth?", [PEOPLE, PARTS])
    assert link is not None and link.table == "staff"
    assert [(c.column, c.value) for c in link.conditions] == [("fullName", "Ola Brenn")]
    assert link.targets == ("dob",)
    sql = cell_sql(link)
    assert sql == (
        'SELECT * FROM "staff" WHERE lower(CAST("fullName" AS TEXT)) = \'ola brenn\' LIMIT 20'
    )


def test_a_number_after_its_columns_words_names_rows_and_who_asks_for_a_person() -> None:
    link = link_cells("Who works shift week 4?", [PEOPLE])
    assert link is not None
    assert [(c.column, c.op, c.value) for c in link.conditions] == [("shift_wk", "=", 4)]
    assert link.targets == ("fullName",)


def test_a_reverse_lookup_asks_for_the_column_its_noun_names() -> None:
    link = link_cells("Which part costs 0.5 euros?", [PEOPLE, PARTS])
    assert link is not None and link.table == "parts"
    assert [(c.column, c.value) for c in link.conditions] == [("net_price_eur", 0.5)]
    assert link.targets == ("part",)


def test_a_superlative_picks_every_row_at_the_extreme() -> None:
    link = link_cells("What is the cheapest part?", [PEOPLE, PARTS])
    assert link is not None
    assert cell_sql(link) == (
        'SELECT * FROM "parts" WHERE "net_price_eur" = '
        '(SELECT MIN("net_price_eur") FROM "parts") LIMIT 20'
    )


def test_a_year_comparison_reads_the_date_column_as_iso_text() -> None:
    link = link_cells("Which parts were added after 2020?", [PEOPLE, PARTS])
    assert link is not None
    assert cell_sql(link) == (
        'SELECT * FROM "parts" WHERE CAST("added_on" AS TEXT) >= \'2021\' '
        'ORDER BY "added_on" LIMIT 20'
    )


@pytest.mark.parametrize(
    "question",
    [
        "How do I request a new laptop for the Sales team?",  # about something else
        "How many people work in Audit?",  # a count of rows: the other planner's
        "What is the expense policy for Audit staff travelling abroad?",
        "Which part is best?",  # names no row
    ],
)
def test_a_question_the_table_does_not_explain_is_not_linked(question: str) -> None:
    assert link_cells(question, [PEOPLE, PARTS]) is None


def test_the_answer_is_the_asked_cell_with_its_row_and_table_cited() -> None:
    link = link_cells("Which department is Nora Quist in?", [PEOPLE])
    assert link is not None
    metadata = {
        "columns": ["emp_no", "fullName", "dob", "dept", "shift_wk"],
        "rows": [["A-1", "Nora Quist", "1980-01-02", "Sales", 3]],
    }
    answer = compose_cells(link, metadata, (0.85, 0.6))
    assert answer is not None
    lead, table, sources = answer.text.split("\n\n")
    assert lead == "The dept of Nora Quist is Sales [table: staff]."
    assert "| A-1 | Nora Quist | 1980-01-02 | Sales | 3 |" in table
    assert sources == "**Sources**\n[table: staff]"
    assert compose_cells(link, {**metadata, "rows": []}, (0.85, 0.6)) is None
