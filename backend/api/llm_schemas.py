"""HTTP shapes of the prompt and model administration endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from use_cases.prompts.domain import (
    EffectiveModel,
    EffectivePrompt,
    PromptVersion,
    PromptVersionPage,
    ProviderInfo,
)
from use_cases.prompts.manage_prompts import MAX_PROMPT_CHARS
from use_cases.prompts.model_defaults import MAX_MODEL_CHARS

_VARIABLES = Field(
    description="The `{{variables}}` its text uses, in order of first use. The service fills "
    "the built-in ones (`today`) itself; a version using any other can be a draft and be "
    "tried in the playground, but not be put in force.",
    examples=[["today", "team"]],
)


class PromptOut(BaseModel):
    """A prompt of a type: the one in force, a stored version (a draft when not `active`),
    or the default."""

    prompt_type: str = Field(examples=["chat"])
    version: int | Literal["default"] = Field(
        description="The version number, or `default` when no version is active.", examples=[3]
    )
    source: Literal["version", "built-in", "setting"] = Field(
        description="`version` (a stored version), `built-in` (Almanac's own default) or "
        "`setting` (the SYSTEM_PROMPT setting replaced the built-in default)."
    )
    text: str
    author: str | None = Field(description="Who created the version (`cli` for the CLI).")
    created_at: datetime | None
    revision: str | None = Field(
        None, description="Which revision of the built-in prompt this is (defaults only)."
    )
    active: bool = Field(
        True,
        description="Whether this is the prompt in force (false for a draft, or for the "
        "default while a version is active).",
    )
    variables: list[str] = _VARIABLES

    @classmethod
    def of(cls, prompt: EffectivePrompt) -> PromptOut:
        return cls(
            prompt_type=prompt.prompt_type,
            version=prompt.label,  # an int or "default"
            source=prompt.source,
            text=prompt.text,
            author=prompt.author,
            created_at=prompt.created_at,
            revision=prompt.revision,
            active=prompt.active,
            variables=list(prompt.variables),
        )


class PromptIn(BaseModel):
    text: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description=f"The new system prompt (1 to {MAX_PROMPT_CHARS:,} characters, surrounding "
        "whitespace removed), a template when it uses `{{variables}}`. It becomes the next "
        "version, active at once unless `activate` is false.",
        examples=["You are Almanac, an assistant that answers only from the knowledge base..."],
    )
    activate: bool = Field(
        True,
        description="false: store a draft (the next version, not in force). A text using "
        "variables other than the built-in ones (`today`) can only be stored as a draft.",
    )


class PromptVersionOut(BaseModel):
    version: int
    text: str
    author: str
    created_at: datetime
    active: bool
    variables: list[str] = _VARIABLES

    @classmethod
    def of(cls, version: PromptVersion, active: int | None) -> PromptVersionOut:
        return cls(
            version=version.version,
            text=version.text,
            author=version.author,
            created_at=version.created_at,
            active=version.version == active,
            variables=list(version.variables),
        )


class PromptVersionsOut(BaseModel):
    prompt_type: str
    active: int | Literal["default"] = Field(description="The active version, or `default`.")
    versions: list[PromptVersionOut] = Field(description="Newest first.")
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, prompt_type: str, page: PromptVersionPage) -> PromptVersionsOut:
        return cls(
            prompt_type=prompt_type,
            active=page.active if page.active is not None else "default",
            versions=[PromptVersionOut.of(v, page.active) for v in page.versions],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )


class ModelDefaultIn(BaseModel):
    model: str | None = Field(
        max_length=MAX_MODEL_CHARS,
        description="One of the allowed models, or null to clear the setting (requests then "
        "get DEFAULT_MODEL or the built-in default).",
        examples=["offline-extractive"],
    )


class ModelDefaultOut(BaseModel):
    prompt_type: str = Field(examples=["chat"])
    model: str | None = Field(description="The admin's setting for this type; null if unset.")
    effective_model: str = Field(
        description="What a request of this type that names no model gets.",
        examples=["offline-extractive"],
    )
    source: Literal["setting", "environment"] = Field(
        description="`setting` (this setting is in force) or `environment` (DEFAULT_MODEL, or "
        "the built-in default)."
    )
    stale: bool = Field(
        description="The setting names a model that is no longer allowed, so it is passed over."
    )
    updated_by: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, effective: EffectiveModel) -> ModelDefaultOut:
        stored = effective.stored
        return cls(
            prompt_type=effective.prompt_type,
            model=stored.model if stored else None,
            effective_model=effective.model,
            source=effective.source,
            stale=effective.stale,
            updated_by=stored.updated_by if stored else None,
            updated_at=stored.updated_at if stored else None,
        )


class ProviderOut(BaseModel):
    """A model provider: never its key, only whether one is configured."""

    provider: str = Field(examples=["openai"])
    models: list[str] = Field(description="Its allowed models.")
    key_setting: str | None = Field(
        description="The variable its key is read from; null if it needs none (the offline "
        "model) or Almanac cannot tell.",
        examples=["OPENAI_API_KEY"],
    )
    key_present: bool | None = Field(description="Whether that key is set; null if unknown.")
    base_url_configured: bool = Field(description="OPENAI_BASE_URL is set (OpenAI only).")

    @classmethod
    def of(cls, info: ProviderInfo) -> ProviderOut:
        return cls(
            provider=info.provider,
            models=list(info.models),
            key_setting=info.key_setting,
            key_present=info.key_present,
            base_url_configured=info.base_url_configured,
        )


class ProvidersOut(BaseModel):
    providers: list[ProviderOut]
    allowed: list[str] = Field(description="Every model a request or a setting may name.")
