"""`almanac` finds its commands in one table (`backend/cli/main.py`'s `COMMANDS`) and imports
a command's module only when it runs: `almanac --help` lists them all from the table, and
importing the CLI loads none of the heavy libraries (checked in a new interpreter, by the
modules it holds, not by a clock: start-up times are in `bench/bench_startup.py`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer.core
import typer.main
from typer.testing import CliRunner

from backend.cli.main import COMMANDS, app
from backend.cli.registry import CommandEntry, lazy_group

ROOT = Path(__file__).resolve().parents[2]
#: Libraries a command may need but `almanac --help` must not pay for (top-level names), and
#: Almanac's own packages that pull them in.
HEAVY = (
    "pydantic_ai",
    "fastapi",
    "starlette",
    "onnxruntime",
    "numpy",
    "tokenizers",
    "sqlean",
    "psycopg",
    "uvicorn",
    "pypdf",
    "pydantic",
    "services",
    "use_cases",
)
HEAVY_OWN = ("backend.bootstrap", "backend.config", "backend.api", "backend.features")

_PROBE = """
import json, sys
from typer.testing import CliRunner
import backend.cli.main as cli
result = CliRunner().invoke(cli.app, sys.argv[1:])
print(json.dumps({"exit": result.exit_code, "out": result.output, "modules": sorted(sys.modules)}))
"""


def _probe(*args: str, env: dict[str, str] | None = None) -> dict:
    """`almanac ARGS` run in a new interpreter: its exit code, output and loaded modules."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(Path.home()), **(env or {})},
    )
    return json.loads(done.stdout)


def _heavy(modules: list[str]) -> list[str]:
    return [name for name in modules if name.split(".")[0] in HEAVY or name.startswith(HEAVY_OWN)]


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").split("\n\n")[0].split())


def test_help_lists_every_command_and_imports_no_heavy_module() -> None:
    probe = _probe("--help")

    assert probe["exit"] == 0, probe["out"]
    for entry in COMMANDS:
        assert f" {entry.name} " in probe["out"], entry.name
    assert _heavy(probe["modules"]) == []


def test_each_help_line_is_the_command_s_own() -> None:
    for entry in COMMANDS:
        command = entry.load()
        assert command.name == entry.name
        assert " ".join(entry.help.split()) == _first_paragraph(command.help), entry.name


def test_a_group_gets_the_commands_other_modules_add_to_it() -> None:
    groups = {entry.name: entry.load() for entry in COMMANDS}

    assert {"run", "answers"} <= set(groups["eval"].commands)
    assert {"draft", "search"} <= set(groups["conversations"].commands)
    assert "library" in groups["prompts"].commands


def test_a_command_s_module_is_imported_when_it_runs() -> None:
    probe = _probe("docs", "--help")

    assert probe["exit"] == 0, probe["out"]
    assert all(word in probe["out"] for word in ("list", "show", "remove"))
    assert "backend.cli.knowledge_commands" in probe["modules"]
    assert "backend.cli.chat_commands" not in probe["modules"]


def test_search_loads_the_search_alone(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "parking.md").write_text("# Parking\n\nVisitors park in bay 7.\n")
    env = {"DATA_DIR": str(tmp_path / "data"), "LOAD_SAMPLE_DATA": "false", "LOG_LEVEL": "WARNING"}
    # The ingest is only the search's set-up (its modules are not the point): in this process.
    ingested = CliRunner().invoke(app, ["ingest", str(folder), "--no-wait"], env=env)
    assert ingested.exit_code == 0, ingested.output

    probe = _probe("search", "where do visitors park", env=env)

    assert probe["exit"] == 0, probe["out"]
    assert "1. Parking" in probe["out"] and "bay 7" in probe["out"]
    # No offline model, agent framework or web framework: the store, retriever and embedder.
    assert not [m for m in probe["modules"] if m.split(".")[0] in ("pydantic_ai", "fastapi")]
    assert "backend.bootstrap" not in probe["modules"]


def test_an_unknown_command_is_refused_with_a_suggestion() -> None:
    result = CliRunner().invoke(app, ["serch", "x"], env={"COLUMNS": "200"})

    assert result.exit_code == 2
    assert "No such command 'serch'" in result.output and "'search'" in result.output


def test_two_commands_cannot_share_a_name() -> None:
    twice = CommandEntry("ask", "backend.cli.chat_commands:ask", "Ask.")
    try:
        lazy_group([twice, twice])
    except ValueError as exc:
        assert "share a name" in str(exc)
    else:
        raise AssertionError("a duplicate name was accepted")


def test_the_root_group_is_built_by_typer_as_before() -> None:
    group = typer.main.get_command(app)

    assert isinstance(group, typer.core.TyperGroup)
    names = group.list_commands(None)  # type: ignore[arg-type]  # it reads no context
    assert [name for name in names] == [e.name for e in COMMANDS]
