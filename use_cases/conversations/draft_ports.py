"""Ports of project drafts: where versions are kept, which model drafts, and the outside
tracker a draft could be pushed to (a port with no adapter yet)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from use_cases.conversations.draft_domain import (
    DraftActivation,
    DraftVersion,
    NewDraftVersion,
    ProjectDraft,
)
from use_cases.prompts.ports import ResolvedModel


class ProjectDraftStore(Protocol):
    """Drafts per conversation and their numbered, immutable versions. Each write is one
    transaction; concurrent writers to one draft are ordered and never share a number."""

    def get_draft(self, chat_id: str) -> ProjectDraft | None: ...

    def get_version(self, chat_id: str, number: int) -> DraftVersion | None: ...

    def list_versions(
        self, chat_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[DraftVersion]:
        """The draft's versions, newest first."""
        ...

    def add_versions(
        self, chat_id: str, versions: Sequence[NewDraftVersion], *, based_on: int | None
    ) -> list[DraftVersion]:
        """Add `versions` in order as the next numbers and make the last one active, creating
        the draft if it is new, all in one transaction. `based_on`: the active version the
        change was made from (None for a draft made from the conversation alone); when another
        version became active meanwhile, raise `Conflict` and write nothing."""
        ...

    def activate(self, chat_id: str, number: int, by: str) -> DraftActivation:
        """Make version `number` active and record who did; `NotFound` for a missing one."""
        ...

    def list_activations(self, chat_id: str) -> list[DraftActivation]:
        """The recorded moves of the pointer, oldest first."""
        ...


class DraftModels(Protocol):
    """The model of a drafting or update turn: the request's choice (if allowed) or the
    default, with the offline default's drafting capability in place of its answerer."""

    def resolve(self, requested: str | None) -> ResolvedModel: ...


class ProjectTracker(Protocol):
    """An outside project tracker a draft can be pushed to (Linear, in the issue). No adapter
    and no route exist yet: this is where one plugs in (`docs/conversation-drafts.md`)."""

    async def push(self, version: DraftVersion) -> str:
        """Create or update the tracker's project from `version`; return its URL."""
        ...
