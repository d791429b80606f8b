"""The `CalibrationFitter` port on NumPy.

- `isotonic`: the monotone step-and-slope map that best fits the outcomes in least squares
  (pool adjacent violators), stored as its knots, which `FittedMap.apply` interpolates. It is
  the fit of scikit-learn's `IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")`:
  answers of one raw confidence (equal within 1e-15) are averaged into one point first, and
  a knot whose value equals both neighbours' is dropped (it changes no interpolated value).
- `platt`: a logistic regression on the logit of the raw confidence (Platt scaling): two
  numbers, smoother, needs both outcomes present. Fitted by Newton's method with a halving
  line search on the log loss plus the slope's L2 penalty of scikit-learn's
  `LogisticRegression(C=1e6)`, which keeps the slope finite when the outcomes are separable.

Both fits are a few dozen lines of NumPy: scikit-learn (with SciPy, about 200 MB installed and
a second or more to import) was a dependency for these two small fits alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from use_cases.confidence.domain import CalibrationMethod, FittedMap
from use_cases.shared.errors import Conflict, InvalidRequest

__all__ = ["NumpyCalibrationFitter", "isotonic_knots", "platt_coefficients"]

_EPSILON = 1e-6
#: scikit-learn's `LogisticRegression(C=1e6)`: the penalty on the slope is slope² / (2C).
_C = 1e6
#: Raw confidences closer than this are one point (NumPy's float64 resolution, as scikit-learn).
_SAME_X = float(np.finfo(np.float64).resolution)


class NumpyCalibrationFitter:
    def fit(
        self, raw: Sequence[float], outcomes: Sequence[bool], method: CalibrationMethod
    ) -> FittedMap:
        if len(raw) != len(outcomes) or not raw:
            raise InvalidRequest("Recalibration needs as many outcomes as confidences, and some.")
        x = np.asarray(raw, dtype=float)
        y = np.asarray(outcomes, dtype=float)
        if method == "isotonic":
            xs, ys = isotonic_knots(x, y)
            return FittedMap(
                "isotonic", xs=tuple(float(v) for v in xs), ys=tuple(float(v) for v in ys)
            )
        if method == "platt":
            if len(set(outcomes)) < 2:
                raise Conflict("Platt scaling needs both right and wrong answers in the feedback.")
            clipped = np.clip(x, _EPSILON, 1 - _EPSILON)
            slope, intercept = platt_coefficients(np.log(clipped / (1 - clipped)), y)
            if not (math.isfinite(slope) and math.isfinite(intercept)):
                raise Conflict("Platt scaling did not converge on this feedback.")
            return FittedMap("platt", slope=slope, intercept=intercept)
        raise InvalidRequest(f"Unknown recalibration method {method!r}.")


def isotonic_knots(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The knots of the non-decreasing least-squares fit of `y` on `x`, clipped to 0..1."""
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    # one point per distinct x (a run of x within _SAME_X of its first), y their mean
    starts = [0]
    for i in range(1, len(x)):
        if x[i] - x[starts[-1]] >= _SAME_X:
            starts.append(i)
    bounds = np.append(starts, len(x))
    weights = np.diff(bounds).astype(float)
    means = np.add.reduceat(y, starts) / weights
    fitted = np.clip(_pool_adjacent_violators(means, weights), 0.0, 1.0)
    keep = np.ones(len(fitted), dtype=bool)
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return x[starts][keep], fitted[keep]


def _pool_adjacent_violators(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing sequence nearest `values`: blocks of
    neighbours are merged into their weighted mean while a block is not above the one before."""
    means: list[float] = []
    totals: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        mean, total, size = value, weight, 1
        while means and means[-1] >= mean:
            before, before_total = means.pop(), totals.pop()
            mean = (before * before_total + mean * total) / (before_total + total)
            total += before_total
            size += sizes.pop()
        means.append(mean)
        totals.append(total)
        sizes.append(size)
    return np.repeat(means, sizes)


def platt_coefficients(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of `P(y) = sigmoid(slope * z + intercept)` by Newton's method,
    minimising the log loss plus slope² / (2C) (the intercept is not penalised)."""
    features = np.column_stack([z, np.ones_like(z)])
    penalty = np.array([1 / _C, 0.0])
    theta = np.zeros(2)

    def objective(t: np.ndarray) -> float:
        margin = features @ t
        # log(1 + e^m) - y m, written to stay finite for large |m|
        loss = np.logaddexp(0.0, margin) - y * margin
        return float(loss.sum() + 0.5 * penalty @ (t * t))

    current = objective(theta)
    for _ in range(100):
        p = 0.5 * (1 + np.tanh(0.5 * (features @ theta)))  # the sigmoid, without overflow
        gradient = features.T @ (p - y) + penalty * theta
        if float(np.abs(gradient).max()) <= 1e-9 * len(y):
            break
        hessian = features.T @ (features * (p * (1 - p))[:, None]) + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while objective(theta - size * step) > current and size > 1e-12:
            size /= 2
        if size <= 1e-12:
            break  # no step lowers the loss: as near the minimum as float64 gets
        theta = theta - size * step
        current = objective(theta)
    return float(theta[0]), float(theta[1])
