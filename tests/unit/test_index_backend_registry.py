"""Knowledge index backends come from one registry (`services/knowledge/index_backends.py`):
the built-ins, then the `almanac.index_backends` entry points of installed packages, chosen by
DATABASE_URL's scheme. A package is installed here the way pip leaves one (its module and a
`dist-info` folder with `entry_points.txt`, in a folder put on `sys.path`);
`tests/integration/test_index_backend_plugin.py` installs a real one with pip's rules into a
virtual environment of its own and ingests and searches through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from backend.config import Settings
from backend.stores import storage_label
from backend.stores.knowledge import build_knowledge
from services.knowledge import index_backends as index_backends_module
from services.knowledge.index_backends import (
    BUILTIN_INDEX_BACKENDS,
    ENTRY_POINT_GROUP,
    PostgresIndexBackend,
    SqliteIndexBackend,
    backend_for,
    index_backends,
    url_scheme,
)
from services.knowledge.retrieval import SqliteHybridRetriever
from services.knowledge.store import SqliteKnowledgeStore
from tests import plugin_packages
from tests.fakes.knowledge import HashingEmbedder
from use_cases.shared.errors import ConfigurationError

PLUGIN = """
from services.knowledge.index_backends import KnowledgeIndex
from services.knowledge.retrieval import SqliteHybridRetriever
from services.knowledge.store import SqliteKnowledgeStore

OPENED = []

class Notebook:
    schemes = ("notebook", "NB")

    def open(self, context):
        OPENED.append(context.location)
        store = SqliteKnowledgeStore(context.location)
        return KnowledgeIndex(store, SqliteHybridRetriever(store, context.embedder))

class Impostor:
    schemes = ("postgres",)  # PostgreSQL's: it stays PostgreSQL's

    def open(self, context):
        raise AssertionError("an impostor opened a PostgreSQL index")

class Squatter:
    schemes = ("squat",)

    def open(self, context):
        raise AssertionError("a plugin took the name of a built-in")

class NoBackend:
    pass

class NoScheme:
    schemes = ("memory://",)

    def open(self, context):
        raise AssertionError("a backend without a usable scheme was opened")
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    site = tmp_path / "site-packages"
    site.mkdir()
    plugin_packages.install(
        site,
        "almanac_notebook",
        PLUGIN,
        ENTRY_POINT_GROUP,
        "notebook = almanac_notebook:Notebook\n"
        "impostor = almanac_notebook:Impostor\n"
        "nothing = almanac_notebook:NoBackend\n"
        "schemeless = almanac_notebook:NoScheme\n"
        "sqlite = almanac_notebook:Squatter",
    )
    plugin_packages.install(
        site,
        "almanac_broken_index",
        "raise ImportError('a missing dependency')",
        ENTRY_POINT_GROUP,
        "broken = almanac_broken_index:B",
    )
    monkeypatch.syspath_prepend(str(site))
    warnings: list[str] = []
    sink = logger.add(lambda message: warnings.append(str(message)), level="WARNING")
    yield warnings
    logger.remove(sink)


def test_the_builtins_come_first_with_their_schemes() -> None:
    registered = index_backends()

    assert list(registered)[: len(BUILTIN_INDEX_BACKENDS)] == ["sqlite", "postgresql"]
    assert registered["sqlite"].origin == registered["postgresql"].origin == "almanac"
    assert isinstance(backend_for("").backend, SqliteIndexBackend)
    assert isinstance(backend_for("sqlite:///srv/almanac").backend, SqliteIndexBackend)
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "POSTGRESQL://u@h/db"):
        assert isinstance(backend_for(url).backend, PostgresIndexBackend), url


def test_a_builtin_scheme_is_served_without_reading_the_entry_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading every installed package's entry points costs ~0.1 s at each start-up; a
    built-in's scheme never needs them (no plugin may take it)."""

    def unread(**_: object) -> object:
        raise AssertionError("the entry points were read")

    monkeypatch.setattr(index_backends_module.metadata, "entry_points", unread)
    monkeypatch.syspath_prepend("/nonexistent-site")  # no cached registry for this path

    assert backend_for("").name == "sqlite"
    assert backend_for("postgresql://u@h/db").name == "postgresql"
    with pytest.raises(AssertionError, match="entry points were read"):
        backend_for("memory://notes")


def test_the_scheme_of_a_url_and_of_none() -> None:
    assert url_scheme("") == "sqlite"
    assert url_scheme("Memory://notes") == "memory"
    assert url_scheme("exact:///srv/index") == "exact"


def test_an_installed_backend_serves_its_schemes(plugins: list[str]) -> None:
    registered = index_backends()

    assert registered["notebook"].origin == "almanac_notebook"
    assert registered["notebook"].schemes == ("notebook", "nb")
    assert backend_for("notebook:///x").name == backend_for("nb://x").name == "notebook"


def test_a_plugin_never_takes_a_builtin_scheme_or_name_and_a_broken_one_is_skipped(
    plugins: list[str],
) -> None:
    registered = index_backends()

    assert isinstance(backend_for("postgres://u@h/db").backend, PostgresIndexBackend)
    assert isinstance(registered["sqlite"].backend, SqliteIndexBackend)
    assert not {"impostor", "nothing", "schemeless", "broken"} & set(registered)
    with pytest.raises(ConfigurationError):
        backend_for("squat://x")
    said = "\n".join(plugins)
    assert "impostor (almanac_notebook) is not used: scheme postgres already registered" in said
    assert "sqlite (almanac_notebook) is not used: its name is already registered" in said
    assert "nothing (almanac_notebook) is not used: TypeError" in said
    assert "schemeless (almanac_notebook) is not used: TypeError" in said
    assert "broken (almanac_broken_index) is not used: ImportError" in said


def test_an_unknown_scheme_is_refused_naming_the_installed_backends(plugins: list[str]) -> None:
    with pytest.raises(ConfigurationError) as refused:
        backend_for("memory://notes")

    message = str(refused.value)
    assert "memory:// names no installed index backend" in message
    assert "sqlite (sqlite://); postgresql (postgresql://, postgres://); notebook" in message
    assert "notebook (notebook://, nb://)" in message


def test_the_composition_root_opens_the_index_of_the_url_scheme(
    plugins: list[str], tmp_path: Path
) -> None:
    index_file = tmp_path / "elsewhere.db"
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=f"notebook://{index_file}")

    store, retriever = build_knowledge(settings, None, HashingEmbedder(), None)
    try:
        assert isinstance(store, SqliteKnowledgeStore) and store.path == index_file
        assert isinstance(retriever, SqliteHybridRetriever)
        assert not (tmp_path / "knowledge.db").exists()
    finally:
        retriever.close()
        store.close()


def test_the_setting_takes_any_scheme_and_refuses_a_url_without_one(tmp_path: Path) -> None:
    assert Settings(_env_file=None, database_url="memory://notes").storage.database_url

    with pytest.raises(ValueError, match="must start with a scheme"):
        Settings(_env_file=None, database_url="/srv/almanac/knowledge.db")
    with pytest.raises(ValueError, match="three slashes"):
        Settings(_env_file=None, database_url="sqlite://data")


def test_the_start_up_line_names_a_plugins_index(plugins: list[str], tmp_path: Path) -> None:
    def label(url: str | None) -> str:
        return storage_label(Settings(_env_file=None, data_dir=tmp_path, database_url=url))

    assert label(None) == f"SQLite in {tmp_path}"
    assert label(f"notebook://{tmp_path}/kb.db") == (
        f"SQLite in {tmp_path}, the knowledge index on notebook (almanac_notebook)"
    )
