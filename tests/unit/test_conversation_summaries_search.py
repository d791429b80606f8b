"""Map-reduce summarising, the extractive summariser and the chat-search interactor, on fakes
(no database, no model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from services.offline.summary import CentroidSummariser, split_sentences
from tests.conftest import FixedClock
from tests.fakes import FakeModelResolver, InMemoryHistoryStore
from tests.fakes.conversations import FirstSentences, InMemorySummaryStore
from tests.fakes.knowledge import HashingEmbedder
from use_cases.chat.domain import NewMessage
from use_cases.conversations.search import ChatSearchRequest, SearchChats
from use_cases.conversations.search_ports import ChatSearchHit, ChatSearchQuery
from use_cases.conversations.summaries import (
    MAP_INSTRUCTIONS,
    REDUCE_INSTRUCTIONS,
    ManageSummaries,
    chunk_by_tokens,
    estimate_tokens,
    map_reduce,
)
from use_cases.prompts.ports import ResolvedModel
from use_cases.shared.errors import InvalidRequest, NotFound


def test_chunks_keep_the_order_stay_under_the_budget_and_cut_a_long_piece() -> None:
    pieces = ["a" * 30, "b" * 30, "c" * 100, "d" * 10]
    chunks = chunk_by_tokens(pieces, budget=20)  # 80 characters per chunk
    assert all(len(chunk) <= 80 for chunk in chunks)
    assert "".join(chunks).replace("\n", "") == "".join(pieces)
    assert chunks[0] == "a" * 30 + "\n\n" + "b" * 30
    assert estimate_tokens("x" * 400) == 101


async def test_map_reduce_calls_once_per_chunk_then_reduces_until_one_is_left() -> None:
    calls: list[tuple[str, str]] = []

    async def call(instructions: str, text: str) -> str:
        calls.append((instructions, text))
        return f"s{len(calls)}"

    assert await map_reduce(["short"], call, budget=100) == "s1"
    assert calls == [(MAP_INSTRUCTIONS, "short")]

    calls.clear()
    pieces = [f"{n}:" + "x" * 70 for n in range(10)]  # one piece per 20-token chunk
    assert await map_reduce(pieces, call, budget=20) == "s11"
    assert [i for i, _ in calls] == [MAP_INSTRUCTIONS] * 10 + [REDUCE_INSTRUCTIONS]
    assert calls[-1][1] == "\n\n".join(f"s{n}" for n in range(1, 11))


async def test_partial_summaries_larger_than_a_chunk_are_reduced_in_rounds() -> None:
    calls: list[str] = []

    async def call(instructions: str, text: str) -> str:
        calls.append(instructions)
        return "y" * 79  # every partial fills a chunk of its own

    await map_reduce(["x" * 79] * 4, call, budget=20)
    assert calls == [MAP_INSTRUCTIONS] * 4 + [REDUCE_INSTRUCTIONS] * 3  # 4 -> 2 -> 1


def test_the_extractive_summary_keeps_central_sentences_in_order_within_the_cap() -> None:
    texts = [
        "user: How do we book the offsite venue? The venue must be booked early.",
        "assistant: The offsite venue is booked by the office team. Parking is limited. "
        "The venue booking closes in May.",
    ]
    summary = CentroidSummariser(HashingEmbedder(64), pick=3).summarise(texts, max_chars=200)
    picked = split_sentences(summary)
    said = [s for t in texts for s in split_sentences(t.split(": ", 1)[1])]
    assert len(picked) == 3 and len(summary) <= 200
    assert picked == [s for s in said if s in picked]  # the conversation's order
    assert "Parking is limited." not in picked  # the sentence least like the rest
    assert CentroidSummariser(HashingEmbedder()).summarise(["user: Hi."], max_chars=50) == "Hi."


class FakeIndex:
    def __init__(self, hits: list[ChatSearchHit]) -> None:
        self.hits = hits
        self.queries: list[ChatSearchQuery] = []

    def search(self, query: ChatSearchQuery) -> list[ChatSearchHit]:
        self.queries.append(query)
        return list(self.hits)

    def close(self) -> None:
        pass


def hit(chat_id: str, title: str, score: float, age_days: int) -> ChatSearchHit:
    when = datetime(2026, 3, 1, tzinfo=UTC) - timedelta(days=age_days)
    return ChatSearchHit(
        chat_id, title, "message", f"About {title} and more.", "m", score, "complete", when, when
    )


HITS = [hit("a", "Beta", 0.03, 2), hit("b", "alpha", 0.02, 0), hit("c", "Gamma", 0.01, 1)]


@pytest.mark.parametrize(
    ("sort_by", "sort_dir", "expected"),
    [
        ("relevance", None, ["a", "b", "c"]),
        ("relevance", "asc", ["c", "b", "a"]),
        ("updated_at", None, ["b", "c", "a"]),
        ("created_at", "asc", ["a", "c", "b"]),
        ("title", None, ["b", "a", "c"]),
        ("title", "desc", ["c", "a", "b"]),
    ],
)
async def test_hits_are_sorted_as_asked(sort_by: str, sort_dir: str | None, expected) -> None:
    page = await SearchChats(FakeIndex(HITS)).execute(
        ChatSearchRequest("ana", "alpha", sort_by=sort_by, sort_dir=sort_dir)  # type: ignore[arg-type]  # sort keys as a request sends them
    )
    assert [f.hit.chat_id for f in page.hits] == expected


async def test_a_page_is_cut_after_sorting_and_counts_every_hit() -> None:
    index = FakeIndex(HITS)
    page = await SearchChats(index).execute(
        ChatSearchRequest("ana", "  about   gamma ", status="complete", limit=1, offset=2)
    )
    assert (page.total, page.query, [f.hit.chat_id for f in page.hits]) == (3, "about gamma", ["c"])
    assert page.hits[0].snippet == "About Gamma and more."
    assert index.queries == [ChatSearchQuery("ana", "about gamma", "complete")]


@pytest.mark.parametrize(
    "request_",
    [
        ChatSearchRequest("ana", "   "),
        ChatSearchRequest("ana", "x" * 1001),
        ChatSearchRequest("ana", "x", status="lost"),
        ChatSearchRequest("ana", "x", limit=0),
        ChatSearchRequest("ana", "x", limit=51),
        ChatSearchRequest("ana", "x", offset=501),
    ],
)
async def test_bad_requests_are_refused_before_searching(request_: ChatSearchRequest) -> None:
    index = FakeIndex(HITS)
    with pytest.raises(InvalidRequest):
        await SearchChats(index).execute(request_)
    assert index.queries == []


# --- ManageSummaries on fakes ------------------------------------------------------------


class FunctionModels(FakeModelResolver):
    """Allowed test models answer with `model` (a FunctionModel counting its calls)."""

    def __init__(self, model: FunctionModel) -> None:
        super().__init__()
        self.model = model

    def resolve(self, requested: str | None) -> ResolvedModel:
        resolved = super().resolve(requested)
        if resolved.identifier == "offline-extractive":
            return resolved
        return ResolvedModel(resolved.identifier, self.model)


@pytest.fixture
def world() -> tuple[InMemoryHistoryStore, InMemorySummaryStore, list[int]]:
    history = InMemoryHistoryStore()
    history.ensure_user("ana")
    history.get_or_create_chat("c1", "ana", "Offsite")
    history.append_message("c1", NewMessage(role="user", content="Where is the offsite?"))
    history.append_message("c1", NewMessage(role="assistant", content="In Lisbon.", model="test:a"))
    return history, InMemorySummaryStore(), []


def summaries(world) -> ManageSummaries:
    history, store, calls = world

    def reply(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls.append(1)
        return ModelResponse(parts=[TextPart(f"Summary {len(calls)}.")])

    return ManageSummaries(
        history,
        store,
        FunctionModels(FunctionModel(reply)),
        FirstSentences(),
        FixedClock(),
        offline_identifier="offline-extractive",
        chunk_tokens=1000,
        max_chars=500,
        timeout_s=10,
    )


async def test_a_summary_is_made_by_the_chats_last_model_then_edited_and_goes_stale(world) -> None:
    history, _, calls = world
    use_case = summaries(world)
    with pytest.raises(NotFound):
        await use_case.get("ana", "c1")
    made = await use_case.regenerate("ana", "c1")
    assert (made.text, made.model, made.message_count, calls) == ("Summary 1.", "test:a", 2, [1])
    edited = await use_case.edit("ana", "c1", "  By hand.  ")
    assert (edited.text, edited.edited, edited.stale) == ("By hand.", True, False)
    history.append_message("c1", NewMessage(role="user", content="And when?"))
    assert (await use_case.get("ana", "c1")).stale is True
    offline = await use_case.summarise("c1", "offline-extractive")
    assert (offline.text, offline.model, offline.edited) == (
        "Where is the offsite?",
        "offline-extractive",
        False,
    )
    assert offline.created_at == made.created_at


async def test_another_users_chat_is_not_found_and_bad_edits_are_refused(world) -> None:
    history, store, calls = world
    use_case = summaries(world)
    history.ensure_user("bob")
    for attempt in (
        use_case.get("bob", "c1"),
        use_case.regenerate("bob", "c1"),
        use_case.edit("bob", "c1", "mine"),
    ):
        with pytest.raises(NotFound, match="No chat with id c1"):
            await attempt
    with pytest.raises(InvalidRequest):
        await use_case.edit("ana", "c1", "   ")
    with pytest.raises(InvalidRequest):
        await use_case.regenerate("ana", "c1", "openai:gpt-9")  # not an allowed model
    assert store.rows == {} and calls == []
