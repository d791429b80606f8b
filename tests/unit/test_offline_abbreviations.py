"""Abbreviations a knowledge base defines in its own words ("a write-ahead log (WAL)"): read
from its text, cached with its vocabulary, and used by the composer so that a sentence holding
one form holds the other (no knowledge base's abbreviations in code)."""

from __future__ import annotations

from services.offline.abbreviations import defined_abbreviations, stemmed
from services.offline.candidates import _read_abbreviations
from services.offline.read import units_of
from services.offline.text import stem
from services.offline.vocabulary import KnowledgeVocabulary


def test_a_long_form_then_its_short_form_in_parentheses_is_a_definition() -> None:
    assert defined_abbreviations("Changes go to a write-ahead log (WAL) first.") == {
        "WAL": "write-ahead log"
    }
    assert defined_abbreviations("the Python Enhancement Proposals (PEPs) say") == {
        "PEPs": "Python Enhancement Proposals"
    }
    assert defined_abbreviations("a table of contents (ToC) directive") == {
        "ToC": "table of contents"
    }
    assert defined_abbreviations("after an out-of-memory (OOM) error") == {"OOM": "out-of-memory"}
    # A long form broken over two lines (a PDF's) is one.
    assert defined_abbreviations("the New Font\nSelection Scheme (NFSS) is") == {
        "NFSS": "New Font Selection Scheme"
    }


def test_a_short_form_then_its_long_form_in_parentheses_is_a_definition() -> None:
    assert defined_abbreviations("Python holds the GIL (global interpreter lock).") == {
        "GIL": "global interpreter lock"
    }


def test_code_and_words_that_do_not_stand_for_the_capitals_define_nothing() -> None:
    assert defined_abbreviations("class Shape(IntEnum):\n    CIRCLE = 1") == {}
    assert defined_abbreviations("TF (testsarealsoavailableas IfValue)") == {}
    assert defined_abbreviations("Reply with (OK) or (NB) when done.") == {}
    assert defined_abbreviations("call f(x) and (a) the first item") == {}


def test_the_composer_reads_either_form_in_a_sentence_holding_the_other() -> None:
    units = units_of(
        "To convert to WAL mode, use the pragma.\n\nThe write-ahead log holds the changes.\n"
        "\nThe rollback journal is deleted.\n",
        set(),
        0,
        0,
    )
    _read_abbreviations(units, [], stemmed({"WAL": "write-ahead log"}))

    long = {stem("write"), stem("ahead"), stem("log")}
    assert long <= units[0].stems  # "WAL mode" is write-ahead log mode
    assert stem("WAL") in units[1].stems  # "the write-ahead log" is the WAL
    assert stem("WAL") not in units[2].stems and not long <= units[2].stems


def test_a_retrieved_passage_defines_abbreviations_for_the_others() -> None:
    units = units_of("To convert to WAL mode, use the pragma.\n", set(), 0, 0)
    passage = {"text": "Beginning with 3.7.0 a new write-ahead log (WAL) option is available."}

    _read_abbreviations(units, [passage], ())

    assert {stem("write"), stem("ahead"), stem("log")} <= units[0].stems


def test_the_knowledge_bases_abbreviations_are_read_again_only_after_a_write() -> None:
    texts = ["Python holds the GIL (global interpreter lock)."]
    generation = [1]
    reads: list[int] = []

    def defining_texts() -> tuple[int, list[str]]:
        reads.append(generation[0])
        return generation[0], list(texts)

    vocabulary = KnowledgeVocabulary(
        lambda: (generation[0], ["gil"]), lambda: generation[0], defining_texts
    )

    assert vocabulary.snapshot().abbreviations == stemmed({"GIL": "global interpreter lock"})
    assert vocabulary.snapshot().abbreviations and reads == [1]  # cached
    texts.append("A write-ahead log (WAL) keeps changes.")
    generation[0] = 2
    assert len(vocabulary.snapshot().abbreviations) == 2 and reads == [1, 2]
    # Without a source of texts, the knowledge base defines none.
    assert KnowledgeVocabulary(lambda: (1, []), lambda: 1).snapshot().abbreviations == ()
