"""An index backend installed as its own package, with pip's rules, into a virtual environment
apart from Almanac's (the run's plugin environment, which the model provider plugin's tests
share: `plugin_packages.plugins_venv`): the `exact` backend of docs/extending.md (its Python
block, word for word, as the package's module; `tests/plugin_packages.py` writes the package),
installed beside Almanac by `uv pip install`, offline, from the local paths and uv's cache.
Then, in that environment, `DATABASE_URL=exact:///DIR` has `almanac ingest` and `almanac
search` keep and search the knowledge index in DIR, an unknown scheme is refused naming the
backends installed there, and Almanac's own environment knows nothing of it. (`make install`
installs uv in `.venv`.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from backend.config import Settings
from services.knowledge.index_backends import index_backends
from tests import plugin_packages


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding Almanac and the docs' plugin, installed offline
    (the run's one, `plugin_packages.plugins_venv`)."""
    return plugin_packages.plugins_venv(tmp_path_factory)


def _almanac(
    venv: Path, tmp_path: Path, database_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    models_dir = str(Settings(_env_file=None).embeddings.models_dir)  # the embedder's
    env = {"DATABASE_URL": database_url, "MODELS_DIR": models_dir}
    return plugin_packages.almanac(venv, tmp_path, *args, env=env)


def test_the_installed_backend_keeps_and_searches_the_knowledge_index(
    venv: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "lockers.md").write_text("# Lockers\n\nLockers are emptied every Friday at 18:00.\n")
    (notes / "desks.md").write_text("# Desks\n\nDesks are booked a week ahead.\n")
    index = tmp_path / "exact-index"
    url = f"exact://{index}"

    ingested = _almanac(venv, tmp_path, url, "ingest", str(notes), "--json")
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["added"] == 2
    searched = _almanac(venv, tmp_path, url, "search", "When are the lockers emptied?", "--json")

    assert searched.returncode == 0, searched.stderr
    hits = json.loads(searched.stdout)["hits"]
    assert hits[0]["source"] == "lockers.md"
    assert "every Friday at 18:00" in hits[0]["text"]
    # The index lives where the plugin put it; the other stores stay in DATA_DIR.
    assert (index / "knowledge.db").is_file()
    assert not (tmp_path / "data" / "knowledge.db").exists()
    assert (tmp_path / "data" / "app.db").is_file()
    # The same folder searched through the built-in SQLite backend finds it too.
    builtin = _almanac(venv, tmp_path, f"sqlite:///{index}", "search", "desks booked", "--json")
    assert builtin.returncode == 0, builtin.stderr
    assert json.loads(builtin.stdout)["hits"][0]["source"] == "desks.md"


def test_a_scheme_no_backend_serves_is_refused_naming_the_installed_ones(
    venv: Path, tmp_path: Path
) -> None:
    done = _almanac(venv, tmp_path, "nosuch://somewhere", "search", "lockers")

    assert done.returncode != 0
    message = " ".join(done.stderr.split())  # the console wraps long lines
    assert "nosuch:// names no installed index backend" in message, done.stderr
    assert "sqlite (sqlite://); postgresql (postgresql://, postgres://)" in message
    assert "exact (exact://)" in message
    assert "Traceback" not in done.stderr


def test_the_plugin_is_registered_with_its_origin_there_and_not_here(venv: Path) -> None:
    probe = (
        "from services.knowledge.index_backends import backend_for as b; "
        "e = b('exact:///x'); print(e.name, e.origin, e.schemes)"
    )
    done = plugin_packages.python(venv, probe)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exact almanac-exact-index ('exact',)"
    assert "exact" not in index_backends()
