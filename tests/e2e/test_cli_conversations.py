"""`almanac conversations list|show|summary|search` on a data dir of its own (no sample)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from backend.bootstrap import bootstrap
from backend.cli.main import app
from tests.conftest import make_settings
from use_cases.chat.domain import MessageRole, NewMessage

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    container = bootstrap(make_settings(tmp_path))
    try:
        history = container.adapters.history
        user = container.settings.auth.default_user_id
        history.ensure_user(user)
        history.get_or_create_chat("trip", user, "Offsite planning")
        turns: tuple[tuple[MessageRole, str], ...] = (
            ("user", "Where is the quarterly offsite this year?"),
            ("assistant", "We moved the quarterly offsite to Lisbon. It is in March."),
        )
        for role, text in turns:
            history.append_message("trip", NewMessage(role=role, content=text))
    finally:
        container.close()
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)


def run(*args: str) -> Any:
    result = runner.invoke(app, ["conversations", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_conversations_are_listed_shown_summarised_edited_and_searched(cli_env: None) -> None:
    assert [c["id"] for c in run("list", "--json")] == ["trip"]

    made = run("summary", "trip", "--regenerate", "--json")
    assert made["model"] == "offline-extractive" and "Lisbon" in made["text"]
    edited = run("summary", "trip", "--set", "Offsite in Lisbon.", "--json")
    assert edited["edited"] and edited["text"] == "Offsite in Lisbon."

    shown = run("show", "trip", "--json")
    assert shown["summary"]["text"] == "Offsite in Lisbon."
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"]

    found = run("search", "trip to Portugal", "--limit", "5", "--json")
    assert [h["chat_id"] for h in found["hits"]] == ["trip"]

    clash = runner.invoke(app, ["conversations", "summary", "trip", "--regenerate", "--set", "x"])
    assert clash.exit_code == 2  # refused before anything runs
