"""The examples of the README, the quickstart and the guide (docs/guide.md, where the README's
tour went) run against a real server and the real CLI, so they cannot rot."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import traceback
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from backend.cli.main import app as cli_app
from backend.config import PROJECT_ROOT
from tests.conftest import make_settings
from tests.live_server import serve
from use_cases.access.domain import CLI_ADMIN

README = (PROJECT_ROOT / "README.md").read_text()
QUICKSTART = (PROJECT_ROOT / "docs" / "quickstart.md").read_text()
GUIDE = (PROJECT_ROOT / "docs" / "guide.md").read_text()
DOCUMENTED_URL = "http://127.0.0.1:8000"


def _commands(prefix: str, text: str = README + QUICKSTART + GUIDE) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(prefix)]


def test_readme_shows_the_two_commands() -> None:
    assert "make run" in _commands("make run", README)[0]
    assert _commands("make test", README)
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


#: The key variables the README's curl examples use, and whose keys they hold.
README_KEYS = {"ALMANAC_ADMIN_KEY": ("root", "admin"), "ALMANAC_KEY": ("ana", "user")}


def _run_curl(command: str, url: str, keys: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for variable, secret in keys.items():
        command = command.replace(f"${variable}", secret)
    argv = shlex.split(command.replace(DOCUMENTED_URL, url))
    return subprocess.run(
        [*argv, "--fail-with-body", "--max-time", "60"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=90,
        check=False,
    )


def _check(command: str, result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    body = result.stdout.strip()
    if body.startswith(("{", "[")):
        assert "internal_error" not in body
        json.loads(body)


def test_readme_curl_examples_work_against_a_live_server(container: Container) -> None:
    """Examples without a key run in development mode; those with `$ALMANAC_KEY` and the like
    run against a server with AUTH_ENABLED=true, with real keys, and fail without them."""
    commands = list(dict.fromkeys(_commands("curl ")))  # each once: the guide repeats some
    keyed = [c for c in commands if any(f"${v}" in c for v in README_KEYS)]
    assert len(commands) - len(keyed) >= 5 and len(keyed) >= 3
    with serve(create_app(container=container)) as url:
        for command in commands:
            if command not in keyed:
                _check(command, _run_curl(command, url, {}))

    settings = make_settings(container.settings.storage.data_dir, auth_enabled=True)
    secured = bootstrap(settings, embedder=container.adapters.embedder)

    async def create_keys() -> dict[str, str]:
        keys = {}
        for variable, (user, role) in README_KEYS.items():
            created = await secured.access.create_key.execute(CLI_ADMIN, user_id=user, role=role)
            keys[variable] = created.secret
        return keys

    try:
        keys = asyncio.run(create_keys())
        with serve(create_app(container=secured)) as url:
            for command in keyed:
                _check(command, _run_curl(command, url, keys))
                refused = _run_curl(command, url, dict.fromkeys(keys, "alm_wrong"))
                assert refused.returncode == 22 and "unauthorized" in refused.stdout, command
    finally:
        secured.close()


#: README evaluations over a whole handbook split (836 dev cases: 1.5 min each on 2 cores).
WHOLE_SPLIT = ("eval answers --split dev", "seed-from-eval --split dev")
#: The cases such a command runs here.
QUICK_CASES = 60

#: README commands that take a minute or more (an evaluation, an ingest of docs/): run first.
SLOW_COMMANDS = ("eval answers", "seed-from-eval", "ingest docs", "reindex")
#: Of those, the ones only answering, retrieval or ingestion can move: `make check-answers`
#: runs them with the answer floors, `make test` does not.
ANSWER_COMMANDS = ("eval answers", "seed-from-eval", "ingest docs")


def _reruns(commands: list[str]) -> dict[str, str]:
    """{command: the earlier command it re-runs with more options}: the quickstart's
    `almanac ingest docs ... --prune` is a re-run of `almanac ingest docs ...`, made in the
    same data directory after it (where unchanged files are skipped)."""
    return {
        later: earlier
        for i, later in enumerate(commands)
        for earlier in commands[:i]
        if later.startswith(earlier + " ")
    }


def _cli_examples() -> list[Any]:
    """The README's, quickstart's and guide's `almanac` commands, each once (the quickstart
    and the guide repeat some of the README's word for word); a command another one re-runs
    runs as the first step of that one."""
    commands = list(dict.fromkeys(_commands("almanac ")))
    first_steps = set(_reruns(commands).values())
    return [
        pytest.param(command, marks=_marks(command))
        for command in commands
        if command not in first_steps
    ]


def _marks(command: str) -> list[pytest.MarkDecorator]:
    marks = []
    if any(part in command for part in SLOW_COMMANDS):
        marks.append(pytest.mark.slow)
    if any(part in command for part in ANSWER_COMMANDS):
        marks.append(pytest.mark.answers)
    return marks


@pytest.mark.parametrize("command", _cli_examples())
def test_readme_cli_examples_run(
    command: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each example runs as written, from the repository root, through the CLI app that the
    `almanac` script starts (in this process: starting Python and importing the app is
    seconds a command; tests/e2e/test_cli_knowledge.py runs the installed script itself)."""
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("LOAD_SAMPLE_DATA", "false")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(PROJECT_ROOT)
    earlier = _reruns(list(dict.fromkeys(_commands("almanac ")))).get(command)
    for step in ([earlier] if earlier else []) + [command]:
        arguments = shlex.split(step)[1:]
        if any(part in step for part in WHOLE_SPLIT) and "--limit" not in arguments:
            # The command runs as written, on its first cases: the whole split's figures are
            # checked once, by tests/integration/test_answer_eval.py.
            arguments += ["--limit", str(QUICK_CASES)]
        result = CliRunner().invoke(cli_app, arguments)
        failure = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else ""
        assert result.exit_code == 0, f"{step}\n{result.stdout}\n{result.stderr}\n{failure}"
