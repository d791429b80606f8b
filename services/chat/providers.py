"""The one registry of model providers: which code builds the PydanticAI model that answers
for a model written `provider:name`.

A provider is registered under the entry-point group `almanac.model_providers`
(`ENTRY_POINT_GROUP`): the entry point names a zero-argument callable (a class, or a function)
that returns a `ModelProvider`. The built-ins are listed here (`BUILTIN_PROVIDERS`) in the
same "module:attribute" form and resolved by the same code, so a separately installed package
adds a provider exactly as the built-ins are added; docs/extending.md shows one.

Rules:
- Built-ins come first and keep their names and name prefixes: a plugin that claims a
  provider name already registered is not used (logged), and a bare-name prefix already
  claimed stays with its first owner. Installing a package never changes which code answers
  for a model Almanac ships with.
- A plugin that cannot be imported, or whose object is no provider, is logged and skipped.
- A provider no entry names (`bedrock:...`, say) is built by PydanticAI's `infer_model`, as
  before the registry: every provider PydanticAI knows works without an entry.
- The entry points are looked for once per `sys.path` of a process: a plugin installed
  while the server runs is used after a restart.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

from loguru import logger

from services.chat.model_options import ModelOptions
from use_cases.shared.errors import ConfigurationError

ENTRY_POINT_GROUP = "almanac.model_providers"

#: The providers Almanac ships with: (name, "module:attribute"), resolved as entry points are.
BUILTIN_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("openai", "services.chat.openai_provider:OpenAIChatProvider"),
    ("anthropic", "services.chat.providers:anthropic"),
    ("google-gla", "services.chat.providers:google_gla"),
    ("google-vertex", "services.chat.providers:google_vertex"),
    ("groq", "services.chat.providers:groq"),
    ("mistral", "services.chat.providers:mistral"),
    ("deepseek", "services.chat.providers:deepseek"),
    ("openrouter", "services.chat.providers:openrouter"),
)


@dataclass(frozen=True)
class ProviderContext:
    """What a provider builds a model with: the OpenAI settings (an OpenAI-compatible
    provider may use them), the client limits, and how Almanac calls this model."""

    openai_api_key: str | None = field(repr=False)  # never in logs or error messages
    openai_base_url: str | None
    timeout_s: float
    max_retries: int
    options: ModelOptions


@runtime_checkable
class ModelProvider(Protocol):
    """A provider of models: `name` is the part before the colon of `name:model`;
    `key_variables` the environment variables its key is read from (so
    `GET /api/llm-defaults/providers` can say whether one is set, never its value; empty when
    it needs none); `prefixes` the bare-name prefixes people write without the provider
    (`claude-`); `build` returns the PydanticAI `Model` for one model name, and raises
    `ConfigurationError` with a message a person can act on when it cannot."""

    @property
    def name(self) -> str: ...

    @property
    def key_variables(self) -> tuple[str, ...]: ...

    @property
    def prefixes(self) -> tuple[str, ...]: ...

    def build(self, model_name: str, context: ProviderContext) -> Any: ...


@dataclass(frozen=True)
class InferredProvider:
    """A provider PydanticAI builds from the `provider:model` string (`infer_model`, which
    reads the key from the environment); `extra` is the `pydantic-ai-slim` extra named when
    its package is missing."""

    name: str
    key_variables: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    extra: str | None = None

    def build(self, model_name: str, context: ProviderContext) -> Any:
        identifier = f"{self.name}:{model_name}"
        try:
            from pydantic_ai.models import infer_model

            return infer_model(identifier)
        except ImportError as exc:
            extra = self.extra or self.name
            raise ConfigurationError(
                f"Model {identifier!r} needs the {extra} provider package: "
                f"pip install 'pydantic-ai-slim[{extra}]'."
            ) from exc
        except Exception as exc:
            raise ConfigurationError(f"Model {identifier!r} cannot be used: {exc}") from exc


def anthropic() -> InferredProvider:
    return InferredProvider("anthropic", ("ANTHROPIC_API_KEY",), ("claude-",), "anthropic")


def google_gla() -> InferredProvider:
    return InferredProvider(
        "google-gla", ("GOOGLE_API_KEY", "GEMINI_API_KEY"), ("gemini-",), "google"
    )


def google_vertex() -> InferredProvider:
    return InferredProvider("google-vertex", extra="google")


def groq() -> InferredProvider:
    return InferredProvider("groq", ("GROQ_API_KEY",), extra="groq")


def mistral() -> InferredProvider:
    return InferredProvider("mistral", ("MISTRAL_API_KEY",), extra="mistral")


def deepseek() -> InferredProvider:
    return InferredProvider("deepseek", ("DEEPSEEK_API_KEY",))


def openrouter() -> InferredProvider:
    return InferredProvider("openrouter", ("OPENROUTER_API_KEY",))


@dataclass(frozen=True)
class RegisteredProvider:
    """One provider of the registry and where it came from ("almanac" for a built-in, else
    the distribution that declared the entry point)."""

    origin: str
    provider: ModelProvider


def registered_providers() -> dict[str, RegisteredProvider]:
    """The built-ins, then every usable plugin of `ENTRY_POINT_GROUP`, by provider name."""
    return dict(_registered(tuple(sys.path)))


def provider_for(name: str) -> ModelProvider:
    """The registered provider `name`, else one PydanticAI infers (any it knows)."""
    found = _registered(tuple(sys.path)).get(name)
    return found.provider if found is not None else InferredProvider(name)


def known_prefixes() -> tuple[tuple[str, str], ...]:
    """(bare-name prefix, provider) of every registered provider, built-ins first; a prefix
    claimed twice stays with its first owner."""
    claimed: dict[str, str] = {}
    for name, entry in _registered(tuple(sys.path)).items():
        for prefix in entry.provider.prefixes:
            claimed.setdefault(prefix, name)
    return tuple(claimed.items())


def key_variables() -> dict[str, tuple[str, ...]]:
    """Provider name -> the environment variables its key is read from (those that have
    any; OpenAI's key is a setting, `OPENAI_API_KEY`, read by the resolver itself)."""
    return {
        name: entry.provider.key_variables
        for name, entry in _registered(tuple(sys.path)).items()
        if entry.provider.key_variables and name != "openai"
    }


@cache
def _registered(path: tuple[str, ...]) -> dict[str, RegisteredProvider]:
    found: dict[str, RegisteredProvider] = {}
    for name, target in BUILTIN_PROVIDERS:
        found[name] = RegisteredProvider("almanac", _checked(name, _resolve(target)()))
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        origin = point.dist.name if point.dist is not None else "unknown"
        try:
            provider = _checked(point.name, point.load()())
        except Exception as exc:  # a plugin's bug must not stop the server
            logger.warning(
                "Model provider plugin {} ({}) is not used: {}: {}",
                point.name,
                origin,
                type(exc).__name__,
                exc,
            )
            continue
        if provider.name in found:
            logger.warning(
                "Model provider plugin {} ({}) is not used: provider {!r} is already {}'s",
                point.name,
                origin,
                provider.name,
                found[provider.name].origin,
            )
            continue
        found[provider.name] = RegisteredProvider(origin, provider)
    return found


def _resolve(target: str) -> Callable[[], Any]:
    module, _, attribute = target.partition(":")
    factory: Callable[[], Any] = getattr(importlib.import_module(module), attribute)
    return factory


def _checked(entry: str, provider: Any) -> ModelProvider:
    if not isinstance(provider, ModelProvider):
        raise TypeError(f"{entry} is no model provider (name, key_variables, prefixes, build)")
    if not provider.name or ":" in provider.name:
        raise TypeError(f"{entry} has no usable name (the part before the colon)")
    return provider
