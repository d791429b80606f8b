"""The NumPy calibration fitter: isotonic regression (pool adjacent violators) and Platt
scaling give scikit-learn's fits, which Almanac used before.

The expected values were computed once with scikit-learn 1.9.1 (NumPy 2.4, SciPy 1.17) on
2026-11-28, by `IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(x, y)`
(`X_thresholds_`, `y_thresholds_`) and by `LogisticRegression(C=1e6, max_iter=1000)` on the
logit of the clipped raw confidence (`coef_`, `intercept_`), the code the fitter replaced.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from services.calibration.fitting import (
    NumpyCalibrationFitter,
    isotonic_knots,
    platt_coefficients,
)
from use_cases.shared.errors import Conflict, InvalidRequest

FITTER = NumpyCalibrationFitter()


def test_isotonic_pools_violators_and_averages_ties_as_scikit_learn() -> None:
    raw = [0.1, 0.2, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    outcomes = [False, True, False, False, True, False, True, True, False, True]
    fit = FITTER.fit(raw, outcomes, "isotonic")
    # scikit-learn 1.9.1: the tie at 0.2 is one point (mean 0.5), then pooled with 0.3;
    # 0.7 is dropped (its value equals both neighbours')
    assert fit.xs == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 0.9)
    assert fit.ys == pytest.approx((0.0, 1 / 3, 1 / 3, 0.5, 0.5, 2 / 3, 2 / 3, 1.0), abs=1e-15)


def test_isotonic_on_thirty_rounded_confidences_is_scikit_learns_fit() -> None:
    rng = random.Random(3)
    raw = [round(rng.random(), 1) for _ in range(30)]
    outcomes = [rng.random() < v for v in raw]
    fit = FITTER.fit(raw, outcomes, "isotonic")
    assert fit.xs == (0.0, 0.2, 0.3, 0.7, 0.8, 0.9, 1.0)
    assert fit.ys == pytest.approx((0.0, 0.0, 0.5, 0.5, 2 / 3, 1.0, 1.0), abs=1e-15)


@pytest.mark.parametrize("seed", range(20))
def test_isotonic_is_monotone_bounded_and_keeps_the_mean(seed: int) -> None:
    rng = random.Random(seed)
    x = np.array([round(rng.random(), rng.choice([1, 2, 6])) for _ in range(rng.randint(1, 300))])
    y = np.array([float(rng.random() < v**2) for v in x])
    xs, ys = isotonic_knots(x, y)
    assert np.all(np.diff(xs) > 0) and np.all(np.diff(ys) >= 0)
    assert ys.min() >= 0 and ys.max() <= 1
    # a least-squares fit: every point's fitted value (its block's mean) sums to sum(y)
    fitted = np.interp(x, xs, ys)
    assert fitted.sum() == pytest.approx(y.sum(), abs=1e-9)


def test_platt_on_overlapping_outcomes_is_scikit_learns_fit() -> None:
    rng = random.Random(11)
    raw = [round(rng.random(), 3) for _ in range(200)]
    outcomes = [rng.random() < v * v for v in raw]
    fit = FITTER.fit(raw, outcomes, "platt")
    # scikit-learn 1.9.1's L-BFGS stops at a gradient tolerance of 1e-4, hence rel=1e-3
    assert fit.slope == pytest.approx(1.2734023972741155, rel=1e-3)
    assert fit.intercept == pytest.approx(-1.133325123573607, rel=1e-3)


def test_platt_on_separable_outcomes_stays_finite_and_separates_them() -> None:
    raw = [0.05, 0.1, 0.3, 0.6, 0.8, 0.95]
    outcomes = [False, False, False, True, True, True]
    fit = FITTER.fit(raw, outcomes, "platt")
    assert math.isfinite(fit.slope) and math.isfinite(fit.intercept) and fit.slope > 0
    assert [fit.apply(r) for r in raw[:3]] == [0.0, 0.0, 0.0]
    assert [fit.apply(r) for r in raw[3:]] == [1.0, 1.0, 1.0]


def test_platt_minimises_the_penalised_log_loss() -> None:
    rng = np.random.default_rng(5)
    z = rng.normal(size=500)
    y = (rng.random(500) < 1 / (1 + np.exp(-(2 * z - 0.5)))).astype(float)
    slope, intercept = platt_coefficients(z, y)

    def loss(a: float, b: float) -> float:
        margin = a * z + b
        return float((np.logaddexp(0, margin) - y * margin).sum() + 0.5e-6 * a * a)

    best = loss(slope, intercept)
    for da, db in ((1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)):
        assert loss(slope + da, intercept + db) > best


def test_platt_needs_both_outcomes_and_every_fit_needs_matching_input() -> None:
    with pytest.raises(Conflict, match="both right and wrong"):
        FITTER.fit([0.2, 0.9], [True, True], "platt")
    with pytest.raises(InvalidRequest):
        FITTER.fit([0.2, 0.9], [True], "isotonic")
    with pytest.raises(InvalidRequest):
        FITTER.fit([], [], "isotonic")
    with pytest.raises(InvalidRequest, match="Unknown"):
        FITTER.fit([0.2], [True], "spline")  # type: ignore[arg-type]  # a method that does not exist, on purpose
