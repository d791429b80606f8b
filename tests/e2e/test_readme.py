"""The README's examples run against a real server and the real CLI, so they cannot rot."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from backend.config import PROJECT_ROOT
from tests.conftest import make_settings
from tests.live_server import serve
from use_cases.auth import CLI_ADMIN

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
    commands = _commands("curl ")
    keyed = [c for c in commands if any(f"${v}" in c for v in README_KEYS)]
    assert len(commands) - len(keyed) >= 5 and len(keyed) >= 3
    with serve(create_app(container=container)) as url:
        for command in commands:
            if command not in keyed:
                _check(command, _run_curl(command, url, {}))

    settings = make_settings(container.settings.data_dir, auth_enabled=True)
    secured = bootstrap(settings, embedder=container.adapters.embedder)

    async def create_keys() -> dict[str, str]:
        keys = {}
        for variable, (user, role) in README_KEYS.items():
            created = await secured.create_key.execute(CLI_ADMIN, user_id=user, role=role)
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
