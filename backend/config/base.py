"""What every settings group shares: `SettingsGroup`, and the project root its defaults
name."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


class SettingsGroup(BaseModel):
    """One feature's settings. Its `title` heads its section of `.env.example` and
    docs/configuration.md, its docstring introduces the section; each field is read from the
    environment by its own name (upper-cased), as it was before the settings were grouped."""

    model_config = ConfigDict(validate_default=True, extra="forbid")
