"""Typo tolerance (`services.knowledge.spelling`): distances and the closest known term."""

from __future__ import annotations

import pytest

from services.knowledge.spelling import closest_term, edit_distance, within_edits


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("password", "password", 0),
        ("pasword", "password", 1),  # a deletion
        ("passwords", "password", 1),  # an insertion
        ("passwerd", "password", 1),  # a substitution
        ("passwrod", "password", 1),  # two neighbours swapped count as one edit
        ("lenght", "length", 1),
        ("ca", "abc", 3),  # optimal string alignment, not Damerau-Levenshtein (2)
    ],
)
def test_edit_distance_is_the_optimal_string_alignment_distance(
    a: str, b: str, distance: int
) -> None:
    assert edit_distance(a, b, budget=5) == distance


def test_a_distance_over_the_budget_reads_budget_plus_one() -> None:
    assert edit_distance("encryption", "decryptions", budget=1) == 2
    assert not within_edits("encryption", "decryptions", 1)
    assert within_edits("encyrption", "encryption", 1)


KNOWN = [("refund", 50), ("refunds", 5), ("rotund", 80), ("retina", 3), ("expense", 9)]


def test_an_unknown_word_becomes_the_closest_known_term_with_the_same_first_letter() -> None:
    assert closest_term("refnud", KNOWN) == "refund"
    assert closest_term("xpense", KNOWN) is None  # "expense" starts with another letter


def test_on_a_tie_of_distance_the_more_frequent_term_wins() -> None:
    assert closest_term("rofund", KNOWN) == "rotund"  # refund and rotund are both one edit
    assert closest_term("rofund", [("refund", 90), ("rotund", 80)]) == "refund"


def test_on_a_full_tie_the_first_listed_term_wins() -> None:
    assert closest_term("rofund", [("refund", 7), ("rotund", 7)]) == "refund"
    assert closest_term("rofund", [("rotund", 7), ("refund", 7)]) == "rotund"


def test_words_of_eight_letters_or_more_allow_two_edits_shorter_ones_one() -> None:
    assert closest_term("pasword", [("password", 1)]) == "password"
    assert closest_term("pasworrd", [("password", 1)]) == "password"  # 8 letters: 2 edits
    assert closest_term("rfnd", [("refund", 1)]) is None  # too short to correct at all
    assert closest_term("rfundd", [("refund", 1)]) is None  # 6 letters, 2 edits away


def test_a_word_is_never_its_own_correction() -> None:
    # Callers only correct words the index does not know; here the term itself is skipped.
    assert closest_term("refund", [("refund", 1)]) is None
    assert closest_term("refund", [("refund", 1), ("refunds", 99)]) == "refunds"


def test_words_with_digits_are_not_corrected() -> None:
    assert closest_term("refun4", KNOWN) is None
