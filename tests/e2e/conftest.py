"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI run against a private copy of the sample data dir, offline, from inside it
    (so no stray `.env` of the repository is read)."""
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(data_dir)
