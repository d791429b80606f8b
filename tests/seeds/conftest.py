"""A fresh Almanac for each seed document's module, on SQLite and on PostgreSQL.

The seed documents (`../shared/seeds/`, mapped in docs/seeds.md) show their clients calling
an OpenAI model by name (`gpt-4.1-mini`). Tests reach no network: the offline model stands
in under that name (`openai:gpt-4.1-mini`, allowed and the OPENAI_DEFAULT_MODEL), so a
client's request that names it is answered through the same agent, tools and stores.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backend.bootstrap import Container, bootstrap, load_sample_data_if_empty
from tests.conftest import FixedClock, asgi_client, make_settings
from tests.postgres import BACKENDS, SAMPLE_TEMPLATE_DB, fresh_database

NAMED_MODEL = "openai:gpt-4.1-mini"
SEED_SETTINGS: dict[str, object] = {
    "allowed_models": f"offline-extractive,{NAMED_MODEL}",
    "openai_default_model": "gpt-4.1-mini",
}


def stand_in_for_openai(container: Container) -> None:
    """The offline model answers what a client sends to `gpt-4.1-mini`."""
    models = container.adapters.models
    models.register(NAMED_MODEL, models.resolve("offline-extractive").model)


@pytest.fixture(scope="module", params=BACKENDS)
def seed_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def seed_deployment(request: pytest.FixtureRequest) -> dict[str, object]:
    """The settings the module's document's deployment needs: its `DEPLOYMENT` (a module
    whose settings name a server it starts overrides this fixture)."""
    return dict(getattr(request.module, "DEPLOYMENT", {}))


@pytest.fixture(scope="module")
def seed_container(
    request: pytest.FixtureRequest,
    seed_backend: str,
    seed_deployment: dict[str, object],
    pg_server_url: str,
    sample_data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Container]:
    """Almanac as it first starts (the bundled sample loaded), on `seed_backend`, for one
    module: SQLite from a copy of the sample data dir; PostgreSQL in a fresh copy of the run's
    sample database (`pg_sample_template`; the server is asked for in the signature, so it
    outlives the module's database).
    `seed_deployment` adds the settings its document's deployment needs."""
    data_dir = tmp_path_factory.mktemp("seed") / "data"
    values = {**SEED_SETTINGS, **seed_deployment}
    if seed_backend == "sqlite":
        shutil.copytree(sample_data_dir, data_dir)
        yield from _started(make_settings(data_dir, **values))
        return
    shutil.copytree(request.getfixturevalue("pg_sample_template"), data_dir)
    with fresh_database(pg_server_url, SAMPLE_TEMPLATE_DB) as url:
        settings = make_settings(data_dir, database_url=url, **values)
        yield from _started(settings)


def _started(settings: object) -> Iterator[Container]:
    container = bootstrap(settings, clock=FixedClock())  # type: ignore[arg-type]  # the fixture holds Settings
    try:
        load_sample_data_if_empty(container)
        stand_in_for_openai(container)
        yield container
    finally:
        container.close()


@pytest.fixture
async def seed_client(seed_container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new app on the module's Almanac."""
    async with asgi_client(seed_container) as http:
        yield http
