"""A model provider installed as its own package, with pip's rules, into a virtual
environment of its own: `tests/fixtures/almanac_echo_provider` (an `echo` provider declared
under the `almanac.model_providers` entry point), installed beside Almanac by `uv pip
install`, offline, from the local paths and uv's cache; then `almanac ask --model
echo:parrot` in that environment answers through the plugin, and Almanac's own environment
knows nothing of it. (`make install` installs uv in `.venv`; CI's does too.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.chat.providers import registered_providers

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "tests" / "fixtures" / "almanac_echo_provider"


def _uv() -> Path:
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        pytest.fail(f"uv is missing from {uv.parent}: run `make install`, which installs it.")
    return uv


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new virtual environment holding Almanac (editable, from this checkout) and the
    plugin, both installed offline."""
    uv = _uv()
    work = tmp_path_factory.mktemp("plugin-venv")
    target = work / "venv"
    plugin = shutil.copytree(PLUGIN, work / "plugin")  # its build leaves files beside it
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, target], check=True)
    python = target / "bin" / "python"
    install: list[str | Path] = [uv, "pip", "install", "-q", "--offline", "--python", python]
    done = subprocess.run([*install, "-e", ROOT, plugin], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    yield target


def test_an_installed_provider_answers_through_the_cli(venv: Path, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "LOAD_SAMPLE_DATA": "false",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_MODELS": "echo:parrot",
    }
    question = "Where do visitors park?"
    done = subprocess.run(
        [venv / "bin" / "almanac", "ask", question, "--model", "echo:parrot", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["model"] == "echo:parrot"
    assert answer["answer"] == f"parrot heard: {question}"


def test_the_plugin_is_registered_with_its_origin_there_and_not_here(venv: Path) -> None:
    probe = (
        "from services.chat.providers import registered_providers as r; print(r()['echo'].origin)"
    )
    done = subprocess.run(
        [venv / "bin" / "python", "-c", probe], capture_output=True, text=True, cwd=venv
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "almanac-echo-provider"
    assert "echo" not in registered_providers()
