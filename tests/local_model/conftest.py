"""Fixtures of the tests against a real model server (`local_model` marker): one llama.cpp
server for the module's tests, and Almanac containers pointed at it with the three settings
docs/local-models.md shows (OPENAI_BASE_URL, OPENAI_API_KEY, DEFAULT_MODEL) and nothing else."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic_ai import models as ai_models

from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, asgi_client, make_settings, run_lock, run_temp_root
from tests.local_model_server import (
    MODEL_NAME,
    LocalModelServer,
    shared_server,
    stop_shared_server,
)

#: A server already running to test against instead (llama-cpp-python's, Ollama, ...), serving
#: the model as `smollm2-135m`: `LOCAL_MODEL_BASE_URL=http://127.0.0.1:8000/v1`. MODEL_OPTIONS
#: from the environment applies as it would to the service.
EXTERNAL = os.environ.get("LOCAL_MODEL_BASE_URL", "").strip()


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalModelServer]:
    """One server for the whole run, whichever workers run these tests (`shared_server`).
    Beside the rest of the suite (`make test SUITE=all`, CI) it computes on one thread: the
    test workers already keep both cores busy, and llama.cpp's threads wait for each other by
    spinning, which an oversubscribed CPU turns into minutes."""
    if EXTERNAL:
        yield LocalModelServer(tmp_path_factory.mktemp("llama-server") / "server.log",
                               external=EXTERNAL)  # fmt: skip
        return
    threads = 1 if os.environ.get("PYTEST_XDIST_WORKER") else None
    with run_lock(tmp_path_factory, "llama-server") as root:
        server = shared_server(root, threads=threads)
    yield server
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # a run without workers ends here
        stop_shared_server(run_temp_root(tmp_path_factory))


@pytest.fixture
def real_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real model requests may leave this process (to the loopback server only)."""
    monkeypatch.setattr(ai_models, "ALLOW_MODEL_REQUESTS", True)


def settings_for(data_dir: Path, server: LocalModelServer) -> object:
    return make_settings(
        data_dir,
        openai_base_url=server.base_url,
        openai_api_key="local",
        default_model=f"openai:{MODEL_NAME}",
        # A safety net, not a measure of speed: beside the whole suite (CI) the one-thread
        # server shares two cores with three test workers, and an advice's JSON took over
        # the default 60 s a turn and 30 s a model request there.
        agent_timeout=600,
        provider_timeout=600,
    )


@pytest.fixture
def container(
    data_dir: Path, model_server: LocalModelServer, real_model: None
) -> Iterator[Container]:
    built = bootstrap(settings_for(data_dir, model_server), clock=FixedClock())  # type: ignore[arg-type]  # settings_for returns Settings
    yield built
    built.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(container) as http:
        yield http
