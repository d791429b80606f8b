"""Brier score, bands, ECE, drift and threshold suggestions against hand-computed values."""

from __future__ import annotations

from datetime import datetime

import pytest

from use_cases.calibration_stats import (
    auroc,
    band_of,
    bands,
    brier_score,
    expected_calibration_error,
    suggest_thresholds,
    weekly_drift,
)
from use_cases.confidence import DEFAULT_THRESHOLDS

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
