"""Model names as people write them, and which environment variable picks the default model.

The resolver (services/chat/models.py) over its own config: bare names find their provider
when one allowed model has that name, and the precedence of DEFAULT_MODEL,
OPENAI_DEFAULT_MODEL and the built-in default."""

from __future__ import annotations

from typing import Any

import pytest

from services.chat.models import ModelConfig, PydanticAIModelResolver
from use_cases.shared.errors import ConfigurationError, InvalidRequest


def resolver(
    *allowed: str,
    default_model: str | None = None,
    openai_default_model: str | None = None,
    key: str | None = None,
) -> PydanticAIModelResolver:
    config = ModelConfig(
        default_model=default_model,
        allowed_models=allowed,
        openai_api_key=key,
        openai_base_url=None,
        timeout_s=5.0,
        max_retries=0,
        openai_default_model=openai_default_model,
    )
    built = PydanticAIModelResolver(config, offline_factory=lambda: "offline")
    for name in (*built.allowed, built.default_identifier):
        built.register(name, f"model {name}")  # nothing is built or called here
    return built


def test_a_bare_name_resolves_to_the_one_allowed_model_of_that_name() -> None:
    models = resolver(key="sk-test")  # with an OpenAI key: openai:gpt-4.1-mini is allowed
    assert models.resolve("gpt-4.1-mini").identifier == "openai:gpt-4.1-mini"
    assert models.resolve(" openai:gpt-4.1-mini ").identifier == "openai:gpt-4.1-mini"

    claude = resolver("anthropic:claude-sonnet-4-5", "offline-extractive")
    resolved = claude.resolve("claude-sonnet-4-5")
    assert resolved.identifier == "anthropic:claude-sonnet-4-5"
    assert resolved.model == "model anthropic:claude-sonnet-4-5"


def test_a_bare_name_two_providers_share_is_refused_naming_both() -> None:
    models = resolver("openai:llama3.2", "groq:llama3.2", "offline-extractive")
    with pytest.raises(InvalidRequest) as refused:
        models.resolve("llama3.2")
    assert "openai:llama3.2" in refused.value.detail and "groq:llama3.2" in refused.value.detail
    assert models.resolve("groq:llama3.2").identifier == "groq:llama3.2"


def test_a_name_not_allowed_is_refused_listing_the_allowed_names() -> None:
    models = resolver("openai:gpt-4.1-mini", "offline-extractive", key="sk-test")
    with pytest.raises(InvalidRequest) as refused:
        models.resolve("gpt-5-ultra")
    assert "openai:gpt-4.1-mini" in refused.value.detail
    assert "offline-extractive" in refused.value.detail
    assert "gpt-4.1-mini" in refused.value.detail  # the bare form is offered too


def test_bare_names_in_the_settings_get_their_provider() -> None:
    models = resolver("gpt-4.1", "claude-sonnet-4-5", "offline-extractive", default_model="gpt-4.1")
    assert models.allowed == ("openai:gpt-4.1", "anthropic:claude-sonnet-4-5", "offline-extractive")
    assert models.default_identifier == "openai:gpt-4.1"


@pytest.mark.parametrize(
    ("settings", "model", "source"),
    [
        ({}, "offline-extractive", "built-in"),
        ({"key": "sk-test"}, "openai:gpt-4.1-mini", "built-in"),
        (
            {"key": "sk-test", "openai_default_model": "gpt-4.1"},
            "openai:gpt-4.1",
            "OPENAI_DEFAULT_MODEL",
        ),
        (
            {"key": "sk-test", "openai_default_model": "openai:gpt-4.1"},
            "openai:gpt-4.1",
            "OPENAI_DEFAULT_MODEL",
        ),
        (
            {
                "key": "sk-test",
                "openai_default_model": "gpt-4.1",
                "default_model": "offline-extractive",
            },
            "offline-extractive",
            "DEFAULT_MODEL",
        ),
    ],
)
def test_the_default_model_follows_one_precedence(
    settings: dict[str, Any], model: str, source: str
) -> None:
    models = resolver(**settings)
    assert models.default_identifier == model
    chain = dict(models.default_sources)
    assert list(chain) == ["DEFAULT_MODEL", "OPENAI_DEFAULT_MODEL", "built-in"]
    assert next(s for s, m in models.default_sources if m is not None) == source
    assert model in models.allowed  # the default is always one a request may name


def test_openai_default_model_names_an_openai_model() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_DEFAULT_MODEL"):
        resolver(openai_default_model="anthropic:claude-sonnet-4-5")
