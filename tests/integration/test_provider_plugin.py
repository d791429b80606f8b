"""A model provider installed as its own package, with pip's rules, into a virtual
environment apart from Almanac's (the run's plugin environment, which the index backend
plugin's tests share: `plugin_packages.plugins_venv`): `tests/fixtures/almanac_echo_provider`
(an `echo` provider declared under the `almanac.model_providers` entry point), installed
beside Almanac by `uv pip install`, offline, from the local paths and uv's cache
(`tests/plugin_packages.py`); then `almanac ask --model echo:parrot` in that environment
answers through the plugin, and Almanac's own environment knows nothing of it. (`make install`
installs uv in `.venv`; CI's does too.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.chat.providers import registered_providers
from tests import plugin_packages


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding Almanac and the plugin, installed offline (the
    run's one, `plugin_packages.plugins_venv`)."""
    return plugin_packages.plugins_venv(tmp_path_factory)


def test_an_installed_provider_answers_through_the_cli(venv: Path, tmp_path: Path) -> None:
    question = "Where do visitors park?"
    done = plugin_packages.almanac(
        venv,
        tmp_path,
        *("ask", question, "--model", "echo:parrot", "--json"),
        env={"ALLOWED_MODELS": "echo:parrot"},
    )

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["model"] == "echo:parrot"
    assert answer["answer"] == f"parrot heard: {question}"


def test_the_plugin_is_registered_with_its_origin_there_and_not_here(venv: Path) -> None:
    probe = (
        "from services.chat.providers import registered_providers as r; print(r()['echo'].origin)"
    )
    done = plugin_packages.python(venv, probe)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "almanac-echo-provider"
    assert "echo" not in registered_providers()
