"""Calibration: how honest the confidence is, phrase tuning and recalibration."""
