"""Adapters of the calibration ports: the response log and calibration store (app DB, on
SQLite or PostgreSQL), the scikit-learn fitter and the matplotlib reliability diagram."""

from services.calibration.diagram import MatplotlibDiagramRenderer
from services.calibration.fitting import SklearnCalibrationFitter
from services.calibration.response_log import ResponseLog
from services.calibration.store import CalibrationStore

__all__ = [
    "CalibrationStore",
    "MatplotlibDiagramRenderer",
    "ResponseLog",
    "SklearnCalibrationFitter",
]
