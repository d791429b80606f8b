"""General reading rules of the offline answerer, each read from the words alone (no knowledge
base's vocabulary): an elliptical follow-up's words take the place of the words of their kind
in the previous question; a field whose label the question asks for gives the value; a name of
code that no retrieved passage holds means the question is about something else; a question
asking how to do something wants a sentence that says what to do; a version's number is no
quantity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.offline.compose import UNTYPED_CONFIDENCE_CAP, _unheard_names, compose_documents
from services.offline.question import (
    follow_up_query,
    rewritten_follow_up,
    states_quantity,
    substituted,
    substituted_by_meaning,
)
from services.offline.sentences import score_units, units_of
from services.offline.text import content_stems


def _hit(text: str, number: int = 1, section: str = "Settings") -> dict[str, Any]:
    return {
        "number": number,
        "document_id": number,
        "title": "Manual",
        "section": section,
        "source": "manual.txt",
        "text": text,
        "bm25_rank": 1,
        "vector_distance": 0.3,
    }


class _Known:
    def __init__(self, stems: set[str]) -> None:
        self._stems = stems

    def __call__(self, word_stem: str) -> bool:
        return word_stem in self._stems

    def exactly(self, word_stem: str) -> bool:
        return word_stem in self._stems


def _body(answer_text: str) -> str:
    return answer_text.split("**Sources**")[0]


# --- follow-ups: the new words take the place of the old words of their kind ---------------


def test_a_name_replaces_the_name_of_the_same_shape() -> None:
    assert substituted("how big is \\footnotesize in the article class", "\\Huge") == (
        "how big is \\Huge in the article class",
        ["\\footnotesize"],
    )
    assert substituted("what usually goes in graphics.cfg", "color.cfg") == (
        "what usually goes in color.cfg",
        ["graphics.cfg"],
    )
    assert substituted("numeric value of logging.WARNING", "DEBUG") == (
        "numeric value of logging.DEBUG",
        ["WARNING"],
    )
    assert substituted("what's the default boundary for Flag enums", "IntFlag") is not None
    assert substituted("smallint range in postgres", "bigint") == (
        "bigint range in postgres",
        ["smallint"],
    )


def test_two_english_words_that_only_end_alike_are_not_of_a_kind() -> None:
    assert substituted("what is the report deadline", "support") is None


def test_a_follow_up_ending_in_the_same_noun_replaces_the_word_before_it() -> None:
    assert substituted("what's the default report level in docutils", "the halt level") == (
        "what's the default halt level in docutils",
        ["report"],
    )


def test_a_follow_up_asking_its_own_question_replaces_nothing() -> None:
    assert substituted("How often must passwords be rotated", "how long must they be") is None
    assert rewritten_follow_up("and how long must they be?", ["How often must passwords be?"]) is (
        None
    )


def test_the_search_query_drops_the_replaced_words_and_keeps_the_whole_question() -> None:
    query = follow_up_query("and \\Huge?", ["how big is \\footnotesize in the article class?"])
    assert "footnotesize" not in query.text
    assert query.whole == "how big is \\Huge in the article class"
    assert follow_up_query("and for IntFlag?", ["what's the default for Flag?"]).borrowed == (
        "default",
    )


def test_a_follow_up_is_answered_from_the_whole_question_it_stands_for() -> None:
    hit = _hit(
        "Flags can be combined with the bitwise operators. "
        "The default boundary for Flag is STRICT, the default for IntFlag is EJECT. "
        "Pseudo-members are created on demand."
    )
    query = follow_up_query("and for IntFlag?", ["what's the default boundary for Flag enums?"])
    answer = compose_documents(query.text, [hit], borrowed=query.borrowed, whole=query.whole)
    assert answer.found
    assert "EJECT" in _body(answer.text)


# --- fields -------------------------------------------------------------------------------


def test_a_field_list_line_is_a_unit_not_a_lead_in() -> None:
    texts = [
        u.text for u in units_of(":Aliases:   \\:ac:\n:Doctree Element: acronym\n", set(), 0, 0)
    ]
    assert texts[0] == "Aliases: :ac:"


def test_the_field_the_question_asks_for_ranks_first() -> None:
    text = (
        'Format for footnote references, one of "superscript" or "brackets".\n'
        "See also the footnote references setting of the LaTeX writers.\n\n"
        '*Default*: "brackets".  *Option*: ``--footnote-references``.\n'
    )
    question = "default footnote reference style in html output?"
    units = units_of(text, {"footnote", "refer"}, 0, 0)
    scored = score_units(question, content_stems(question), units)
    assert scored[0].unit.text.startswith("Default:")


# --- names no passage holds ---------------------------------------------------------------


def test_a_name_of_code_that_no_passage_holds_is_unheard() -> None:
    hits = [_hit("Use PRAGMA journal_mode=WAL to switch; SQLITE_BUSY means the lock is held.")]
    assert _unheard_names("how do I create an FTS5 table?", hits) == ["FTS5"]
    assert _unheard_names("what does isolation_level=None do?", hits) == ["isolation_level"]
    assert _unheard_names("why do I get SQLITE_BUSY with journal_mode WAL?", hits) == []
    assert _unheard_names("numeric value of logging.WARNING?", [_hit("WARNING: 30")]) == []
    assert _unheard_names("e.g. how do I switch?", hits) == []
    assert _unheard_names("porting py2 code", [_hit("In Python 2, sort() took cmp.")]) == []
    # People hyphenate English; a name of one word the knowledge base holds elsewhere counts.
    assert _unheard_names("canary auto-abort threshold?", hits) == []
    assert _unheard_names("is FTS5 there?", hits, known=_Known({"fts5"})) == []


def test_a_question_naming_code_no_passage_holds_is_not_answered() -> None:
    hit = _hit(
        "To list all tables, run SELECT name FROM sqlite_schema WHERE type='table'. "
        "The sql field is the text of the original CREATE TABLE statement."
    )
    assert compose_documents("how do i create a table in sqlite?", [hit]).found
    assert not compose_documents("how do i create an FTS5 table in sqlite?", [hit]).found


# --- what kind of fact is asked for ---------------------------------------------------------


def test_a_how_to_question_prefers_the_sentence_that_says_what_to_do() -> None:
    text = (
        "Each run of basicConfig appends its messages to the log file.\n\n"
        "To start each run afresh, pass `filemode='w'` to basicConfig.\n"
    )
    units = units_of(text, {"log", "file"}, 0, 0)

    def lead(question: str) -> float:
        scored = {s.unit.text[:4]: s for s in score_units(question, content_stems(question), units)}
        return scored["To s"].total - scored["Each"].total

    how = "how do i start each basicConfig run afresh in the log file?"
    whether = "does each basicConfig run start afresh in the log file?"
    assert lead(how) > lead(whether)  # the way to do it counts as what was asked


def test_a_how_to_answer_that_says_nothing_to_do_is_never_confident() -> None:
    hit = _hit(
        "Each run of basicConfig appends its messages to the log file.\n\n"
        "The log file grows with every run.\n",
        section="Logging to a file",
    )
    answer = compose_documents("how do i stop basicConfig appending to the log file?", [hit])
    assert answer.found
    assert answer.confidence <= UNTYPED_CONFIDENCE_CAP
    plain = compose_documents("does basicConfig keep appending to the log file?", [hit])
    assert plain.confidence > UNTYPED_CONFIDENCE_CAP


def test_a_version_number_is_no_quantity() -> None:
    assert not states_quantity("New in Docutils 0.17.")
    assert not states_quantity("Python 3.11 is needed.")
    assert states_quantity("Defaults to 999 for SQLite versions prior to 3.32.0.")
    assert states_quantity("The rate is 2.5 percent.")


def test_a_one_word_follow_up_replaces_the_earlier_word_closest_in_meaning() -> None:
    kin = {("latex", "html"): 0.53, ("latex", "output"): 0.42, ("latex", "style"): 0.39}

    def similarities(word: str, others: Sequence[str]) -> list[float]:
        return [kin.get((word, other.lower()), 0.1) for other in others]

    previous = ["default footnote reference style in html output?"]
    query = substituted_by_meaning(
        follow_up_query("what about latex?", previous), "what about latex?", previous, similarities
    )
    assert query.whole == "default footnote reference style in latex output"
    assert "html" not in query.text
    # Too close to call, or a question of its own: unchanged.
    kin[("latex", "output")] = 0.52
    unsure = follow_up_query("what about latex?", previous)
    assert substituted_by_meaning(unsure, "what about latex?", previous, similarities) == unsure
    own = follow_up_query("and how is it set?", previous)
    assert substituted_by_meaning(own, "and how is it set?", previous, similarities) == own
