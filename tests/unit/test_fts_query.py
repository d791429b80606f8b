"""The FTS5 query builder: any user text becomes a safe OR query, or none at all."""

from __future__ import annotations

import pytest
import sqlean as sqlite3

from services.knowledge.fts_query import (
    MARK_END,
    MARK_START,
    MAX_QUERY_TERMS,
    build_match_query,
    query_terms,
    quote_term,
    snippet,
)

HOSTILE = [
    '"',
    '""',
    '"unbalanced quote',
    "*",
    "foo*",
    "NEAR(",
    "NEAR(a b, 3)",
    "AND OR NOT",
    "a AND",
    "NOT",
    "title:secret",
    "col:",
    "^start",
    "(((",
    "a) OR (b",
    "{title heading}: x",
    "-minus +plus",
    "🔥🔥🔥",
    "emoji 🔥 fire",
    "",
    "   ",
    "?!.,;:'\"",
    "\x00\x01 nul",
    "a" * 5000,
    "x OR" * 300,
    "naïve café ÜBER straße",
    "日本語のテキスト",
    "under_score snake_case",
    "'single' `back` $dollar \\slash",
]


@pytest.fixture
def fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE f USING fts5(title, heading, text, "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "INSERT INTO f VALUES ('Fire safety', 'Naive cafe', 'not near the start of the text')"
    )
    return conn


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_never_breaks_an_fts5_match(fts: sqlite3.Connection, text: str) -> None:
    query = build_match_query(text)

    if query:
        fts.execute("SELECT rowid, bm25(f) FROM f WHERE f MATCH ?", (query,)).fetchall()


def test_every_term_is_quoted_and_joined_with_or() -> None:
    assert build_match_query("Vitamin D deficiency!") == '"vitamin" OR "d" OR "deficiency"'


def test_operators_and_column_filters_become_plain_words() -> None:
    assert build_match_query("title:secret NEAR(x)") == '"title" OR "secret" OR "near" OR "x"'


def test_stopwords_are_dropped() -> None:
    assert query_terms("what is the role of the thymus in immunity") == [
        "role",
        "thymus",
        "immunity",
    ]


def test_a_query_of_only_stopwords_keeps_them() -> None:
    assert query_terms("AND OR NOT") == ["and", "or", "not"]


def test_repeated_terms_appear_once() -> None:
    assert query_terms("cell Cell CELL cells") == ["cell", "cells"]


def test_empty_and_punctuation_only_text_gives_no_query() -> None:
    assert build_match_query("") == ""
    assert build_match_query("?!.,;:") == ""
    assert build_match_query("🔥") == ""


def test_the_number_of_terms_is_capped() -> None:
    text = " ".join(f"term{i}" for i in range(200))

    assert len(query_terms(text)) == MAX_QUERY_TERMS


def test_quotes_inside_a_term_are_doubled() -> None:
    assert quote_term('say "hi"') == '"say ""hi"""'


def test_matches_are_found_through_stemming(fts: sqlite3.Connection) -> None:
    rows = fts.execute("SELECT rowid FROM f WHERE f MATCH ?", (build_match_query("naïve"),))

    assert rows.fetchall() == [(1,)]


def test_snippet_escapes_html_and_wraps_matches() -> None:
    marked = f"<b>{MARK_START}Cats{MARK_END}</b> & dogs"

    assert snippet(marked) == "&lt;b&gt;<mark>Cats</mark>&lt;/b&gt; &amp; dogs"


def test_snippet_of_a_long_text_is_cut_around_the_matches() -> None:
    filler = "lorem ipsum dolor sit amet " * 40
    marked = f"{filler}the {MARK_START}thymus{MARK_END} matters {filler}"

    result = snippet(marked, max_chars=120)

    assert "<mark>thymus</mark>" in result
    assert result.startswith("…") and result.endswith("…")
    assert len(result) < 160


def test_snippet_without_matches_is_the_start_of_the_text() -> None:
    result = snippet("word " * 200, max_chars=50)

    assert result.startswith("word word") and result.endswith("…")
    assert "<mark>" not in result
