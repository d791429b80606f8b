"""The default model of each prompt type, and the precedence that picks a request's model.

Rules:
- A request of a prompt type gets: its own `model` (only if allowed; a bare name one allowed
  model has, `gpt-4.1-mini`, names it) > the admin's default for the type (stored in the app
  DB) > DEFAULT_MODEL > OPENAI_DEFAULT_MODEL > the built-in default (openai:gpt-4.1-mini with
  an OpenAI key, else offline-extractive). `effective_model` is the
  one place that decides it; `ModelsForPromptType` applies it to every request of a type.
- The stored default is read on every request, so a change applies to the next request in
  every server process, without a restart.
- An admin may set a type's default to one of the allowed models that can be used (provider
  package installed, key or base URL configured); anything else is `InvalidRequest` (422)
  and nothing is written. `None` clears the setting. Setting the value already stored
  changes nothing.
- A stored default that stopped being allowed (ALLOWED_MODELS changed since) is passed over,
  with a warning in the log, instead of failing requests that named no model; it shows as
  stale.
- Admins only, reads included (the providers listing says which keys are configured, never a
  key). Each change is audited as `model_default.set`, target `model_default:TYPE`, with
  `before`/`after` `{"model": M | null}`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from loguru import logger

from use_cases.access.audit import MODEL_DEFAULT_SET, RecordAudit
from use_cases.access.domain import Caller, require_admin
from use_cases.prompts.domain import EffectiveModel, PromptTypes, ProviderInfo, canonical_model
from use_cases.prompts.ports import ModelDefaultStore, ModelResolver, ResolvedModel
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import ConfigurationError, InvalidRequest

MAX_MODEL_CHARS = 200


def effective_model(
    models: ModelResolver, store: ModelDefaultStore, prompt_type: str
) -> EffectiveModel:
    """The model a request of `prompt_type` that names none gets (see the module rules)."""
    stored = store.get(prompt_type)
    if stored is not None and stored.model in models.allowed:
        return EffectiveModel(prompt_type, stored.model, "setting", stored)
    if stored is not None:
        logger.warning(
            "The default model {!r} of prompt type {!r} is no longer allowed; using {!r}",
            stored.model,
            prompt_type,
            models.default_identifier,
        )
    return EffectiveModel(prompt_type, models.default_identifier, "environment", stored)


class ModelsForPromptType:
    """The `ModelResolver` of the requests of one prompt type: the port's precedence with the
    admin's per-type default between the request's choice and the environment's."""

    def __init__(self, models: ModelResolver, store: ModelDefaultStore, prompt_type: str) -> None:
        self._models = models
        self._store = store
        self._prompt_type = prompt_type

    def resolve(self, requested: str | None) -> ResolvedModel:
        if (requested or "").strip():
            return self._models.resolve(requested)
        return self._models.resolve(self.effective().model)

    def effective(self) -> EffectiveModel:
        return effective_model(self._models, self._store, self._prompt_type)

    @property
    def default_identifier(self) -> str:
        return self.effective().model

    @property
    def internal_default(self) -> str:
        return self._models.internal_default

    @property
    def default_sources(self) -> tuple[tuple[str, str | None], ...]:
        """The environment's candidates, as the port's (the admin's choice sits above them)."""
        return self._models.default_sources

    @property
    def allowed(self) -> tuple[str, ...]:
        return self._models.allowed

    def providers(self) -> list[ProviderInfo]:
        return self._models.providers()


@dataclass(frozen=True)
class ModelDefaultWrite:
    """The type's default after a write, and whether the write changed anything."""

    effective: EffectiveModel
    changed: bool


class ManageModelDefaults:
    """Shows and sets the default model of each prompt type (see the module rules)."""

    def __init__(
        self,
        types: PromptTypes,
        store: ModelDefaultStore,
        models: ModelResolver,
        audit: RecordAudit,
        clock: Clock,
    ) -> None:
        self._types = types
        self._store = store
        self._models = models
        self._audit = audit
        self._clock = clock

    @property
    def types(self) -> tuple[str, ...]:
        return self._types.names

    @property
    def allowed(self) -> tuple[str, ...]:
        return self._models.allowed

    @property
    def internal_default(self) -> str:
        """The built-in default model (before DEFAULT_MODEL and the admins' choices)."""
        return self._models.internal_default

    @property
    def default_sources(self) -> tuple[tuple[str, str | None], ...]:
        """The environment's candidates below the admins' choice, in precedence order."""
        return self._models.default_sources

    async def providers(self, caller: Caller) -> list[ProviderInfo]:
        require_admin(caller, "Reading the model settings")
        return self._models.providers()

    async def show(self, caller: Caller, prompt_type: str) -> EffectiveModel:
        require_admin(caller, "Reading the model settings")
        self._types.require(prompt_type)
        return await asyncio.to_thread(effective_model, self._models, self._store, prompt_type)

    async def effective(self, prompt_type: str) -> EffectiveModel:
        """What a request naming no model gets: public, like the allowed list (`GET /model`)."""
        self._types.require(prompt_type)
        return await asyncio.to_thread(effective_model, self._models, self._store, prompt_type)

    async def set(self, caller: Caller, prompt_type: str, model: str | None) -> ModelDefaultWrite:
        require_admin(caller, "Changing the default model")
        self._types.require(prompt_type)
        wanted = None if model is None else model.strip()
        return await asyncio.to_thread(self._set, caller, prompt_type, wanted)

    def _set(self, caller: Caller, prompt_type: str, model: str | None) -> ModelDefaultWrite:
        if model is not None:
            model = self._check_usable(model)
        current = self._store.get(prompt_type)
        if (current.model if current else None) == model:
            return ModelDefaultWrite(effective_model(self._models, self._store, prompt_type), False)
        previous = self._store.put(prompt_type, model, caller.user_id, utc(self._clock.now()))
        self._audit.record(
            caller,
            MODEL_DEFAULT_SET,
            f"model_default:{prompt_type}",
            before={"model": previous.model if previous else None},
            after={"model": model},
        )
        return ModelDefaultWrite(effective_model(self._models, self._store, prompt_type), True)

    def _check_usable(self, model: str) -> str:
        """The allowed model `model` names (a bare name as well: `canonical_model`), checked
        usable."""
        if not model:
            raise InvalidRequest(
                "The model is empty: name one of the allowed models, or send null to clear "
                "the default."
            )
        if len(model) > MAX_MODEL_CHARS:
            raise InvalidRequest(
                f"Model {model[:79] + '…'!r} is not allowed. Allowed models: "
                f"{', '.join(self._models.allowed)}."
            )
        model = canonical_model(model, self._models.allowed)
        try:
            self._models.resolve(model)
        except ConfigurationError as exc:
            raise InvalidRequest(
                f"Model {model!r} is allowed but cannot be used: {exc.detail}"
            ) from None
        return model
