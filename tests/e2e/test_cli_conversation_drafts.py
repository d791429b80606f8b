"""`almanac conversations draft ID`: show (drafting first), change in words, list versions,
go back to a version, export; an unknown conversation is an error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.bootstrap import bootstrap
from backend.cli.main import app
from tests.conftest import make_settings
from use_cases.chat.domain import NewMessage

runner = CliRunner()


@pytest.fixture
def chat_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A conversation of the default user in a fresh data dir the CLI runs against (no
    sample: drafts read conversations only)."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.setenv("LOAD_SAMPLE_DATA", "false")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    container = bootstrap(make_settings(data_dir))
    try:
        history, user = container.adapters.history, container.settings.auth.default_user_id
        history.ensure_user(user)
        chat = history.get_or_create_chat(None, user, "Plan the garden")
        text = "Plan the garden. We want to grow tomatoes. Plant the beds by 2027-04-15."
        history.append_message(chat.id, NewMessage("user", text))
        return chat.id
    finally:
        container.close()


def test_draft_is_shown_changed_listed_activated_and_exported(chat_id: str) -> None:
    shown = runner.invoke(app, ["conversations", "draft", chat_id])
    assert shown.exit_code == 0, shown.output
    assert "version 1 of 1 (active)" in shown.stdout and "Grow tomatoes" in shown.stdout

    changed = runner.invoke(
        app, ["conversations", "draft", chat_id, "--say", "add a goal: grow basil", "--json"]
    )
    assert changed.exit_code == 0, changed.output
    assert "Added goal 'Grow basil'" in changed.stdout.splitlines()[0]
    state = json.loads("\n".join(changed.stdout.splitlines()[1:]))
    assert state["active_version"] == 2 and state["version"]["draft"]["goals"][-1] == "Grow basil"

    listed = runner.invoke(
        app, ["conversations", "draft", chat_id, "--activate", "1", "--versions"]
    )
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("  v2") and lines[1].startswith("* v1")

    exported = runner.invoke(app, ["conversations", "draft", chat_id, "--export", "markdown"])
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.startswith("# Plan the garden\n")
    assert "1. Plant the beds (due 2027-04-15)" in exported.stdout
    as_json = runner.invoke(
        app, ["conversations", "draft", chat_id, "--export", "json", "--version", "2"]
    )
    assert json.loads(as_json.stdout)["version"] == 2


def test_an_unknown_conversation_is_an_error(chat_id: str) -> None:
    result = runner.invoke(app, ["conversations", "draft", "nope"])
    assert result.exit_code == 1
    assert "No chat with id nope" in result.output
