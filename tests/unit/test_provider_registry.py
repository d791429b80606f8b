"""Model providers come from one registry (`services/chat/providers.py`): the built-ins, then
the `almanac.model_providers` entry points of installed packages. A package is installed here
the way pip leaves one (its module and a `dist-info` folder with `entry_points.txt`, in a
folder put on `sys.path`); `tests/integration/test_provider_plugin.py` installs a real one
with pip's rules into a virtual environment of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from services.chat.models import ModelConfig, PydanticAIModelResolver, with_provider
from services.chat.openai_provider import OpenAIChatProvider
from services.chat.providers import (
    BUILTIN_PROVIDERS,
    ENTRY_POINT_GROUP,
    InferredProvider,
    key_variables,
    known_prefixes,
    provider_for,
    registered_providers,
)
from tests import plugin_packages
from use_cases.shared.errors import ConfigurationError

PLUGIN = """
from pydantic_ai.models.test import TestModel

class Provider:
    name = "parrot"
    key_variables = ("PARROT_API_KEY",)
    prefixes = ("polly-", "gpt-")  # gpt- is OpenAI's: it stays OpenAI's

    def build(self, model_name, context):
        return TestModel(custom_output_text=f"{model_name} says hello")

class Impostor:
    name = "openai"
    key_variables = ()
    prefixes = ()

    def build(self, model_name, context):
        raise AssertionError("an impostor answered for OpenAI")

class NoProvider:
    pass
"""


def install(site: Path, package: str, code: str, entry_points: str) -> None:
    plugin_packages.install(site, package, code, ENTRY_POINT_GROUP, entry_points)


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    site = tmp_path / "site-packages"
    site.mkdir()
    install(
        site,
        "almanac_parrot",
        PLUGIN,
        "parrot = almanac_parrot:Provider\n"
        "impostor = almanac_parrot:Impostor\n"
        "nothing = almanac_parrot:NoProvider",
    )
    install(
        site, "almanac_broken", "raise ImportError('a missing dependency')", "b = almanac_broken:P"
    )
    monkeypatch.syspath_prepend(str(site))
    warnings: list[str] = []
    sink = logger.add(lambda message: warnings.append(str(message)), level="WARNING")
    yield warnings
    logger.remove(sink)


def _resolver(*allowed: str) -> PydanticAIModelResolver:
    config = ModelConfig(
        default_model=None,
        allowed_models=allowed,
        openai_api_key=None,
        openai_base_url=None,
        timeout_s=5,
        max_retries=0,
    )
    return PydanticAIModelResolver(config, offline_factory=lambda: None)


def test_the_built_ins_are_registered_as_plugins_are() -> None:
    registered = registered_providers()

    assert list(registered)[: len(BUILTIN_PROVIDERS)] == [name for name, _ in BUILTIN_PROVIDERS]
    assert all(entry.origin == "almanac" for entry in registered.values())
    assert isinstance(provider_for("openai"), OpenAIChatProvider)
    # What the resolver read from constants before the registry, unchanged.
    assert known_prefixes() == (
        ("gpt-", "openai"),
        ("chatgpt-", "openai"),
        ("o1", "openai"),
        ("o3", "openai"),
        ("o4", "openai"),
        ("claude-", "anthropic"),
        ("gemini-", "google-gla"),
    )
    assert key_variables() == {
        "anthropic": ("ANTHROPIC_API_KEY",),
        "google-gla": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
        "groq": ("GROQ_API_KEY",),
        "mistral": ("MISTRAL_API_KEY",),
        "deepseek": ("DEEPSEEK_API_KEY",),
        "openrouter": ("OPENROUTER_API_KEY",),
    }


def test_a_provider_no_entry_names_is_left_to_pydantic_ai() -> None:
    assert provider_for("bedrock") == InferredProvider("bedrock")


def test_an_installed_provider_answers_for_its_models(plugins: list[str]) -> None:
    resolved = _resolver("parrot:kea").resolve("parrot:kea")

    assert registered_providers()["parrot"].origin == "almanac_parrot"
    assert resolved.identifier == "parrot:kea"
    assert with_provider("polly-kea") == "parrot:polly-kea"
    assert with_provider("gpt-4.1") == "openai:gpt-4.1"
    assert key_variables()["parrot"] == ("PARROT_API_KEY",)


def test_a_plugin_never_takes_a_built_in_provider_and_a_broken_one_is_skipped(
    plugins: list[str],
) -> None:
    registered = registered_providers()

    assert isinstance(registered["openai"].provider, OpenAIChatProvider)
    assert "impostor" not in registered and "nothing" not in registered
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        _resolver("openai:gpt-4.1").resolve("openai:gpt-4.1")  # OpenAI's own rule, no key
    logged = "\n".join(plugins)
    assert "impostor (almanac_parrot) is not used: provider 'openai' is already almanac's" in logged
    assert "nothing (almanac_parrot) is not used: TypeError" in logged
    assert "b (almanac_broken) is not used: ImportError: a missing dependency" in logged


def test_without_the_plugin_its_provider_is_pydantic_ai_s_unknown_one() -> None:
    with pytest.raises(ConfigurationError, match="parrot"):
        _resolver("parrot:kea").resolve("parrot:kea")
