"""Ports of project drafts: where versions are kept, where the draft chat's messages and
the tracked project (the conversation's lock) are kept, which model drafts, and the outside
tracker a draft is pushed to (a port with a fake in the tests and no adapter yet)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from use_cases.conversations.draft_domain import (
    DraftActivation,
    DraftChatMessage,
    DraftVersion,
    NewDraftChatMessage,
    NewDraftVersion,
    ProjectDraft,
    TrackedProject,
    TrackerLink,
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


class DraftChatStore(Protocol):
    """A conversation's draft chat (its stored turns) and its tracked project (the lock).
    Both go with the conversation when it is deleted."""

    def list_messages(self, chat_id: str) -> list[DraftChatMessage]:
        """Oldest first."""
        ...

    def add_messages(
        self, chat_id: str, messages: Sequence[NewDraftChatMessage]
    ) -> list[DraftChatMessage]:
        """Add a turn's messages as the next numbers, in one transaction."""
        ...

    def get_project(self, chat_id: str) -> TrackedProject | None: ...

    def add_project(self, project: TrackedProject) -> TrackedProject:
        """Record the conversation's project; `Conflict` if it has one already."""
        ...


class ProjectTracker(Protocol):
    """An outside project tracker a draft becomes a project in (Linear, in the conversation
    backend's API). No adapter ships: without one, creating a project is `NotConfigured`."""

    async def create(self, version: DraftVersion) -> TrackerLink:
        """Create the tracker's project from `version`; its id and URL."""
        ...
