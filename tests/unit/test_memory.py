"""Semantic memory (the conversation backend's Mem0) on its fake: a recall keeps the memories
at or above the score threshold, best first; without a service it is 501 `not_configured`;
drafting a project hands the recalled memories to the model as context, and without a service drafts
as before."""

from __future__ import annotations

import json

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from backend.config import ProjectDraftSettings
from services.conversations.draft_offline import build_offline_draft_model
from tests.fakes.memory import FakeMemorySearch
from tests.fakes.project_drafts import FakeChats, FakeProjectDrafts
from use_cases.chat.agent import AgentLimits
from use_cases.conversations.draft_agent import build_draft_agent
from use_cases.conversations.drafts import DraftProject, DraftRequest, DraftSettings
from use_cases.conversations.memory import Memory, RecallMemories
from use_cases.prompts.ports import ResolvedModel
from use_cases.shared.errors import NotConfigured, UpstreamBadResponse

THRESHOLD = ProjectDraftSettings.model_fields["mem0_score_threshold"].default
MEMORIES = [
    Memory("m1", "Ana prefers milestones on Mondays.", 0.91),
    Memory("m2", "Ana's lab moved once before, in 2024.", 0.38),  # at the threshold: kept
    Memory("m3", "Ana likes green tea.", 0.37),  # below it: dropped
    Memory("m4", "Ana leads the chemistry team.", 0.55),
]


def test_the_default_threshold_is_the_documents() -> None:
    assert THRESHOLD == 0.38


async def test_a_recall_keeps_the_memories_at_or_above_the_threshold_best_first() -> None:
    search = FakeMemorySearch({"ana": MEMORIES})
    recall = RecallMemories(search, threshold=THRESHOLD, limit=5)

    kept = await recall.execute("ana", "  Plan the lab move  ")

    assert [m.id for m in kept] == ["m1", "m4", "m2"]
    assert search.asked == [("ana", "Plan the lab move", 5)]
    assert await recall.execute("ana", "   ") == [] and len(search.asked) == 1
    assert await recall.execute("bob", "Plan the lab move") == []


async def test_without_a_memory_service_a_recall_is_not_configured() -> None:
    recall = RecallMemories(None, threshold=THRESHOLD)
    assert not recall.configured
    with pytest.raises(NotConfigured, match="Mem0"):
        await recall.execute("ana", "Plan the lab move")


class Prompts:
    """The offline draft model, recording the prompt of each drafting run."""

    def __init__(self) -> None:
        self.offline = build_offline_draft_model()
        self.prompts: list[dict] = []

    async def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        for message in messages:
            for part in message.parts if isinstance(message, ModelRequest) else ():
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    self.prompts.append(json.loads(part.content.split("\n", 1)[1]))
        return await self.offline.request(messages, None, info.model_request_parameters)


class Models:
    def __init__(self, model: object) -> None:
        self.model = model

    def resolve(self, requested: str | None) -> ResolvedModel:
        return ResolvedModel("test:drafter", self.model)


def drafting(recorder: Prompts, memories: RecallMemories | None):
    chats, drafts = FakeChats(), FakeProjectDrafts()
    chats.add("c1", "ana", ("user", "Plan the lab move. We need to pack by 2027-05-01."))
    limits = AgentLimits()
    model = FunctionModel(recorder.respond)
    draft = DraftProject(
        chats,  # type: ignore[arg-type]  # a fake of the chat reads drafting makes
        drafts,
        Models(model),
        build_draft_agent(limits),
        limits,
        DraftSettings(),
        memories=memories,
    )
    return draft, drafts


async def test_drafting_gives_the_model_what_is_remembered_about_the_user_as_context() -> None:
    recorder, search = Prompts(), FakeMemorySearch({"ana": MEMORIES})
    draft, _ = drafting(recorder, RecallMemories(search, threshold=THRESHOLD))

    state = await draft.execute(DraftRequest("ana", "c1"))

    assert state.version.number == 1
    [(user, query, _limit)] = search.asked
    assert user == "ana" and "We need to pack" in query
    assert recorder.prompts[0]["remembered_about_the_user"] == [
        "Ana prefers milestones on Mondays.",
        "Ana leads the chemistry team.",
        "Ana's lab moved once before, in 2024.",
    ]


@pytest.mark.parametrize("memories", [None, RecallMemories(None, threshold=THRESHOLD)])
async def test_without_a_memory_service_drafting_reads_the_conversation_alone(
    memories: RecallMemories | None,
) -> None:
    recorder = Prompts()
    draft, _ = drafting(recorder, memories)

    await draft.execute(DraftRequest("ana", "c1"))

    assert "remembered_about_the_user" not in recorder.prompts[0]


async def test_a_failed_recall_writes_no_draft() -> None:
    search = FakeMemorySearch({"ana": MEMORIES})
    search.fail = True
    draft, drafts = drafting(Prompts(), RecallMemories(search, threshold=THRESHOLD))

    with pytest.raises(UpstreamBadResponse):
        await draft.execute(DraftRequest("ana", "c1"))
    assert drafts.get_draft("c1") is None
