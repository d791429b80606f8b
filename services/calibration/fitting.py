"""The `CalibrationFitter` port on scikit-learn.

- `isotonic`: `IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")`, the monotone
  step-and-slope map that best fits the outcomes; stored as its knots
  (`X_thresholds_`, `y_thresholds_`), which `FittedMap.apply` interpolates exactly as
  `predict` does.
- `platt`: `LogisticRegression` on the logit of the raw confidence (Platt scaling): two
  numbers, smoother, needs both outcomes present.

scikit-learn is imported when a map is fitted, not with this module: it and SciPy take about a
second to import, which every process (the CLI, a server's planning processes) would pay at
start for a rare admin action.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from use_cases.confidence.domain import CalibrationMethod, FittedMap
from use_cases.shared.errors import Conflict, InvalidRequest

__all__ = ["SklearnCalibrationFitter"]

_EPSILON = 1e-6


class SklearnCalibrationFitter:
    def fit(
        self, raw: Sequence[float], outcomes: Sequence[bool], method: CalibrationMethod
    ) -> FittedMap:
        if len(raw) != len(outcomes) or not raw:
            raise InvalidRequest("Recalibration needs as many outcomes as confidences, and some.")
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression

        x = np.asarray(raw, dtype=float)
        y = np.asarray(outcomes, dtype=float)
        if method == "isotonic":
            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
            return FittedMap(
                "isotonic",
                xs=tuple(float(v) for v in model.X_thresholds_),
                ys=tuple(float(v) for v in model.y_thresholds_),
            )
        if method == "platt":
            if len(set(outcomes)) < 2:
                raise Conflict("Platt scaling needs both right and wrong answers in the feedback.")
            clipped = np.clip(x, _EPSILON, 1 - _EPSILON)
            logits = np.log(clipped / (1 - clipped)).reshape(-1, 1)
            model = LogisticRegression(C=1e6, max_iter=1000).fit(logits, y)
            slope, intercept = float(model.coef_[0][0]), float(model.intercept_[0])
            if not (math.isfinite(slope) and math.isfinite(intercept)):
                raise Conflict("Platt scaling did not converge on this feedback.")
            return FittedMap("platt", slope=slope, intercept=intercept)
        raise InvalidRequest(f"Unknown recalibration method {method!r}.")
