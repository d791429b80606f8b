"""`almanac prompts set --draft` and `almanac prompts try`: a template saved as a draft and
tried on the offline model from the terminal, with nothing stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from backend.cli.main import app

runner = CliRunner()
TEMPLATE = "Answer for the {{team}} team from the knowledge base, as of {{today}}; cite [n]."
QUESTION = "How often do we have to rotate passwords?"


def _invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def _stored(data_dir: Path) -> tuple[int, int]:
    with sqlite3.connect(data_dir / "app.db") as conn:
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        logged = conn.execute("SELECT count(*) FROM response_log").fetchone()[0]
    return messages, logged


def test_a_draft_is_saved_listed_with_its_variables_and_tried_on_the_offline_model(
    env: None, data_dir: Path
) -> None:
    code, stdout, stderr = _invoke("prompts", "set", "chat", stdin=TEMPLATE)
    assert code == 1 and "would need a value for team" in stderr
    code, stdout, _ = _invoke("prompts", "set", "chat", "--draft", stdin=TEMPLATE)
    assert code == 0 and "Created version 1 of the chat prompt; a draft, not in force" in stdout
    code, stdout, _ = _invoke("prompts", "history", "chat", "--json")
    listed = json.loads(stdout)
    assert listed["active"] == "default" and listed["versions"][0]["variables"] == ["team", "today"]

    before = _stored(data_dir)
    code, stdout, stderr = _invoke(
        "prompts", "try", "chat", "--version", "1", "--var", "team=IT", "-q", QUESTION, "--json"
    )
    assert code == 0, stderr
    body = json.loads(stdout)
    assert body["variables"]["team"] == "IT" and body["version"] == 1
    (offline,) = body["results"]
    assert offline["model"] == "offline-extractive" and "90 days" in offline["output"]
    assert offline["cost_usd"] == 0.0 and offline["sources"]
    assert _stored(data_dir) == before

    code, stdout, _ = _invoke(
        "prompts", "try", "chat", "--version", "1", "--var", "team=IT", "-q", QUESTION
    )
    words = " ".join(stdout.split())  # the panel wraps the answer at the terminal's width
    assert code == 0 and "offline-extractive" in stdout and "90 days" in words


def test_try_names_a_missing_variable_and_a_bad_var(env: None, data_dir: Path) -> None:
    template = data_dir / "t.md"
    template.write_text(TEMPLATE, encoding="utf-8")
    code, _, stderr = _invoke("prompts", "try", "chat", "--template-file", str(template), "-q", "x")
    assert code == 1 and "needs a value for: team" in stderr
    code, _, stderr = _invoke("prompts", "try", "chat", "--var", "oops", "-q", "x")
    assert code == 1 and "--var 'oops': write it as NAME=VALUE" in stderr
