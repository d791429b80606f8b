"""The draft chat and the tracked project without I/O: a streamed turn's events and stored
exchange, the lock a project puts on the conversation, and the tracker that is not
configured (fakes of the stores and the tracker; the offline draft model runs for real)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.conversations.draft_offline import build_offline_draft_model
from tests.conftest import FixedClock
from tests.fakes.project_drafts import FakeChats, FakeDraftChats, FakeProjectDrafts
from tests.fakes.project_drafts import FakeProjectTracker as Tracker
from tests.unit.test_project_drafts import Models
from use_cases.chat.agent import AgentLimits
from use_cases.conversations.draft_agent import build_draft_agent, build_update_agent
from use_cases.conversations.draft_chat import DraftChat, DraftChatEvent, TrackProject
from use_cases.conversations.drafts import (
    DraftProject,
    DraftSettings,
    DraftTurnRequest,
    EditDraft,
    EditDraftRequest,
    ManageDraftVersions,
    UpdateDraftByTurn,
)
from use_cases.shared.errors import (
    ConversationLocked,
    InvalidRequest,
    NotConfigured,
    NotFound,
)


class World:
    def __init__(self, tracker: Tracker | None) -> None:
        self.history, self.drafts, self.chats = FakeChats(), FakeProjectDrafts(), FakeDraftChats()
        models, limits = Models(build_offline_draft_model()), AgentLimits()
        settings = DraftSettings()
        locks = self.chats
        drafting = DraftProject(
            self.history,  # type: ignore[arg-type]  # FakeChats: the chat reads drafting makes
            self.drafts,
            models,
            build_draft_agent(limits),
            limits,
            settings,
            locks=locks,
        )
        updating = UpdateDraftByTurn(
            self.history,  # type: ignore[arg-type]  # FakeChats: the chat reads drafting makes
            self.drafts,
            models,
            build_update_agent(limits),
            limits,
            settings,
            locks=locks,
        )
        self.versions = ManageDraftVersions(
            self.history,  # type: ignore[arg-type]  # FakeChats: the chat reads drafting makes
            self.drafts,
            settings,
            locks=locks,
        )
        self.edit = EditDraft(
            self.history,  # type: ignore[arg-type]  # FakeChats: the chat reads drafting makes
            self.drafts,
            settings,
            locks=locks,
        )
        self.chat = DraftChat(
            self.history,  # type: ignore[arg-type]  # FakeChats: the chat reads drafting makes
            locks,
            self.drafts,
            drafting,
            updating,
            max_message_chars=100,
        )
        self.projects = TrackProject(self.history, locks, self.versions, tracker, FixedClock())  # type: ignore[arg-type]  # FakeChats: the chat reads drafting makes
        self.history.add("c1", "ana", ("user", "Plan the move. We need to pack the lab."))


async def turn(world: World, message: str, user: str = "ana") -> list[DraftChatEvent]:
    events: AsyncIterator[DraftChatEvent] = world.chat.stream(DraftTurnRequest(user, "c1", message))
    return [event async for event in events]


async def test_a_first_turn_drafts_the_project_then_applies_the_request_and_is_stored() -> None:
    world = World(None)
    events = await turn(world, "add a goal: label boxes")
    kinds = [e.kind for e in events]
    assert kinds == [
        "status",
        "status",
        "project_updated",
        "status",
        "project_updated",
        "content",
        "done",
    ]
    assert [e.status for e in events if e.kind == "status"] == [
        "analyzing_request",
        "drafting_project",
        "generating_response",
    ]
    done = events[-1].reply
    assert done is not None and done.versions_added == [2]
    assert "label boxes" in [g.lower() for g in done.state.version.content.goals]
    stored = await world.chat.messages("ana", "c1")
    assert [(m.seq, m.role) for m in stored] == [(1, "user"), (2, "assistant")]
    assert stored[1].content == events[-2].content and stored[1].model == "offline-extractive"


async def test_a_later_turn_only_updates_and_a_turn_that_changes_nothing_adds_no_version() -> None:
    world = World(None)
    await turn(world, "add a goal: label boxes")
    events = await turn(world, "what do you think?")
    assert [e.kind for e in events] == ["status", "status", "content", "done"]
    assert events[-1].reply is not None and events[-1].reply.versions_added == []
    assert len(await world.chat.messages("ana", "c1")) == 4


async def test_bad_input_and_someone_elses_chat_fail_before_the_stream() -> None:
    world = World(None)
    with pytest.raises(InvalidRequest, match="blank"):
        await turn(world, "  ")
    with pytest.raises(InvalidRequest, match="at most 100"):
        await turn(world, "x" * 101)
    with pytest.raises(NotFound, match="No chat"):
        await turn(world, "add a goal: tea", user="bob")
    with pytest.raises(NotFound, match="No chat"):
        await world.chat.messages("bob", "c1")


async def test_a_project_locks_the_conversation_and_its_draft() -> None:
    tracker = Tracker()
    world = World(tracker)
    await turn(world, "set the title to Lab move")
    project = await world.projects.create("ana", "c1")
    assert project.tracker_id == "proj-1" and project.title == "Lab move"
    assert project.draft_version == 2 and tracker.created[0].number == 2
    assert await world.projects.get("ana", "c1") == project
    assert await world.chat.locked(["c1", "c2"]) == {"c1"}

    events = await turn(world, "add a goal: tea")
    assert [e.kind for e in events] == ["status", "conversation_locked", "error"]
    assert isinstance(events[-1].error, ConversationLocked)
    assert len(await world.chat.messages("ana", "c1")) == 2  # the locked turn stored nothing
    with pytest.raises(ConversationLocked):
        await world.edit.execute(EditDraftRequest("ana", "c1", {"title": "Other"}))
    with pytest.raises(ConversationLocked):
        await world.versions.activate("ana", "c1", 1)
    with pytest.raises(ConversationLocked):
        await world.projects.create("ana", "c1")
    assert len(tracker.created) == 1


async def test_without_a_tracker_a_project_is_not_configured() -> None:
    world = World(None)
    await turn(world, "add a goal: tea")
    with pytest.raises(NotConfigured, match="No project tracker"):
        await world.projects.create("ana", "c1")
    with pytest.raises(NotConfigured):
        await world.projects.get("ana", "c1")
    assert await world.chat.locked(["c1"]) == set()


async def test_a_project_needs_a_draft_and_the_owner() -> None:
    world = World(Tracker())
    with pytest.raises(NotFound, match="no project draft"):
        await world.projects.create("ana", "c1")
    with pytest.raises(NotFound, match="No chat"):
        await world.projects.get("bob", "c1")
    with pytest.raises(NotFound, match="no project yet"):
        await world.projects.get("ana", "c1")
