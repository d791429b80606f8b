"""Ports of prompts and models: prompt versions, default models, and which model answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from use_cases.prompts.domain import ModelDefault, PromptChange, PromptVersion, ProviderInfo
from use_cases.prompts.library_domain import (
    LibraryPrompt,
    Project,
    Removed,
    UseCase,
    VersionStats,
)


def _always_admitted() -> None:
    return None


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready for a run: `model` is a PydanticAI model object, `identifier` its label.
    `admission` raises `ServiceBusy` when a turn on this model cannot be taken now (a model
    that runs on this server's own bounded workers); a turn calls `admit()` before it writes
    anything, so a busy server answers 503 rather than a stream that fails."""

    identifier: str
    model: Any
    admission: Callable[[], None] = field(default=_always_admitted, compare=False, repr=False)
    searches_first: bool = False
    """When a turn must search, Almanac runs the first search itself and gives the model its
    result, instead of asking the model to call the tool (a small local model seldom does,
    and servers ignore a forced tool choice): `MODEL_OPTIONS` `search_first`."""
    turn_timeout_s: float | None = None
    """Seconds one turn on this model may take; None: the agent's own limit."""
    outside_tools: bool = True
    """Whether the tools of other servers an admin allowed are offered to this model (the
    offline model takes none: it calls only search and SQL)."""

    def admit(self) -> None:
        self.admission()


class ModelResolver(Protocol):
    """Which model answers a request: the request's choice (if allowed) or the default."""

    def resolve(self, requested: str | None) -> ResolvedModel:
        """The model `requested` names (an allowed identifier, or a bare name one allowed
        model has: see `llm_domain.canonical_model`), else the default. Raise
        `InvalidRequest` (naming the allowed models) for a model that is not allowed."""
        ...

    @property
    def default_identifier(self) -> str: ...

    @property
    def internal_default(self) -> str:
        """The built-in default: the model a deployment without DEFAULT_MODEL gets."""
        ...

    @property
    def default_sources(self) -> tuple[tuple[str, str | None], ...]:
        """The environment's candidates for the default, in precedence order, each with its
        model or None when unset (e.g. DEFAULT_MODEL, OPENAI_DEFAULT_MODEL, built-in)."""
        ...

    @property
    def allowed(self) -> tuple[str, ...]: ...

    def providers(self) -> list[ProviderInfo]:
        """The providers of the allowed models, with whether their keys are set (never the
        keys)."""
        ...


class PromptStore(Protocol):
    """Numbered versions of each prompt type's system prompt, and which one is active.

    Versions are numbered 1, 2, ... per type and never deleted. Each write is one transaction
    and returns what it replaced, so the audit log's before/after are exact under concurrent
    admins."""

    def create_version(
        self, prompt_type: str, text: str, author: str, at: datetime, *, activate: bool = True
    ) -> PromptChange:
        """Store `text` as the next version; make it active unless `activate` is False (a
        draft: `after` is the new version, the active one is unchanged)."""
        ...

    def active_version(self, prompt_type: str) -> PromptVersion | None:
        """The active version; None when the default is in force."""
        ...

    def get_version(self, prompt_type: str, version: int) -> PromptVersion | None: ...

    def list_versions(
        self, prompt_type: str, *, limit: int, offset: int
    ) -> tuple[list[PromptVersion], int]:
        """Newest first, with the total count."""
        ...

    def activate(self, prompt_type: str, version: int) -> PromptChange | None:
        """Make `version` active; None if there is no such version."""
        ...

    def reset(self, prompt_type: str) -> PromptChange:
        """Make the default active again (no version active); versions are kept."""
        ...


class ModelDefaultStore(Protocol):
    """The default model an admin chose for each prompt type."""

    def get(self, prompt_type: str) -> ModelDefault | None: ...

    def put(
        self, prompt_type: str, model: str | None, by: str, at: datetime
    ) -> ModelDefault | None:
        """Set (or with None clear) the type's default; returns the one it replaced."""
        ...


class PromptLibraryStore(Protocol):
    """Projects, their use cases and their named prompts (the versions are the
    `PromptStore`'s, under each prompt's key). Names are unique within their parent; an add
    whose name is taken writes nothing and answers False."""

    def add_project(self, project: Project) -> bool: ...

    def project(self, project_id: str) -> Project | None: ...

    def projects(self, *, limit: int, offset: int) -> tuple[list[Project], int]:
        """By name, with the total count."""
        ...

    def add_use_case(self, use_case: UseCase) -> bool: ...

    def use_case(self, use_case_id: str) -> UseCase | None: ...

    def use_cases(self, project_id: str, *, limit: int, offset: int) -> tuple[list[UseCase], int]:
        """The project's use cases by name, with the total count."""
        ...

    def add_prompt(self, prompt: LibraryPrompt) -> bool: ...

    def prompt(self, prompt_id: str) -> LibraryPrompt | None: ...

    def prompts(
        self, *, use_case_id: str | None, tag: str | None, limit: int, offset: int
    ) -> tuple[list[LibraryPrompt], int]:
        """By name (then id), those of `use_case_id` and with `tag` when given, with the total."""
        ...

    # Updates write the whole row as given (the id and parent unchanged); one whose name is
    # taken within its parent writes nothing and answers False, as does one for a missing id.
    def update_project(self, project: Project) -> bool: ...

    def update_use_case(self, use_case: UseCase) -> bool: ...

    def update_prompt(self, prompt: LibraryPrompt) -> bool: ...

    # Deletes take the children with them in one transaction (a project its use cases and
    # their prompts, a use case its prompts) and answer what went, or None for a missing id.
    # A prompt's versions stay in the `PromptStore` under its key, which no prompt takes again.
    def delete_project(self, project_id: str) -> Removed | None: ...

    def delete_use_case(self, use_case_id: str) -> Removed | None: ...

    def delete_prompt(self, prompt_id: str) -> Removed | None: ...


class PromptRunStats(Protocol):
    """The statistics of prompt versions, read from the evaluation runs that used them."""

    def version_stats(self, key: str) -> dict[int, VersionStats]:
        """Per version number of the prompt `key`, over the runs that recorded it; a version
        without runs is absent."""
        ...
