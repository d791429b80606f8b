"""The agent's search tool takes filters (docs/collections.md), on SQLite and PostgreSQL: a
chat turn whose model (a PydanticAI `FunctionModel`) calls `search_knowledge_base` with
`collection`, `source_prefix`, `updated_after`/`updated_before` or `meta` searches only what
those filters keep, within what the turn's reader may read and the request's own filters.

The leak angle: the tool naming the other team's collection, with a query matching its
secret, finds nothing; the same call naming the reader's own collection finds its secret (so
the test can fail). A malformed filter goes back to the model as a retry, nothing searched.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from services.knowledge.collection_store import SqlCollectionStore
from tests.fakes import FakeModelResolver, InMemoryHistoryStore, SteppingClock, streamed
from tests.integration.test_retrieval import EMBEDDER
from tests.knowledge_backends import AnyRetriever, make_retriever, open_store
from tests.unit.test_advice_use_case import logged_responses
from use_cases.access.domain import Caller
from use_cases.advice.agent import ADVICE_TOOL, ADVICE_TURN, AdviceDeps
from use_cases.advice.domain import AdviceRequest
from use_cases.advice.give_advice import GiveAdvice
from use_cases.chat.agent import CHAT_TURN, AgentLimits, build_agent
from use_cases.chat.chat_turns import ChatRequest, ChatTurns
from use_cases.chat.domain import ConversationMessage
from use_cases.chat.prompts import NOT_FOUND_ANSWER, SEARCH_TOOL
from use_cases.chat.tools import AgentDeps
from use_cases.knowledge.collections import Grant, ResolveReadScope
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, SectionDraft
from use_cases.knowledge.scope import DocumentFilter
from use_cases.prompts.ports import ResolvedModel

pytest_plugins = ["tests.postgres"]

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HR_SECRET = "lumenvault"
ENG_SECRET = "ortholattice"
ANA = Caller("ana", "user", "key-ana")
ROOT = Caller("root", "admin", "key-root")
NOTHING = "No relevant passages found in the knowledge base."

#: (source, text, collection, category, updated_at, metadata)
DOCUMENTS: list[tuple[str, str, str | None, str, date, dict[str, str]]] = [
    (
        "hr/salary-bands.md",
        f"The salary band for level five is the {HR_SECRET} band of 91,000 euros.",
        "hr",
        "pay",
        date(2025, 3, 1),
        {"owner": "people-team"},
    ),
    (
        "eng/release-train.md",
        f"Production deploys run through the {ENG_SECRET} stage of the release pipeline.",
        "eng",
        "pay",
        date(2025, 3, 1),
        {"owner": "platform"},
    ),
    (
        "handbook/leave.md",
        "Annual leave: the salary band does not change the 25 days of leave; deploys neither.",
        None,
        "policies",
        date(2024, 6, 1),
        {"owner": "people-team"},
    ),
    (
        "handbook/travel.md",
        "Travel on the release pipeline days is booked through the travel desk, any band.",
        None,
        "policies",
        date(2025, 9, 1),
        {"owner": "office"},
    ),
]


@dataclass
class Rig:
    retriever: AnyRetriever
    readers: ResolveReadScope


@pytest.fixture(params=["sqlite", "postgresql"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    backend = request.param
    with open_store(backend, tmp_path, request) as store:
        target = store.db if backend == "postgresql" else tmp_path / "knowledge.db"  # type: ignore[union-attr]  # a PG store has .db
        store.check_embedding(EmbeddingInfo(EMBEDDER.model, EMBEDDER.dimension))
        collections = SqlCollectionStore(target)
        ids = {name: collections.create_collection(name, "", NOW).id for name in ("hr", "eng")}
        collections.add_grant(ids["hr"], Grant("user", "ana"), NOW)
        for source, text, collection, category, updated, metadata in DOCUMENTS:
            draft = DocumentDraft(
                source=source,
                content_hash=source,
                title=source,
                category=category,
                updated_at=updated,
                media_type="text/markdown",
                size_bytes=len(text),
                sections=(SectionDraft((source,), text, (text,)),),
                metadata=metadata,
                collection_id=ids[collection] if collection else None,
            )
            store.save_document(draft, EMBEDDER.embed_documents([text]))
        retriever = make_retriever(store, EMBEDDER)
        try:
            yield Rig(retriever, ResolveReadScope(collections))
        finally:
            retriever.close()
            collections.close()


class Models(FakeModelResolver):
    def __init__(self, model: FunctionModel) -> None:
        super().__init__()
        self.model = model

    def resolve(self, requested: str | None) -> ResolvedModel:
        return ResolvedModel(super().resolve(requested).identifier, self.model)


@dataclass
class Seen:
    """What the search tool answered the model, and the schema it was offered."""

    results: list[str]
    retries: list[str]
    schema: dict[str, Any]


async def _turn(
    rig: Rig, args: dict[str, Any], reader: Caller = ANA, filters: DocumentFilter | None = None
) -> Seen:
    """One chat turn whose model makes one search tool call with `args`, then answers."""
    seen = Seen([], [], {})

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        [tool] = [t for t in info.function_tools if t.name == SEARCH_TOOL]
        seen.schema = tool.parameters_json_schema
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        for part in last.parts:
            if isinstance(part, ToolReturnPart):
                kept = seen.retries if part.retry else seen.results
                kept.append(str(part.content))
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart(SEARCH_TOOL, args, "call-1")])
        return ModelResponse(parts=[TextPart("Done.")])

    clock = SteppingClock()
    limits = AgentLimits()
    turns = ChatTurns(
        build_agent(CHAT_TURN, limits=limits),
        InMemoryHistoryStore(),
        Models(FunctionModel(respond, stream_function=streamed(respond))),
        lambda: AgentDeps(retriever=rig.retriever, sql=None, clock=clock),
        clock,
        limits,
        readers=rig.readers,
    )
    await turns.execute(ChatRequest(reader.user_id, "Look it up.", reader=reader, filters=filters))
    return seen


def _found(seen: Seen) -> str:
    [result] = seen.results
    return result


async def test_the_tool_naming_the_other_teams_collection_finds_nothing(rig: Rig) -> None:
    seen = await _turn(rig, {"query": f"{ENG_SECRET} release pipeline", "collection": "eng"})
    assert _found(seen) == NOTHING
    widened = await _turn(rig, {"query": f"{ENG_SECRET} deploys", "collection": "default"})
    assert ENG_SECRET not in _found(widened)
    unknown = await _turn(rig, {"query": f"{ENG_SECRET} release", "collection": "no-such"})
    assert _found(unknown) == NOTHING


async def test_the_tool_naming_the_readers_own_collection_finds_only_it(rig: Rig) -> None:
    seen = await _turn(rig, {"query": "salary band release pipeline", "collection": "hr"})
    found = _found(seen)
    assert HR_SECRET in found
    assert "handbook/" not in found and ENG_SECRET not in found


async def test_an_admins_tool_call_narrows_to_the_named_collection(rig: Rig) -> None:
    seen = await _turn(rig, {"query": "salary band release pipeline", "collection": "eng"}, ROOT)
    found = _found(seen)
    assert ENG_SECRET in found
    assert HR_SECRET not in found and "handbook/" not in found


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        ({"meta": {"owner": "people-team"}}, {"hr/salary-bands.md", "handbook/leave.md"}),
        ({"meta": {"no-such-key": "x"}}, set()),
        ({"source_prefix": "handbook/"}, {"handbook/leave.md", "handbook/travel.md"}),
        (
            {"updated_after": "2025-01-01", "updated_before": "2025-06-30"},
            {"hr/salary-bands.md"},
        ),
        ({"category": "policies", "updated_after": "2025-01-01"}, {"handbook/travel.md"}),
    ],
)
async def test_each_filter_narrows_what_the_tool_finds(
    rig: Rig, filters: dict[str, Any], kept: set[str]
) -> None:
    seen = await _turn(rig, {"query": "salary band release pipeline leave travel", **filters})
    found = _found(seen)
    everything = {source for source, *_ in DOCUMENTS}
    assert {s for s in everything if f"source: {s}" in found} == kept


async def test_the_tools_filters_narrow_the_requests_filters_and_never_replace_them(
    rig: Rig,
) -> None:
    query = {"query": "salary band release pipeline leave travel"}
    only_hr = DocumentFilter(collection="hr")
    clash = await _turn(rig, {**query, "collection": "default"}, filters=only_hr)
    assert _found(clash) == NOTHING
    other_category = await _turn(
        rig, {**query, "category": "policies"}, filters=DocumentFilter(category="pay")
    )
    assert _found(other_category) == NOTHING
    both = await _turn(
        rig, {**query, "meta": {"owner": "people-team"}}, filters=DocumentFilter(category="pay")
    )
    assert "source: hr/salary-bands.md" in _found(both)
    assert "handbook/" not in _found(both)


async def test_a_malformed_filter_is_sent_back_to_the_model(rig: Rig) -> None:
    backwards = {"query": "leave", "updated_after": "2025-06-01", "updated_before": "2025-01-01"}
    seen = await _turn(rig, backwards)
    assert not seen.results
    assert any("updated_after is later than updated_before" in r for r in seen.retries)
    bad_key = await _turn(rig, {"query": "leave", "meta": {"owner; DROP": "x"}})
    assert not bad_key.results
    assert any("is not a metadata key" in r for r in bad_key.retries)


async def test_the_model_is_told_each_filter(rig: Rig) -> None:
    seen = await _turn(rig, {"query": "leave"})
    properties = seen.schema["properties"]
    for name in ("collection", "category", "source_prefix", "updated_after", "updated_before"):
        assert properties[name].get("description"), name
    assert "meta" in properties and "people-team" in properties["meta"]["description"]
    assert seen.schema["required"] == ["query"]


@pytest.mark.parametrize(("collection", "secret"), [("eng", None), ("hr", HR_SECRET)])
async def test_an_advice_turns_search_tool_takes_the_same_filters(
    rig: Rig, collection: str, secret: str | None
) -> None:
    searched: list[str] = []

    async def respond(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[DeltaToolCalls]:
        returns = [
            str(part.content)
            for message in messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, ToolReturnPart) and part.tool_name == SEARCH_TOOL
        ]
        if not returns:
            args = {"query": f"{ENG_SECRET} {HR_SECRET} salary deploys", "collection": collection}
            yield {0: DeltaToolCall(SEARCH_TOOL, json.dumps(args), tool_call_id="s")}
            return
        searched.extend(returns)
        draft = {"main_advice": NOT_FOUND_ANSWER, "reasoning": ""}
        yield {0: DeltaToolCall(ADVICE_TOOL, json.dumps(draft), tool_call_id="out")}

    advice = GiveAdvice(
        build_agent(ADVICE_TURN, limits=AgentLimits()),
        Models(FunctionModel(stream_function=respond)),
        lambda: AdviceDeps(retriever=rig.retriever, sql=None, clock=SteppingClock()),
        SteppingClock(),
        AgentLimits(),
        responses=logged_responses(),
        readers=rig.readers,
    )
    await advice.execute(
        AdviceRequest(
            "ana", (ConversationMessage("user", "Which band and which stage?"),), reader=ANA
        )
    )
    [found] = searched
    assert ENG_SECRET not in found
    if secret is None:
        assert found == NOTHING
    else:
        assert secret in found
