"""The README's examples run against a real server and the real CLI, so they cannot rot."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import PROJECT_ROOT
from tests.live_server import serve

README = (PROJECT_ROOT / "README.md").read_text()
QUICKSTART = (PROJECT_ROOT / "docs" / "quickstart.md").read_text()
DOCUMENTED_URL = "http://127.0.0.1:8000"


def _commands(prefix: str, text: str = README + QUICKSTART) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(prefix)]


def test_readme_shows_the_two_commands() -> None:
    assert "make run" in _commands("make run", README)[0]
    assert _commands("make test", README)
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_readme_curl_examples_work_against_a_live_server(container: Container) -> None:
    commands = _commands("curl ")
    assert len(commands) >= 5
    with serve(create_app(container=container)) as url:
        for command in commands:
            argv = shlex.split(command.replace(DOCUMENTED_URL, url))
            result = subprocess.run(
                [*argv, "--fail-with-body", "--max-time", "60"],
                capture_output=True,
                text=True,
                cwd=PROJECT_ROOT,
                timeout=90,
                check=False,
            )
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
            body = result.stdout.strip()
            if body.startswith(("{", "[")):
                assert "internal_error" not in body
                json.loads(body)


@pytest.mark.parametrize("command", _commands("almanac "))
def test_readme_cli_examples_run(command: str, data_dir: Path) -> None:
    script = Path(sys.executable).parent / "almanac"
    env = {**os.environ, "DATA_DIR": str(data_dir), "LOAD_SAMPLE_DATA": "false"}
    env.pop("OPENAI_API_KEY", None)
    result = subprocess.run(
        [str(script), *shlex.split(command)[1:]],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
