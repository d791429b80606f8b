"""A fake `ProjectDraftStore` and `DraftChatStore` (in memory), a `ProjectTracker` fake, and
the little of a `HistoryStore` the draft use cases read (`get_chat`, `list_messages`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from use_cases.chat.domain import Chat, Message, MessagePage, MessageRole
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
from use_cases.shared.errors import Conflict, NotFound

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class FakeProjectDrafts:
    def __init__(self) -> None:
        self.drafts: dict[str, ProjectDraft] = {}
        self.versions: dict[str, list[DraftVersion]] = {}
        self.activations: dict[str, list[DraftActivation]] = {}

    def get_draft(self, chat_id: str) -> ProjectDraft | None:
        return self.drafts.get(chat_id)

    def get_version(self, chat_id: str, number: int) -> DraftVersion | None:
        found = [v for v in self.versions.get(chat_id, []) if v.number == number]
        return found[0] if found else None

    def list_versions(
        self, chat_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[DraftVersion]:
        return list(reversed(self.versions.get(chat_id, [])))[offset : offset + limit]

    def add_versions(
        self, chat_id: str, versions: Sequence[NewDraftVersion], *, based_on: int | None
    ) -> list[DraftVersion]:
        draft = self.drafts.get(chat_id)
        if based_on is not None and (draft is None or draft.active_version != based_on):
            raise Conflict("The draft changed meanwhile.")
        latest = draft.latest_version if draft else 0
        added = [
            DraftVersion(chat_id, latest + i, v.content, v.author, v.model, v.note,
                         v.created_by, NOW, v.drafted_from)
            for i, v in enumerate(versions, start=1)
        ]  # fmt: skip
        self.versions.setdefault(chat_id, []).extend(added)
        number = added[-1].number
        self.drafts[chat_id] = (
            replace(draft, active_version=number, latest_version=number)
            if draft
            else ProjectDraft(chat_id, number, number, NOW, NOW)
        )
        return added

    def activate(self, chat_id: str, number: int, by: str) -> DraftActivation:
        draft = self.drafts.get(chat_id)
        if draft is None or self.get_version(chat_id, number) is None:
            raise NotFound(f"No version {number}.")
        move = DraftActivation(chat_id, number, draft.active_version, by, NOW)
        self.activations.setdefault(chat_id, []).append(move)
        self.drafts[chat_id] = replace(draft, active_version=number)
        return move

    def list_activations(self, chat_id: str) -> list[DraftActivation]:
        return list(self.activations.get(chat_id, []))


class FakeChats:
    """Chats and their messages, as the draft use cases read them."""

    def __init__(self) -> None:
        self.chats: dict[str, Chat] = {}
        self.messages: dict[str, list[Message]] = {}

    def add(self, chat_id: str, user_id: str, *texts: tuple[MessageRole, str]) -> list[Message]:
        self.chats[chat_id] = Chat(chat_id, user_id, texts[0][1][:80] if texts else "", NOW, NOW)
        self.messages[chat_id] = [
            Message(f"{chat_id}-m{i}", chat_id, role, text, (), (), None, None, None,
                    "complete", NOW)
            for i, (role, text) in enumerate(texts, start=1)
        ]  # fmt: skip
        return self.messages[chat_id]

    def get_chat(self, chat_id: str) -> Chat | None:
        return self.chats.get(chat_id)

    def list_messages(self, chat_id: str, *, limit: int | None = None) -> list[Message]:
        return list(self.messages.get(chat_id, []))

    def count_messages(self, chat_id: str) -> int:
        return len(self.messages.get(chat_id, []))

    def page_messages(
        self, chat_id: str, *, limit: int, before: int | None = None, after: int | None = None
    ) -> MessagePage:
        """A page as the stores read it (a message's position is its place, from 1)."""
        messages = self.messages.get(chat_id, [])
        if after is not None:
            start = after
        else:
            start = max(0, (len(messages) if before is None else before - 1) - limit)
        end = min(len(messages), start + limit)
        if before is not None:
            end = min(end, before - 1)
        page = messages[start:end]
        return MessagePage(
            page, start + 1 if page and start > 0 else None, end if end < len(messages) else None
        )


class FakeDraftChats:
    """A fake `DraftChatStore` (in memory)."""

    def __init__(self) -> None:
        self.messages: dict[str, list[DraftChatMessage]] = {}
        self.projects: dict[str, TrackedProject] = {}

    def list_messages(self, chat_id: str) -> list[DraftChatMessage]:
        return list(self.messages.get(chat_id, []))

    def add_messages(
        self, chat_id: str, messages: Sequence[NewDraftChatMessage]
    ) -> list[DraftChatMessage]:
        kept = self.messages.setdefault(chat_id, [])
        added = [
            DraftChatMessage(chat_id, len(kept) + i, m.role, m.content, m.sent_by, m.model, NOW)
            for i, m in enumerate(messages, start=1)
        ]
        kept.extend(added)
        return added

    def get_project(self, chat_id: str) -> TrackedProject | None:
        return self.projects.get(chat_id)

    def add_project(self, project: TrackedProject) -> TrackedProject:
        if project.chat_id in self.projects:
            raise Conflict("It has a project already.")
        self.projects[project.chat_id] = project
        return project


class FakeProjectTracker:
    """A `ProjectTracker` that records what it was sent and names each project in turn."""

    def __init__(self) -> None:
        self.created: list[DraftVersion] = []

    async def create(self, version: DraftVersion) -> TrackerLink:
        self.created.append(version)
        number = len(self.created)
        return TrackerLink(f"proj-{number}", f"https://tracker.test/project/proj-{number}")
