"""Brier score, bands, ECE, drift and threshold suggestions against hand-computed values."""

from __future__ import annotations

import itertools
import random
from datetime import datetime

import pytest

from use_cases.calibration.stats import (
    auroc,
    band_of,
    bands,
    brier_score,
    expected_calibration_error,
    suggest_thresholds,
    tune_thresholds,
    weekly_drift,
)
from use_cases.confidence.estimator import DEFAULT_THRESHOLDS, PHRASES, PhraseThresholds

# (confidence, right?) of six answers with feedback
PAIRS = [(0.95, True), (0.85, True), (0.85, False), (0.35, False), (0.35, True), (0.05, False)]


def test_brier_score_by_hand() -> None:
    # .05² + .15² + .85² + .35² + .65² + .05² = 1.295; / 6
    assert brier_score(PAIRS) == 0.2158


def test_ece_by_hand() -> None:
    # bands 9 (n1, |1-.95|), 8 (n2, |.5-.85|), 3 (n2, |.5-.35|), 0 (n1, |0-.05|)
    assert expected_calibration_error(PAIRS) == pytest.approx(round(1.1 / 6, 4))


def test_bands_by_hand() -> None:
    result = {b.index: b for b in bands(PAIRS, [c for c, _ in PAIRS] + [0.55])}
    assert len(result) == 10
    assert (result[8].with_feedback, result[8].mean_confidence) == (2, 0.85)
    assert (result[8].observed_accuracy, result[8].brier_score) == (0.5, 0.3725)
    assert result[8].is_calibrated is False and result[9].is_calibrated is True
    assert result[3].brier_score == 0.2725 and result[0].is_calibrated is True
    assert result[5].responses == 1 and result[5].with_feedback == 0
    assert result[5].observed_accuracy is None and result[5].is_calibrated is None


def test_edges_fall_in_the_upper_band_and_one_in_the_last() -> None:
    assert [band_of(v) for v in (0.0, 0.1, 0.3, 0.7, 0.99, 1.0)] == [0, 1, 3, 7, 9, 9]


def test_no_feedback_gives_nulls() -> None:
    assert brier_score([]) is None and expected_calibration_error([]) is None
    assert all(b.mean_confidence is None for b in bands([]))


def test_drift_is_the_ece_of_each_iso_week() -> None:
    monday, sunday = datetime(2026, 3, 2), datetime(2026, 3, 1)
    items = [(sunday, c, o) for c, o in PAIRS[:3]] + [(monday, c, o) for c, o in PAIRS[3:]]
    drift = weekly_drift(items)
    assert [w.week for w in drift] == ["2026-W09", "2026-W10"]
    assert drift[0].ece == 0.25  # (.05 + 2 * .35) / 3
    assert drift[1].ece == pytest.approx(0.1167)  # (2 * .15 + .05) / 3


def test_suggested_thresholds_keep_each_phrases_promise() -> None:
    pairs = (
        [(0.25, i < 3) for i in range(10)]
        + [(0.55, i < 6) for i in range(10)]
        + [(0.85, i < 9) for i in range(10)]
        + [(0.05, True)] * 2  # too little feedback to judge its band
    )
    assert suggest_thresholds(bands(pairs), DEFAULT_THRESHOLDS) == (0.2, 0.5, 0.5, 0.8)


def test_no_suggestion_without_enough_feedback_in_any_band() -> None:
    assert suggest_thresholds(bands(PAIRS), DEFAULT_THRESHOLDS) is None


def test_auroc_by_hand() -> None:
    # right: 0.95, 0.85, 0.35; wrong: 0.85, 0.35, 0.05. Of the 9 (right, wrong) pairs the
    # right one is higher in 6, tied in 2 (half each), lower in 1: (6 + 1) / 9.
    assert auroc(PAIRS) == pytest.approx(round(7 / 9, 4))
    assert auroc([(0.9, True), (0.1, False)]) == 1.0
    assert auroc([(0.1, True), (0.9, False)]) == 0.0
    assert auroc([(0.5, True), (0.5, False)]) == 0.5
    assert auroc([(0.5, True)]) is None and auroc([]) is None


def tuned(pairs: list[tuple[float, bool]], current: tuple[float, ...] = DEFAULT_THRESHOLDS):
    moves = tune_thresholds(bands(pairs), DEFAULT_THRESHOLDS, current, PHRASES[1:])
    assert moves is not None
    return tuple(m.suggested for m in moves), moves


def test_tuned_thresholds_rise_by_a_band_so_every_phrase_can_be_shown() -> None:
    # Right nearly always from 0.2 up: the promises alone put low, moderate and high at 0.2.
    pairs = [(0.25, i < 9) for i in range(12)] + [(0.65, True)] * 20 + [(0.85, True)] * 20
    assert suggest_thresholds(bands(pairs), DEFAULT_THRESHOLDS) == (0.2, 0.2, 0.2, 0.6)
    bounds, moves = tuned(pairs)
    assert bounds == (0.2, 0.3, 0.4, 0.6)
    assert [m.action for m in moves] == ["keep", "lower", "lower", "lower"]
    assert PhraseThresholds(bounds).phrase_for(0.35) == "moderate"


def test_a_bound_moves_only_on_enough_rated_answers() -> None:
    # Nine answers at 0.45, all right, would pull high and very high down to 0.4.
    bounds, moves = tuned([(0.45, True)] * 9)
    assert bounds == DEFAULT_THRESHOLDS
    assert "only 9 rated answers lie between 0.40 and 0.60" in moves[2].reason
    bounds, _ = tuned([(0.45, True)] * 10)
    assert bounds == (0.2, 0.4, 0.5, 0.6)  # high and very high go to 0.4, then are spread


def test_collapsed_thresholds_in_force_are_spread_again() -> None:
    bounds, moves = tuned([(0.95, True)] * 5, current=(0.2, 0.2, 0.2, 0.5))
    assert bounds == (0.2, 0.3, 0.4, 0.5)
    assert "raised to 0.30" in moves[1].reason


def test_bounds_stay_within_one_even_when_no_band_keeps_a_promise() -> None:
    bounds, moves = tuned([(0.95, False)] * 20 + [(0.85, False)] * 20)
    assert bounds == (0.7, 0.8, 0.9, 1.0)
    assert "lowered to 0.70" in moves[0].reason


@pytest.mark.parametrize("seed", range(30))
def test_tuned_thresholds_always_rise_strictly_within_zero_and_one(seed: int) -> None:
    rng = random.Random(seed)
    pairs = [(rng.random(), rng.random() < 0.7) for _ in range(rng.randint(5, 300))]
    current = tuple(sorted(round(rng.choice((0.1, 0.2, 0.5, 0.9)), 1) for _ in range(4)))
    moves = tune_thresholds(bands(pairs), DEFAULT_THRESHOLDS, current, PHRASES[1:])
    if moves is None:
        return
    bounds = [m.suggested for m in moves]
    assert bounds[0] >= 0.1 - 1e-9 and bounds[-1] <= 1.0
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(bounds))
