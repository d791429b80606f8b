"""Ports of calibration: fitting a recalibration map and drawing a reliability diagram."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from use_cases.confidence.domain import CalibrationMethod, FittedMap


class CalibrationFitter(Protocol):
    """Fits a monotone map from raw confidence to the chance of being right."""

    def fit(
        self, raw: Sequence[float], outcomes: Sequence[bool], method: CalibrationMethod
    ) -> FittedMap:
        """Raise `Conflict` if the data cannot be fitted by `method` (e.g. one outcome only)."""
        ...


@dataclass(frozen=True)
class DiagramBin:
    lower: float
    upper: float
    mean_confidence: float
    observed_accuracy: float
    count: int


class DiagramRenderer(Protocol):
    """Draws a reliability diagram: observed accuracy against confidence per band."""

    def render(self, bins: Sequence[DiagramBin], *, title: str, fmt: str) -> bytes:
        """`fmt` is "svg" or "png"."""
        ...
