"""Model resolution: which PydanticAI model answers a request.

Precedence here: the request's `model` (only if allowed) > `DEFAULT_MODEL` >
`OPENAI_DEFAULT_MODEL` > the built-in default, `openai:gpt-4.1-mini` when an OpenAI key is set,
else the offline extractive model. (The admin's per-prompt-type default sits between the
request's model and DEFAULT_MODEL: see `use_cases/prompts/model_defaults.py`, which wraps this
resolver.) `default_sources` lists the environment's candidates in that order. Models are
built once and cached.

Which code builds a provider's models is the provider registry's (`services/chat/providers.py`:
the built-ins, then the `almanac.model_providers` entry points of installed packages).

Names as people write them: a bare name in the settings (`gpt-4.1`, `claude-sonnet-4-5`) gets
its provider from its prefix (the registered providers' `prefixes`); a bare name in a request
resolves to the one allowed model of that name (`canonical_model`), and is refused, naming the
candidates, when two providers have it.

`providers()` lists the providers of the allowed models and whether each has a key, never
the key: OpenAI's comes from the settings; the others' are read by PydanticAI itself from the
process environment, so the composition root passes which of those variables are set
(`provider_keys_present(os.environ)`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.chat.compat_model import CompatModel, OnFailure
from services.chat.model_options import ModelOptions, options_for
from services.chat.providers import ProviderContext, key_variables, known_prefixes, provider_for
from use_cases.prompts.domain import ProviderInfo, canonical_model
from use_cases.prompts.ports import ResolvedModel
from use_cases.shared.errors import ConfigurationError

OFFLINE_MODEL = "offline-extractive"
OPENAI_DEFAULT = "openai:gpt-4.1-mini"


#: The environment variables PydanticAI reads each provider's key from (any one will do), and
#: the bare-name prefixes people write without a provider (`claude-` -> `anthropic`): both
#: declared by the providers of the registry (`services/chat/providers.py`), built-in or not.
@dataclass(frozen=True)
class ModelConfig:
    default_model: str | None
    allowed_models: tuple[str, ...]
    openai_api_key: str | None = field(repr=False)  # never in logs or error messages
    openai_base_url: str | None
    timeout_s: float
    max_retries: int
    provider_keys: frozenset[str] = frozenset()
    """Which of the PROVIDER_KEY_VARIABLES are set (their names, never their values)."""
    openai_default_model: str | None = None
    """OPENAI_DEFAULT_MODEL: an OpenAI model, `openai:` optional, below DEFAULT_MODEL."""
    model_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """MODEL_OPTIONS, parsed (`services/chat/model_options.py`): model -> options."""


def with_provider(name: str) -> str:
    """`name` with its provider: as written when it has one (or is the offline model), else
    the provider its prefix names (`gpt-4.1` -> `openai:gpt-4.1`), else unchanged."""
    name = name.strip()
    if ":" in name or name == OFFLINE_MODEL:
        return name
    for prefix, provider in known_prefixes():
        if name.startswith(prefix):
            return f"{provider}:{name}"
    return name


def provider_keys_present(environ: Mapping[str, str]) -> frozenset[str]:
    """The names of the provider key variables that are set to something in `environ`."""
    names = {name for variables in key_variables().values() for name in variables}
    return frozenset(name for name in names if environ.get(name, "").strip())


class PydanticAIModelResolver:
    """Implements the `ModelResolver` port over PydanticAI model strings."""

    def __init__(
        self,
        config: ModelConfig,
        offline_factory: Callable[[], Any],
        offline_admission: Callable[[], None] | None = None,
        on_failure: OnFailure | None = None,
    ) -> None:
        self._default_model = with_provider(config.default_model or "") or None
        self._allowed = tuple(with_provider(m) for m in config.allowed_models if m.strip())
        self._openai_default = _openai_default(config.openai_default_model)
        self._config = config
        self._offline_factory = offline_factory
        self._offline_admission = offline_admission
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._on_failure = on_failure

    @property
    def internal_default(self) -> str:
        return OPENAI_DEFAULT if self._config.openai_api_key else OFFLINE_MODEL

    @property
    def default_sources(self) -> tuple[tuple[str, str | None], ...]:
        """The environment's candidates for the default model, in precedence order, each
        with its model (None when unset): DEFAULT_MODEL, OPENAI_DEFAULT_MODEL, built-in."""
        return (
            ("DEFAULT_MODEL", self._default_model),
            ("OPENAI_DEFAULT_MODEL", self._openai_default),
            ("built-in", self.internal_default),
        )

    @property
    def default_identifier(self) -> str:
        return self._default_model or self._openai_default or self.internal_default

    @property
    def allowed(self) -> tuple[str, ...]:
        base = self._allowed or (self.default_identifier, OFFLINE_MODEL)
        return tuple(dict.fromkeys((self.default_identifier, *base)))

    def providers(self) -> list[ProviderInfo]:
        grouped: dict[str, list[str]] = {}
        for identifier in self.allowed:
            grouped.setdefault(_provider_of(identifier), []).append(identifier)
        return [self._provider(name, tuple(models)) for name, models in grouped.items()]

    def _provider(self, name: str, models: tuple[str, ...]) -> ProviderInfo:
        if name == "openai":
            return ProviderInfo(
                name,
                models,
                key_setting="OPENAI_API_KEY",
                key_present=bool(self._config.openai_api_key),
                base_url_configured=bool(self._config.openai_base_url),
            )
        variables = key_variables().get(name)
        if variables is None:  # the offline model needs no key; others we cannot tell
            return ProviderInfo(name, models, key_setting=None, key_present=None)
        present = any(variable in self._config.provider_keys for variable in variables)
        return ProviderInfo(name, models, key_setting=" or ".join(variables), key_present=present)

    def register(self, identifier: str, model: Any) -> None:
        """Use `model` for `identifier` (an embedding application's own model, or a test's)."""
        with self._lock:
            self._cache[identifier] = model

    def resolve(self, requested: str | None) -> ResolvedModel:
        identifier = canonical_model(
            (requested or "").strip() or self.default_identifier, self.allowed
        )
        with self._lock:
            if identifier not in self._cache:
                self._cache[identifier] = self._build(identifier)
            model = self._cache[identifier]
        if identifier == OFFLINE_MODEL and self._offline_admission is not None:
            return ResolvedModel(
                identifier, model, admission=self._offline_admission, outside_tools=False
            )
        if isinstance(model, CompatModel):
            return ResolvedModel(
                identifier,
                model,
                searches_first=model.options.search_first == "almanac",
                turn_timeout_s=model.options.turn_timeout_s,
            )
        return ResolvedModel(identifier, model, outside_tools=identifier != OFFLINE_MODEL)

    def options(self, identifier: str) -> ModelOptions:
        """How Almanac calls `identifier` (`services/chat/model_options.py`)."""
        compatible = identifier.startswith("openai:") and bool(self._config.openai_base_url)
        return options_for(
            identifier, compatible_server=compatible, overrides=self._config.model_options
        )

    def longest_turn_s(self, default: float) -> float:
        """The longest a turn on any allowed model may take (`default`: AGENT_TIMEOUT): a
        turn still `streaming` after it is one no live process can finish."""
        limits = (self.options(identifier).turn_timeout_s for identifier in self.allowed)
        return max([default, *(limit for limit in limits if limit)])

    def _wrapped(self, identifier: str, model: Any) -> CompatModel:
        kwargs = {"on_failure": self._on_failure} if self._on_failure else {}
        return CompatModel(
            model,
            self.options(identifier),
            identifier=identifier,
            secrets=(self._config.openai_api_key or "",),
            **kwargs,
        )

    def build_unlisted(self, identifier: str) -> Any:
        """The model for `identifier` whether or not requests may choose it (the evaluation
        judge's, which an operator sets); built once and cached like the others."""
        with self._lock:
            if identifier not in self._cache:
                self._cache[identifier] = self._build(identifier)
            return self._cache[identifier]

    def _build(self, identifier: str) -> Any:
        if identifier == OFFLINE_MODEL:
            return self._offline_factory()
        provider, sep, name = identifier.partition(":")
        if not sep or not name:
            raise ConfigurationError(
                f"Model {identifier!r} is not of the form provider:model (e.g. {OPENAI_DEFAULT})."
            )
        context = ProviderContext(
            openai_api_key=self._config.openai_api_key,
            openai_base_url=self._config.openai_base_url,
            timeout_s=self._config.timeout_s,
            max_retries=self._config.max_retries,
            options=self.options(identifier),
        )
        return self._wrapped(identifier, provider_for(provider).build(name, context))


def _openai_default(name: str | None) -> str | None:
    name = (name or "").strip()
    if not name:
        return None
    provider, sep, model = name.partition(":")
    if not sep:
        return f"openai:{name}"
    if provider != "openai" or not model:
        raise ConfigurationError(
            f"OPENAI_DEFAULT_MODEL names an OpenAI model (gpt-4.1 or openai:gpt-4.1), not "
            f"{name!r}; use DEFAULT_MODEL for another provider's."
        )
    return name


def _provider_of(identifier: str) -> str:
    if identifier == OFFLINE_MODEL:
        return "offline"
    provider, sep, _ = identifier.partition(":")
    return provider if sep else identifier
