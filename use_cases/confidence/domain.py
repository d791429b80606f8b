"""Domain types of the response log, feedback and recalibration."""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ResponseKind = Literal["chat", "advice"]
RESPONSE_KINDS: tuple[str, ...] = ("chat", "advice")
CalibrationMethod = Literal["isotonic", "platt"]
CALIBRATION_METHODS: tuple[str, ...] = ("isotonic", "platt")


@dataclass(frozen=True)
class Feedback:
    outcome: bool
    notes: str | None
    at: datetime


@dataclass(frozen=True)
class LoggedSources:
    """What a logged answer cited, as deciding whether its reader may still be shown it
    reads it (`use_cases/chat/withholding.py`): documents by id, tables by name (lower case)."""

    documents: tuple[int, ...] = ()
    tables: tuple[str, ...] = ()


def sources_json(sources: LoggedSources | None) -> str | None:
    """`sources` as the stores keep them (JSON text; NULL for None): the response log's
    `cited_sources`, a project draft version's `drafted_from`."""
    if sources is None:
        return None
    return json.dumps({"documents": list(sources.documents), "tables": list(sources.tables)})


def stored_sources(text: str | None) -> LoggedSources | None:
    """`sources_json`'s text read back (None: stored before sources were recorded)."""
    if text is None:
        return None
    data = json.loads(text)
    return LoggedSources(
        tuple(int(i) for i in data.get("documents", ())),
        tuple(str(t) for t in data.get("tables", ())),
    )


@dataclass(frozen=True)
class LoggedResponse:
    """One logged answer. `confidence` is the calibrated value shown to the user (the raw one
    when no recalibration map was active); `raw_confidence` is the estimator's."""

    response_id: str
    user_id: str
    kind: ResponseKind
    query: str
    response_text: str
    raw_confidence: float
    confidence: float
    confidence_phrase: str
    model: str
    search_ran: bool
    latency_ms: int
    created_at: datetime
    calibration_version: int | None = None
    phrase_version: int = 0
    chat_id: str | None = None
    message_id: str | None = None
    feedback: Feedback | None = None
    sources: LoggedSources | None = None
    """What it cited; None for an entry logged before the log recorded sources."""


@dataclass(frozen=True)
class ScoredResponse:
    """What the statistics need of a logged response."""

    response_id: str
    created_at: datetime
    raw_confidence: float
    confidence: float
    outcome: bool | None  # None: no feedback


@dataclass(frozen=True)
class FittedMap:
    """A monotone map from raw confidence to probability of being right.

    `isotonic`: piecewise linear through the knots `xs` -> `ys` (flat outside them), which
    is what scikit-learn's `IsotonicRegression.predict` computes. `platt`: the logistic
    `1 / (1 + exp(-(slope * logit(x) + intercept)))`.
    """

    method: CalibrationMethod
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()
    slope: float = 0.0
    intercept: float = 0.0

    def apply(self, raw: float) -> float:
        if self.method == "platt":
            x = min(1 - 1e-6, max(1e-6, raw))
            z = self.slope * math.log(x / (1 - x)) + self.intercept
            value = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
        elif not self.xs:
            value = raw
        elif raw <= self.xs[0]:
            value = self.ys[0]
        elif raw >= self.xs[-1]:
            value = self.ys[-1]
        else:
            i = bisect.bisect_right(self.xs, raw)
            x0, x1, y0, y1 = self.xs[i - 1], self.xs[i], self.ys[i - 1], self.ys[i]
            value = y0 if x1 == x0 else y0 + (y1 - y0) * (raw - x0) / (x1 - x0)
        return round(min(1.0, max(0.0, value)), 4)


@dataclass(frozen=True)
class CalibrationFit:
    """One recalibration: the map and how it did on feedback it was not fitted on."""

    map: FittedMap
    feedback_used: int
    train_size: int
    heldout_size: int
    ece_before: float | None
    ece_after: float | None
    brier_before: float | None
    brier_after: float | None
    active: bool


@dataclass(frozen=True)
class StoredCalibration:
    version: int
    fit: CalibrationFit
    created_at: datetime
    author: str

    @property
    def map(self) -> FittedMap:
        return self.fit.map
