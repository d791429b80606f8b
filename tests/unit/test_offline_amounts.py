"""Amounts in a question and the ranges sentences state (`services/offline/amounts.py`)."""

from __future__ import annotations

import pytest

from services.offline.amounts import (
    Span,
    amounts,
    days_of_year,
    holds_asked_amount,
    holds_asked_day,
    spans,
)
from services.offline.compose import compose_documents
from services.offline.read import units_of
from services.offline.score import only_other_quarters, score_units
from services.offline.text import content_stems
from services.offline.tuning import DEFAULT_TUNING


def test_only_numbers_with_a_unit_are_amounts() -> None:
    assert [(a.value, a.unit) for a in amounts("a 15% discount on a €1,200 deal, 40k ARR")] == [
        (15.0, "%"),
        (1200.0, "€"),
        (40000.0, ""),
    ]
    assert amounts("tier 1 services for 2 months") == []
    assert [(a.value, a.unit) for a in amounts("a 40 EUR taxi")] == [(40.0, "€")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("up to 10% — Who approves: Account Executive", [Span(None, 10.0, "%")]),
        ("10% – 25% — Who approves: VP Sales", [Span(10.0, 25.0, "%")]),
        ("above 25%, or free months — Who approves: CFO", [Span(25.0, None, "%")]),
        ("A receipt is required for every expense of €25 or more.", [Span(25.0, None, "€")]),
        ("between €1,000 and €5,000 — Approver: Finance Manager", [Span(1000.0, 5000.0, "€")]),
        ("Annual prepayment earns a 12% discount.", []),
    ],
)
def test_ranges_are_read_from_the_words_around_amounts(text: str, expected: list[Span]) -> None:
    assert spans(text) == expected


def test_a_range_holds_an_amount_of_the_same_unit_only() -> None:
    asked = amounts("who signs off a 15% discount")
    assert holds_asked_amount(asked, "10% – 25% — Who approves: VP Sales")
    assert not holds_asked_amount(asked, "up to 10% — Who approves: Account Executive")
    assert not holds_asked_amount(asked, "€10 – €25: a description is enough")
    assert not holds_asked_amount([], "10% – 25% — Who approves: VP Sales")


def test_the_row_whose_range_holds_the_amount_answers_first() -> None:
    text = (
        "| Discount on list | Who approves |\n|---|---|\n"
        "| up to 10% | Account Executive |\n| 10% – 25% | VP Sales |\n"
        "| above 25% | CFO |\n"
    )
    units = units_of(text, set(), 0, 0)
    question = "who has to sign off on a 15% discount"
    ranked = score_units(question, content_stems(question), units)
    assert "VP Sales" in ranked[0].unit.text


def test_a_quarter_no_passage_names_is_not_answered_from_other_quarters() -> None:
    figures = ["Q1 2025 — Road (EU): 89.6%", "Q4 2024 — Road (EU): 88.9%", "ETA accuracy (KPI-01)"]
    assert only_other_quarters("ETA accuracy for road EU in Q2 2025?", figures)
    assert not only_other_quarters("ETA accuracy in Q1 2025", figures)
    assert not only_other_quarters("eta accuracy q1", figures)  # no year: Q1 2025 counts
    assert only_other_quarters("eta accuracy Q1 2023", figures)  # the years disagree
    assert not only_other_quarters("ETA accuracy", figures)  # no quarter asked
    assert not only_other_quarters("revenue in Q3", ["no quarter named here"])


def test_a_question_about_a_missing_quarter_gets_the_cant_find_answer() -> None:
    hit = {
        "number": 1,
        "title": "Tidecast ETA model",
        "section": "Accuracy",
        "source": "domain/eta.md",
        "text": "Q1 2025 — Road (EU): 89.6%. Q4 2024 — Road (EU): 88.9%.",
    }
    assert not compose_documents("ETA accuracy for road EU in Q2 2025?", [hit]).found
    assert compose_documents("ETA accuracy for road EU in Q1 2025?", [hit]).found


def test_the_row_whose_range_holds_the_amount_gains_evidence_as_well() -> None:
    text = "| Discount on list | Who approves |\n|---|---|\n| 10% – 25% | VP Sales |\n"
    units = units_of(text, set(), 0, 0)
    same_meaning = [0.4]
    inside, outside = "who signs off on 18% off list", "who signs off on 40% off list"
    held = score_units(inside, content_stems(inside), units, semantic=same_meaning)
    other = score_units(outside, content_stems(outside), units, semantic=same_meaning)
    assert held[0].evidence - other[0].evidence == pytest.approx(
        DEFAULT_TUNING.score.range_evidence
    )


def test_a_day_asked_about_falls_in_a_period_of_the_year() -> None:
    assert [(m, d) for m, d, _, _ in days_of_year("a fix on dec 22nd, or 3 January?")] == [
        (12, 22),
        (1, 3),
    ]
    freeze = "During the year-end hard freeze (18 December – 2 January) only emergencies ship."
    assert holds_asked_day("can i deploy on dec 22nd?", freeze)
    assert holds_asked_day("and on 1 january?", freeze)  # the period runs over the new year
    assert not holds_asked_day("and on 5 january?", freeze)
    assert not holds_asked_day("what about march 3?", freeze)
    assert holds_asked_day("on march 3", "Between 1 March and 31 March the office is shut.")
    assert not holds_asked_day("can i deploy on friday?", freeze)  # no day of the year
