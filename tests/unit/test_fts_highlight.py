"""The table-free highlight marks exactly what FTS5's own highlight() marks.

The reference is highlight() itself, over an FTS5 table with the index's tokenizer, on texts
from the bundled corpora (read in place) and on texts chosen for their edges: stems, case,
diacritics, ligatures, other scripts, words FTS5 splits into several tokens ("COVID-19" is
a two-token phrase), repeated and adjacent matches, and matches that overlap.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import sqlean as sqlite3

from services.knowledge.fts_highlight import highlight
from services.knowledge.fts_query import MARK_END, MARK_START, match_expression, words
from services.knowledge.schema import FTS_TOKENIZER

CORPORA = Path(__file__).resolve().parents[2] / "sample_data" / "corpora"

EDGES = [
    "Cells grow; a cell grew. CELLS, growing cells!",
    "naïve café, NAÏVE Cafe and naive cafés",
    "COVID-19 spread; covid 19 and covid-19-related cases",
    "ﬁnance and finance; Straße and strasse",
    "αβγ-δ and ΑΒΓ; Привет мир; 東京 tower",
    "x_y, x y and x-y; e.g. i.e. etc.",
    "a\u0301b and ab; résumé resume",
    "",
    "   ",
    "one two one two one two",
    "stroke-width:2;fill:none;stroke-width:3",
]


@pytest.fixture(scope="module")
def reference() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE texts(rowid INTEGER PRIMARY KEY, text TEXT)")
    conn.execute(
        f"CREATE VIRTUAL TABLE marked USING fts5(text, tokenize = '{FTS_TOKENIZER}', "
        "content = 'texts')"
    )
    return conn


def fts5_highlight(conn: sqlite3.Connection, query_words: list[str], texts: list[str]) -> list[str]:
    conn.execute("INSERT INTO marked(marked) VALUES ('delete-all')")
    conn.execute("DELETE FROM texts")
    conn.executemany("INSERT INTO texts(rowid, text) VALUES (?, ?)", list(enumerate(texts)))
    conn.execute("INSERT INTO marked(rowid, text) SELECT rowid, text FROM texts")
    found = dict(
        conn.execute(
            "SELECT rowid, highlight(marked, 0, ?, ?) FROM marked WHERE marked MATCH ?",
            (MARK_START, MARK_END, match_expression(query_words)),
        ).fetchall()
    )
    return [found.get(index, "") for index in range(len(texts))]


def corpus_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted(CORPORA.rglob("*")):
        if path.is_file() and path.suffix in {".md", ".rst", ".html", ".tex", ".txt"}:
            text = path.read_text(errors="replace")[:20_000]
            texts.extend(text[start : start + 600] for start in range(0, len(text), 600))
    return texts


def test_the_corpora_are_there_to_compare_on() -> None:
    assert len(corpus_texts()) > 500


@pytest.mark.parametrize("seed", range(4))
def test_matches_fts5_highlight_on_corpus_texts_and_their_words(
    reference: sqlite3.Connection, seed: int
) -> None:
    rng = random.Random(seed)
    texts = corpus_texts() + EDGES
    compared = marked = 0
    for _ in range(150):
        batch = [t.replace(MARK_START, " ").replace(MARK_END, " ") for t in rng.sample(texts, 5)]
        pieces = [p for t in batch for p in re.findall(r"\S+", t)] or ["none"]
        picked = rng.sample(pieces, min(len(pieces), rng.randint(1, 10)))
        # The analysed query's words (runs of letters and digits), and now and then a raw
        # piece with punctuation, which FTS5 reads as a phrase of several tokens.
        query_words = [
            piece.lower() if rng.random() < 0.2 else word
            for piece in picked
            for word in (words(piece) if rng.random() >= 0.2 else [piece.lower()])
        ]
        query_words = [w for w in dict.fromkeys(query_words) if words(w)]
        if not query_words:
            continue
        expected = fts5_highlight(reference, query_words, batch)
        assert highlight(query_words, batch, MARK_START, MARK_END) == expected, query_words
        compared += 1
        marked += sum(1 for text in expected if MARK_START in text)
    assert compared > 100 and marked > compared  # most batches had matches to mark


@pytest.mark.parametrize(
    ("query_words", "text", "expected"),
    [
        (["growing"], "Cells grow; a cell grew.", "Cells [grow]; a cell grew."),
        (["cafe"], "naïve CAFÉ", "naïve [CAFÉ]"),
        (["covid-19"], "covid 19 and COVID-19", "[covid 19] and [COVID-19]"),
        (["one", "two"], "one two one", "[one] [two] [one]"),
        (["one two", "two one"], "one two one", "[one two one]"),
        (["absent"], "nothing here", ""),
    ],
)
def test_marks_phrases_merging_only_overlapping_ones(
    reference: sqlite3.Connection, query_words: list[str], text: str, expected: str
) -> None:
    got = highlight(query_words, [text], "[", "]")
    assert got == [expected]
    assert fts5_highlight(reference, query_words, [text]) == [
        expected.replace("[", MARK_START).replace("]", MARK_END)
    ]
