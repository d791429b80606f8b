"""The miss-anatomy bench: where the expected fact stood among the ranked candidates of a
missed case, counted into bands; must-refuse cases counted apart; the table adds up."""

from __future__ import annotations

import json
from collections import Counter

from bench.miss_anatomy import classify, fact_place, place_label, table
from services.offline.read import Unit
from services.offline.score import Scored
from use_cases.evaluation.answers import AnswerCase, CaseResult, parse_cases


def _case(**fields: object) -> AnswerCase:
    line = {"id": "c1", "question": "how long is the trial?", "kind": "kb", **fields}
    return parse_cases([json.dumps(line)])[0]


def _scored(*texts: str, code: str = "") -> list[Scored]:
    return [
        Scored(Unit(text, set(), set(), [], 0, 0, i, code=code if i == 0 else ""), 0.5, 0.5, True)
        for i, text in enumerate(texts)
    ]


def _result(correct: bool, refused: bool = False) -> CaseResult:
    return CaseResult("c1", "kb", "q", "a", correct, refused, False, None, 1)


def test_the_place_is_that_of_the_first_candidate_holding_a_fact() -> None:
    case = _case(expect_any=["30 days", "a month"])
    scored = _scored("Plans renew yearly.", "The trial lasts 30 days.", "Or a month.")
    assert fact_place(case, scored) == 2
    assert fact_place(case, _scored("Plans renew yearly.")) is None


def test_a_fact_in_the_code_a_sentence_announces_counts() -> None:
    case = _case(expect_any=["--days 30"])
    assert fact_place(case, _scored("Start it with:", code="trial --days 30")) == 1


def test_places_fall_in_bands() -> None:
    assert place_label(None, retrieved=False) == "not retrieved"
    labels = [place_label(p) for p in (None, 1, 2, 3, 4, 10, 11, 64)]
    assert labels == [
        "no candidate",
        "first",
        "2nd-3rd",
        "2nd-3rd",
        "4th-10th",
        "4th-10th",
        "further",
        "further",
    ]


def test_a_right_answer_is_right_wherever_the_fact_stood() -> None:
    case = _case(expect_any=["30 days"])
    assert classify(case, _result(True), _scored("x", "y", "The trial lasts 30 days.")) == [
        "answerable",
        "right",
    ]


def test_a_miss_is_counted_where_its_fact_stood() -> None:
    case = _case(expect_any=["30 days"])
    scored = _scored(*["Other."] * 4, "The trial lasts 30 days.")
    assert classify(case, _result(False), scored) == ["answerable", "4th-10th"]
    refused = _result(False, refused=True)
    assert classify(case, refused, []) == ["answerable", "not retrieved"]
    # in a passage, but no one candidate sentence holds it (left out, or split over two)
    passages = ["Other. The trial lasts 30 days."]
    assert classify(case, refused, [], passages) == ["answerable", "no candidate"]


def test_must_refuse_cases_count_apart() -> None:
    case = _case(must_refuse=True, kind="refuse")
    assert classify(case, _result(True, refused=True), []) == ["must refuse", "refused"]
    assert classify(case, _result(False), _scored("Anything.")) == ["must refuse"]


def test_the_table_has_a_row_per_corpus_and_one_for_all() -> None:
    rows = {
        "a": Counter({"answerable": 3, "right": 2, "first": 1}),
        "b": Counter({"answerable": 2, "not retrieved": 2, "must refuse": 1}),
    }
    lines = table(rows).splitlines()
    assert lines[0].startswith(
        "| corpus | answerable | right | not retrieved | no candidate | first |"
    )
    assert lines[2] == "| a | 3 | 2 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | 0 |"
    assert lines[-1] == "| all | 5 | 2 | 2 | 0 | 1 | 0 | 0 | 0 | 1 | 0 |"
