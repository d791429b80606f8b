"""Adapters of the calibration ports: the response log and calibration store (app DB, on
SQLite or PostgreSQL), the NumPy fitter and the SVG/PNG reliability diagram."""

from services.calibration.diagram import SvgDiagramRenderer
from services.calibration.fitting import NumpyCalibrationFitter
from services.calibration.response_log import ResponseLog
from services.calibration.store import CalibrationStore

__all__ = [
    "CalibrationStore",
    "NumpyCalibrationFitter",
    "ResponseLog",
    "SvgDiagramRenderer",
]
