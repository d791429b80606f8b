"""Data-cleaning runs."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from backend.config.base import SettingsGroup


class CleaningSettings(SettingsGroup):
    """Data-cleaning runs (docs/cleaning.md)."""

    model_config = ConfigDict(title="Cleaning runs")

    concurrency: int = Field(
        4,
        ge=1,
        le=32,
        description="Tasks a cleaning run cleans at once when the run does not say "
        "(`concurrency`, 1 to 32; see docs/cleaning.md).",
        validation_alias="cleaning_concurrency",
    )
    sample_rows: int = Field(
        200,
        ge=10,
        le=5000,
        description="Rows of a cleaning task's table sent to a model in its prompt; a larger "
        "table is sent as its first rows, the model reads the rest with its SQL tool.",
        validation_alias="cleaning_sample_rows",
    )
    timeout: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="Seconds a cleaner may take on one cleaning task before it is scored as "
        "failed.",
        validation_alias="cleaning_timeout",
    )
