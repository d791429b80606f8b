"""`almanac prompts` and `almanac models defaults`: the CLI's audited prompt and model
administration, acting as the local admin on the server's data directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic_ai.models.function import FunctionModel
from typer.testing import CliRunner

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.cli.main import app
from tests.conftest import container_with_models
from tests.fakes import Recorder
from use_cases.chat.prompts import SYSTEM_PROMPT

runner = CliRunner()
PROMPT = "You are Zed, the terse assistant of the Rotterdam office. Answer in one sentence."


def _invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def _audit() -> list[dict[str, object]]:
    code, stdout, _ = _invoke("audit", "--json")
    assert code == 0
    return json.loads(stdout)["entries"]


def test_show_prints_the_prompt_text_alone_on_stdout(env: None) -> None:
    code, stdout, stderr = _invoke("prompts", "show", "chat")
    assert code == 0
    assert stdout.strip() == SYSTEM_PROMPT.strip()
    assert "is the default (built in, revision" in stderr


def test_set_from_stdin_or_a_file_then_history_activate_and_reset_are_audited_as_the_cli(
    env: None, data_dir: Path
) -> None:
    code, stdout, _ = _invoke("prompts", "set", "chat", stdin=PROMPT + "\n")
    assert code == 0 and "Created version 1 of the chat prompt" in stdout
    second = data_dir / "prompt.md"
    second.write_text("Second prompt.\nWith a second line.\n", encoding="utf-8")
    code, stdout, _ = _invoke("prompts", "set", "chat", "--file", str(second))
    assert code == 0 and "Created version 2" in stdout
    code, stdout, _ = _invoke("prompts", "set", "chat", "--file", str(second))
    assert code == 0 and "Unchanged: version 2" in stdout
    assert _invoke("prompts", "show", "chat")[1] == "Second prompt.\nWith a second line.\n"

    code, stdout, _ = _invoke("prompts", "history", "chat")
    assert code == 0 and "2 of 2 versions; in force: version 2" in stdout
    assert "Second prompt." in stdout and "You are Zed" in stdout

    code, stdout, _ = _invoke("prompts", "activate", "chat", "1")
    assert code == 0 and "Version 1 of the chat prompt is in force now" in stdout
    assert _invoke("prompts", "show", "chat")[1].strip() == PROMPT

    code, stdout, _ = _invoke("prompts", "reset", "chat")
    assert code == 0 and "default chat prompt is in force again" in stdout
    page = json.loads(_invoke("prompts", "history", "chat", "--json")[1])
    assert (page["active"], page["total"]) == ("default", 2)

    entries = _audit()
    assert [(e["action"], e["actor_user_id"], e["actor_key_id"]) for e in entries] == [
        ("prompt.reset", "cli", None),
        ("prompt.activate", "cli", None),
        ("prompt.create", "cli", None),
        ("prompt.create", "cli", None),
    ]


@pytest.mark.parametrize(
    ("args", "stdin", "fragment"),
    [
        (("prompts", "set", "chat"), "   \n", "The prompt text is empty"),
        (("prompts", "set", "chat", "--file", "missing.md"), None, "missing.md: no such file"),
        (("prompts", "set", "summary"), "Sum up.", "No prompt type 'summary'"),
        (("prompts", "activate", "chat", "4"), None, "The chat prompt has no version 4"),
        (("models", "defaults", "--set", "chat", "openai:gpt-9"), None, "is not allowed"),
        (("models", "defaults", "--clear", "summary"), None, "No prompt type 'summary'"),
    ],
)
def test_bad_prompt_and_model_commands_fail_clearly_and_write_nothing(
    env: None, args: tuple[str, ...], stdin: str | None, fragment: str
) -> None:
    code, _, stderr = _invoke(*args, stdin=stdin)
    assert code == 1
    assert fragment in stderr and "Traceback" not in stderr
    assert _audit() == []


def test_models_defaults_sets_and_clears_a_types_default_as_the_cli(env: None) -> None:
    code, stdout, _ = _invoke("models", "defaults", "--set", "chat", "offline-extractive")
    assert code == 0 and "setting" in stdout
    shown, advice = json.loads(_invoke("models", "defaults", "--json")[1])
    assert (shown["prompt_type"], advice["prompt_type"], advice["model"]) == (
        "chat",
        "advice",
        None,
    )
    assert (shown["model"], shown["source"], shown["updated_by"]) == (
        "offline-extractive",
        "setting",
        "cli",
    )
    code, _, _ = _invoke("models", "defaults", "--clear", "chat")
    assert code == 0
    shown, _ = json.loads(_invoke("models", "defaults", "--json")[1])
    assert (shown["model"], shown["source"]) == (None, "environment")
    assert [e["action"] for e in _audit()] == ["model_default.set", "model_default.set"]
    code, _, stderr = _invoke("models", "defaults", "--set", "chat", "x", "--clear", "chat")
    assert code == 2 and "not both" in stderr


@pytest.fixture
def server(data_dir: Path, recorder: Recorder) -> Iterator[Container]:
    model = FunctionModel(recorder.respond, stream_function=recorder.stream)
    with container_with_models(data_dir, {"test:recorder": model}) as built:
        yield built


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def test_a_prompt_set_with_the_cli_reaches_the_next_request_of_a_running_server(
    env: None, server: Container, recorder: Recorder
) -> None:
    http = TestClient(create_app(container=server))  # sync: the CLI runs its own loop
    question = {"message": "Who runs the office?", "model": "test:recorder"}
    assert http.post("/chat", json=question).status_code == 200
    assert recorder.instructions[-1].startswith(SYSTEM_PROMPT.strip())
    assert _invoke("prompts", "set", "chat", stdin=PROMPT)[0] == 0
    assert http.post("/chat", json=question).status_code == 200
    assert recorder.instructions[-1].startswith(PROMPT)  # no restart
    assert _invoke("prompts", "reset", "chat")[0] == 0
    assert http.post("/chat", json=question).status_code == 200
    assert recorder.instructions[-1].startswith(SYSTEM_PROMPT.strip())
