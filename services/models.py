"""Model resolution: which PydanticAI model answers a request.

Precedence: the request's `model` (only if allowed) > `DEFAULT_MODEL` > `openai:gpt-4.1-mini`
when an OpenAI key is set > the offline extractive model. Models are built once and cached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from use_cases.errors import ConfigurationError, InvalidRequest
from use_cases.ports import ResolvedModel

OFFLINE_MODEL = "offline-extractive"
OPENAI_DEFAULT = "openai:gpt-4.1-mini"
_PROVIDER_EXTRAS = {
    "anthropic": "anthropic",
    "google-gla": "google",
    "google-vertex": "google",
    "groq": "groq",
    "mistral": "mistral",
}


@dataclass(frozen=True)
class ModelConfig:
    default_model: str | None
    allowed_models: tuple[str, ...]
    openai_api_key: str | None = field(repr=False)  # never in logs or error messages
    openai_base_url: str | None
    timeout_s: float
    max_retries: int


class PydanticAIModelResolver:
    """Implements the `ModelResolver` port over PydanticAI model strings."""

    def __init__(self, config: ModelConfig, offline_factory: Callable[[], Any]) -> None:
        self._config = config
        self._offline_factory = offline_factory
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def internal_default(self) -> str:
        return OPENAI_DEFAULT if self._config.openai_api_key else OFFLINE_MODEL

    @property
    def default_identifier(self) -> str:
        return self._config.default_model or self.internal_default

    @property
    def allowed(self) -> tuple[str, ...]:
        configured = self._config.allowed_models
        base = configured or (self.default_identifier, OFFLINE_MODEL)
        return tuple(dict.fromkeys((self.default_identifier, *base)))

    def register(self, identifier: str, model: Any) -> None:
        """Use `model` for `identifier` (an embedding application's own model, or a test's)."""
        with self._lock:
            self._cache[identifier] = model

    def resolve(self, requested: str | None) -> ResolvedModel:
        identifier = (requested or "").strip() or self.default_identifier
        if identifier not in self.allowed:
            raise InvalidRequest(
                f"Model {identifier!r} is not allowed. Allowed models: {', '.join(self.allowed)}."
            )
        with self._lock:
            if identifier not in self._cache:
                self._cache[identifier] = self._build(identifier)
            return ResolvedModel(identifier, self._cache[identifier])

    def _build(self, identifier: str) -> Any:
        if identifier == OFFLINE_MODEL:
            return self._offline_factory()
        provider, sep, name = identifier.partition(":")
        if not sep or not name:
            raise ConfigurationError(
                f"Model {identifier!r} is not of the form provider:model (e.g. {OPENAI_DEFAULT})."
            )
        if provider == "openai":
            return self._openai(name)
        try:
            from pydantic_ai.models import infer_model

            return infer_model(identifier)
        except ImportError as exc:
            extra = _PROVIDER_EXTRAS.get(provider, provider)
            raise ConfigurationError(
                f"Model {identifier!r} needs the {extra} provider package: "
                f"pip install 'pydantic-ai-slim[{extra}]'."
            ) from exc
        except Exception as exc:
            raise ConfigurationError(f"Model {identifier!r} cannot be used: {exc}") from exc

    def _openai(self, name: str) -> Any:
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        key = self._config.openai_api_key
        base_url = self._config.openai_base_url
        if not key and not base_url:
            raise ConfigurationError(
                f"Model openai:{name} needs OPENAI_API_KEY (or OPENAI_BASE_URL)."
            )
        client = AsyncOpenAI(
            api_key=key or "not-needed",  # local OpenAI-compatible servers ignore the key
            base_url=base_url,
            timeout=self._config.timeout_s,
            max_retries=self._config.max_retries,
        )
        return OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))
