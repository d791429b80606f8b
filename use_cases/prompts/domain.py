"""Domain types of prompt and model administration.

A *prompt type* names one kind of model call with its own system prompt and its own default
model: `chat` (the grounded-answer turns) and `advice` (structured advice turns). Each type
has a default prompt (built in, or the SYSTEM_PROMPT setting for `chat`); admins may store
numbered versions of it, one of which (or none: the default) is active. Versions are never
deleted: reverting to the default keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from use_cases.prompts.templates import template_variables
from use_cases.shared.errors import InvalidRequest, NotFound

CHAT = "chat"
ADVICE = "advice"

#: Where the text of a prompt in force comes from.
PromptSource = Literal["version", "built-in", "setting"]


@dataclass(frozen=True)
class PromptDefault:
    """The prompt of a type when no version is active.

    `source` is `built-in` (shipped with Almanac; `revision` names which) or `setting` (a
    setting replaced it, e.g. SYSTEM_PROMPT for `chat`)."""

    text: str
    source: Literal["built-in", "setting"] = "built-in"
    revision: str | None = None


@dataclass(frozen=True)
class PromptVersion:
    """One stored version of a prompt type's system prompt (a template when it uses
    `{{variables}}`)."""

    prompt_type: str
    version: int
    text: str
    author: str
    created_at: datetime

    @property
    def variables(self) -> tuple[str, ...]:
        return template_variables(self.text)


@dataclass(frozen=True)
class PromptChange:
    """What a write replaced and what it left in force: version numbers, None = the default."""

    before: int | None
    after: PromptVersion | None


@dataclass(frozen=True)
class EffectivePrompt:
    """A prompt of a type: a stored version, or the default (`version` None). `active` says
    whether it is the prompt in force (False for a draft version, or for the default while a
    version is active)."""

    prompt_type: str
    text: str
    source: PromptSource
    version: int | None = None
    author: str | None = None
    created_at: datetime | None = None
    revision: str | None = None
    active: bool = True

    @property
    def variables(self) -> tuple[str, ...]:
        """The `{{variables}}` its text uses (see `use_cases/prompts/templates.py`)."""
        return template_variables(self.text)

    @property
    def label(self) -> int | str:
        """The version number, or "default"."""
        return self.version if self.version is not None else "default"

    @classmethod
    def of_version(cls, version: PromptVersion, *, active: bool = True) -> EffectivePrompt:
        return cls(
            prompt_type=version.prompt_type,
            text=version.text,
            source="version",
            version=version.version,
            author=version.author,
            created_at=version.created_at,
            active=active,
        )

    @classmethod
    def of_default(
        cls, prompt_type: str, default: PromptDefault, *, active: bool = True
    ) -> EffectivePrompt:
        return cls(
            prompt_type=prompt_type,
            text=default.text,
            source=default.source,
            revision=default.revision,
            active=active,
        )


@dataclass(frozen=True)
class PromptVersionPage:
    versions: tuple[PromptVersion, ...]
    active: int | None
    total: int
    limit: int
    offset: int


class PromptTypes:
    """The registry of prompt types, each with its default prompt.

    Adding a type (e.g. `advice`) is one more entry where it is built (the composition root);
    the HTTP routes, the CLI and the stores take any registered name. Any other name is
    `NotFound`, naming the known ones."""

    def __init__(self, defaults: Mapping[str, PromptDefault]) -> None:
        if not defaults:
            raise ValueError("At least one prompt type is needed.")
        self._defaults = dict(defaults)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._defaults)

    def default(self, prompt_type: str) -> PromptDefault:
        self.require(prompt_type)
        return self._defaults[prompt_type]

    def require(self, prompt_type: str) -> str:
        if prompt_type not in self._defaults:
            raise NotFound(
                f"No prompt type {prompt_type!r}; the prompt types are: {', '.join(self.names)}."
            )
        return prompt_type


def canonical_model(requested: str, allowed: Sequence[str]) -> str:
    """The allowed model `requested` names, as people write it: an allowed identifier
    (`openai:gpt-4.1-mini`), or a bare name one allowed model has (`gpt-4.1-mini`). A bare
    name two providers share, or a name no allowed model has, is `InvalidRequest` naming the
    candidates or the allowed models."""
    name = requested.strip()
    if name in allowed:
        return name
    shown = name if len(name) <= 80 else name[:79] + "…"
    if ":" not in name:
        matches = [m for m in allowed if m.partition(":")[2] == name]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise InvalidRequest(
                f"Model {shown!r} is ambiguous: {' or '.join(matches)}. Name one with its provider."
            )
    bare = [m.partition(":")[2] for m in allowed if m.partition(":")[2]]
    unique = [b for b in bare if bare.count(b) == 1]
    also = f" (or by name alone: {', '.join(unique)})" if unique else ""
    raise InvalidRequest(
        f"Model {shown!r} is not allowed. Allowed models: {', '.join(allowed)}{also}."
    )


@dataclass(frozen=True)
class ModelDefault:
    """An admin's choice of default model for a prompt type."""

    prompt_type: str
    model: str
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True)
class EffectiveModel:
    """The model a request of a type gets when it names none, and why.

    `stored` is the admin's setting (None if unset); `source` is `setting` when that setting
    is in force, else `environment` (DEFAULT_MODEL, or the built-in default). A stored model
    that is no longer allowed (ALLOWED_MODELS changed) is not in force: `stale` says so."""

    prompt_type: str
    model: str
    source: Literal["setting", "environment"]
    stored: ModelDefault | None = None

    @property
    def stale(self) -> bool:
        return self.stored is not None and self.source != "setting"


@dataclass(frozen=True)
class ProviderInfo:
    """A configured model provider: its allowed models and whether its credentials are set.

    Never holds a key: `key_present` is only whether one is configured (None when the
    provider needs none, or Almanac cannot tell), `key_setting` the variable it is read from."""

    provider: str
    models: tuple[str, ...]
    key_setting: str | None
    key_present: bool | None
    base_url_configured: bool = False
