"""What a person at the terminal notices about `almanac`: progress when output is piped, one
identity shared with the HTTP API, flags that look like flags, `--version`, and text printed
as it is written."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import re
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from backend.cli import progress
from backend.cli.main import app
from backend.cli.registry import LazyGroup

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("LOAD_SAMPLE_DATA", "false")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    for name in ("OPENAI_API_KEY", "DEFAULT_USER_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(data_dir)  # no stray .env from the repository


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, ANSI.sub("", result.stdout), ANSI.sub("", result.stderr)


def test_piped_ingest_reports_progress_on_stderr_and_keeps_stdout_json(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL", 0.001)
    folder = tmp_path / "notes"
    folder.mkdir()
    for n in range(6):
        paragraphs = "\n\n".join(
            f"Note {n}.{p}: the depot in zone {p} opens at {p} am." * 8 for p in range(6)
        )
        (folder / f"note-{n}.md").write_text(f"# Note {n}\n\n{paragraphs}\n")

    code, out, err = run("ingest", str(folder), "--json")

    assert code == 0, err
    assert json.loads(out)["added"] == 6  # stdout is the JSON report and nothing else
    lines = re.findall(
        r"^Ingested (\d+)/6 documents, \d+ chunks \(\d+ chunks/s\), \d+ s$", err, flags=re.M
    )
    assert lines, err


async def test_a_chat_made_over_http_without_a_user_is_the_clis_chat_and_back(
    env: None, client: httpx.AsyncClient
) -> None:
    made = await client.post("/chat", json={"message": "How often must passwords be rotated?"})
    assert made.status_code == 200, made.text

    code, out, err = await asyncio.to_thread(run, "chats", "list", "--json")
    assert code == 0, err
    assert made.json()["chat_id"] in [chat["id"] for chat in json.loads(out)]

    code, out, err = await asyncio.to_thread(
        run, "ask", "What is the SEV1 acknowledgement time?", "--json"
    )
    assert code == 0, err
    listed = (await client.get("/chats")).json()
    assert json.loads(out)["chat_id"] in json.dumps(listed)


def _every_command(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    commands = (
        {entry.name: entry.load() for entry in group.entries.values()}
        if isinstance(group, LazyGroup)  # the root: its commands are built when they run
        else group.commands
    )
    for name, command in commands.items():
        if isinstance(command, click.Group | TyperGroup):
            found += _every_command(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def test_help_shows_boolean_options_as_flags_that_take_no_value() -> None:
    every = _every_command(typer.main.get_command(app))
    assert ("docs", "list") in every and ("conversations", "draft") in every
    for path in every:
        code, out, _ = run(*path, "--help")
        assert code == 0 and "--help" in out, path
        assert "<bool>" not in out, f"almanac {' '.join(path)} --help:\n{out}"

    _, out, _ = run("ingest", "--help")
    assert re.search(r"--prune\s+--no-prune\s+Remove stored documents", out), out
    assert re.search(r"--json\s+Print JSON", out), out
    _, out, _ = run("chats", "list", "--help")
    assert re.search(r"--json\s+Print JSON", out), out


def test_version_prints_the_installed_version() -> None:
    code, out, _ = run("--version")
    assert code == 0
    assert out == f"almanac {importlib.metadata.version('almanac')}\n"


def test_search_prints_ampersands_and_brackets_as_written(env: None, tmp_path: Path) -> None:
    page = tmp_path / "rd.html"
    page.write_text(
        "<html><head><title>R&amp;D [draft] plan</title></head><body>"
        "<h1>R&amp;D [draft] plan</h1><p>The R&amp;D budget covers Q&amp;A tooling.</p>"
        "</body></html>"
    )
    assert run("ingest", str(page))[0] == 0

    code, out, err = run("search", "R&D budget for Q&A tooling", "--limit", "1")

    assert code == 0, err
    assert "R&D [draft] plan" in out
    assert "The R&D budget covers Q&A tooling." in out
    assert "&amp;" not in out


def test_ask_prints_each_source_on_its_own_line(env: None) -> None:
    code, out, err = run("ask", "How often must passwords be rotated?")

    assert code == 0, err
    _, sources = re.split(r"^Sources\s*$", out, maxsplit=1, flags=re.M)
    markers = re.findall(r"\[\d+\] \S", sources)
    line_starts = [line for line in sources.splitlines() if re.match(r"\[\d+\] \S", line)]
    assert len(markers) >= 2, out
    assert len(line_starts) == len(markers), out


def test_a_refused_configuration_is_one_clear_line_not_a_traceback(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "*")
    monkeypatch.setenv("CORS_ALLOW_CREDENTIALS", "true")
    code, _, stderr = run("serve")
    assert code == 2
    assert "Invalid configuration: CORS_ORIGINS='*' together with CORS_ALLOW_CREDENTIALS" in (
        " ".join(stderr.split())
    )
    assert "Traceback" not in stderr

    monkeypatch.setenv("CORS_ALLOW_CREDENTIALS", "false")  # `*` alone, authentication off
    code, _, stderr = run("serve")
    assert code != 0 and "Traceback" not in stderr
    assert "Refusing CORS_ORIGINS='*' with authentication off" in " ".join(stderr.split())

    monkeypatch.setenv("CORS_ORIGINS", "")
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "lots")
    code, _, stderr = run("search", "password")
    assert code == 2 and "RATE_LIMIT_PER_MINUTE: Input should be a valid integer" in stderr
