"""Model names as people write them, over HTTP: a bare name finds its provider, the 422 lists
the names a request may use, the environment variables for the default model are honoured in
one precedence, and `/model` and `/api/v1/settings/default-model` say the same thing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from backend.bootstrap import Container, bootstrap
from backend.config import Settings
from tests.conftest import TEST_HOSTS, FixedClock, asgi_client, make_settings

MODEL_VARIABLES = (
    "DEFAULT_MODEL",
    "OPENAI_DEFAULT_MODEL",
    "ALLOWED_MODELS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
)


async def _streams_an_answer(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    yield "A general answer from the test model."


def _answers(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart("A general answer from the test model.")])


def _fake_openai(container: Container, *names: str) -> None:
    """Stand-ins for OpenAI models (nothing may reach the network in tests)."""
    for name in names:
        container.adapters.models.register(
            name, FunctionModel(_answers, stream_function=_streams_an_answer)
        )


@pytest.fixture
def openai_container(data_dir: Path) -> Iterator[Container]:
    """OpenAI configured (a key), nothing else: the built-in default is openai:gpt-4.1-mini."""
    built = bootstrap(make_settings(data_dir, openai_api_key="sk-test"), clock=FixedClock())
    _fake_openai(built, "openai:gpt-4.1-mini")
    yield built
    built.close()


async def test_a_bare_model_name_finds_its_provider(openai_container: Container) -> None:
    async with asgi_client(openai_container) as client:
        answered = await client.post(
            "/chat", json={"message": "What is a mutex?", "model": "gpt-4.1-mini"}
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["model"] == "openai:gpt-4.1-mini"

        put = await client.put("/api/llm-defaults/chat", json={"model": "gpt-4.1-mini"})
        assert put.status_code == 200, put.text
        assert put.json()["model"] == "openai:gpt-4.1-mini"  # stored as the full identifier


async def test_a_model_not_allowed_is_refused_naming_the_names_that_are(
    openai_container: Container,
) -> None:
    async with asgi_client(openai_container) as client:
        refused = await client.post("/chat", json={"message": "hi", "model": "gpt-5-ultra"})
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert "openai:gpt-4.1-mini" in detail and "offline-extractive" in detail
    assert "by name alone: gpt-4.1-mini" in detail


async def test_both_endpoints_describe_the_default_in_one_shape(
    client: httpx.AsyncClient,
) -> None:
    model = (await client.get("/model")).json()
    settings = (await client.get("/api/v1/settings/default-model")).json()
    assert model == settings
    assert model["model"] == "offline-extractive" and model["source"] == "built-in"
    assert model["precedence"] == [
        {"source": "setting", "model": None},
        {"source": "DEFAULT_MODEL", "model": None},
        {"source": "OPENAI_DEFAULT_MODEL", "model": None},
        {"source": "built-in", "model": "offline-extractive"},
    ]
    assert model["internal_default"] == "offline-extractive"
    assert "offline-extractive" in model["allowed"]


def _from_environment(data_dir: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name in MODEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        cohere_api_key=None,
        embedding_provider="local",
        reranker_enabled=False,
        log_level="WARNING",
        allowed_hosts=TEST_HOSTS,  # the ASGI client's almanac.test
    )


@pytest.mark.parametrize(
    ("env", "model", "source"),
    [
        ({"OPENAI_API_KEY": "sk-test"}, "openai:gpt-4.1-mini", "built-in"),
        (
            {"OPENAI_API_KEY": "sk-test", "OPENAI_DEFAULT_MODEL": "openai:gpt-4.1"},
            "openai:gpt-4.1",
            "OPENAI_DEFAULT_MODEL",
        ),
        (
            {"OPENAI_API_KEY": "sk-test", "OPENAI_DEFAULT_MODEL": "gpt-4.1"},
            "openai:gpt-4.1",
            "OPENAI_DEFAULT_MODEL",
        ),
        (
            {
                "OPENAI_API_KEY": "sk-test",
                "OPENAI_DEFAULT_MODEL": "gpt-4.1",
                "DEFAULT_MODEL": "offline-extractive",
            },
            "offline-extractive",
            "DEFAULT_MODEL",
        ),
    ],
)
async def test_the_environment_picks_the_default_in_the_documented_order(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    model: str,
    source: str,
) -> None:
    built = bootstrap(_from_environment(data_dir, monkeypatch, **env), clock=FixedClock())
    _fake_openai(built, "openai:gpt-4.1", "openai:gpt-4.1-mini")
    try:
        async with asgi_client(built) as client:
            shown = (await client.get("/model")).json()
            answered = await client.post("/chat", json={"message": "What is a mutex?"})
    finally:
        built.close()
    assert (shown["model"], shown["source"]) == (model, source)
    assert {c["source"]: c["model"] for c in shown["precedence"]}["OPENAI_DEFAULT_MODEL"] == (
        "openai:gpt-4.1" if "OPENAI_DEFAULT_MODEL" in env else None
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["model"] == model  # what /model says is what a request gets
