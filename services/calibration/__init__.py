"""Adapters of the calibration ports: the SQLite response log and calibration store (app DB),
the scikit-learn fitter and the matplotlib reliability diagram."""

from services.calibration.diagram import MatplotlibDiagramRenderer
from services.calibration.fitting import SklearnCalibrationFitter
from services.calibration.response_log import SqliteResponseLog
from services.calibration.store import SqliteCalibrationStore

__all__ = [
    "MatplotlibDiagramRenderer",
    "SklearnCalibrationFitter",
    "SqliteCalibrationStore",
    "SqliteResponseLog",
]
