"""The conversation summary store and the chat search index against real databases: every
test runs on SQLite and on PostgreSQL (`backend` fixture). The index here embeds with the
hashing fake (the real embedder's paraphrase is tested in
tests/e2e/test_conversation_search_api.py)."""

from __future__ import annotations

import inspect
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.chat.history_store import HistoryStore
from services.conversations.search_index import SqlChatSearchIndex
from services.conversations.summary_store import SqlSummaryStore
from tests.fakes.conversations import InMemorySummaryStore
from tests.fakes.knowledge import HashingEmbedder
from tests.store_backends import AppDb, open_app_db
from use_cases.chat.domain import NewMessage
from use_cases.conversations.search_ports import (
    ChatSearchIndex,
    ChatSearchQuery,
    ConversationSummary,
    SummaryStore,
)

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def app_db(backend: str, tmp_path, request: pytest.FixtureRequest):
    yield from open_app_db(backend, tmp_path, request)


@pytest.fixture
def history(app_db: AppDb):
    store = app_db.open(HistoryStore)
    for user in ("ana", "bob"):
        store.ensure_user(user)
    yield store
    store.close()


@pytest.fixture
def summaries(app_db: AppDb, history: HistoryStore):
    store = app_db.open(SqlSummaryStore)
    yield store
    store.close()


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(dimension=64)


@pytest.fixture
def index(app_db: AppDb, summaries: SqlSummaryStore, embedder: HashingEmbedder):
    built = app_db.open(lambda target: SqlChatSearchIndex(target, embedder))
    yield built
    built.close()


def chat(history: HistoryStore, chat_id: str, user: str, *texts: str) -> list[str]:
    history.get_or_create_chat(chat_id, user, texts[0] if texts else chat_id)
    return [
        history.append_message(
            chat_id, NewMessage(role="user" if n % 2 == 0 else "assistant", content=text)
        ).id
        for n, text in enumerate(texts)
    ]


def summary(chat_id: str, text: str, **changes: Any) -> ConversationSummary:
    values: dict[str, Any] = {
        "chat_id": chat_id,
        "text": text,
        "model": "offline-extractive",
        "edited": False,
        "message_count": 1,
        "last_message_id": None,
        "created_at": T0,
        "updated_at": T0,
    }
    return ConversationSummary(**{**values, **changes})


@pytest.mark.parametrize(
    ("adapter", "port"),
    [
        (SqlSummaryStore, SummaryStore),
        (InMemorySummaryStore, SummaryStore),
        (SqlChatSearchIndex, ChatSearchIndex),
    ],
)
def test_adapters_offer_every_port_method_with_the_same_signature(adapter, port) -> None:
    for name, method in inspect.getmembers(port, inspect.isfunction):
        if not name.startswith("_"):
            ours = inspect.signature(getattr(adapter, name))
            assert list(ours.parameters) == list(inspect.signature(method).parameters), name


def test_a_summary_is_saved_replaced_edited_and_goes_with_its_chat(
    history: HistoryStore, summaries: SqlSummaryStore
) -> None:
    ids = chat(history, "c1", "ana", "How do I book the offsite?")
    assert summaries.get("c1") is None and summaries.get("bad id!") is None
    first = summaries.save(summary("c1", "Booking.", last_message_id=ids[0]))
    assert first == summary("c1", "Booking.", last_message_id=ids[0])

    later = T0 + timedelta(hours=1)
    again = summaries.save(
        summary("c1", "Booking, again.", message_count=2, created_at=later, updated_at=later)
    )
    assert (again.text, again.message_count, again.created_at, again.updated_at) == (
        "Booking, again.",
        2,
        T0,  # the first creation is kept
        later,
    )
    edited = summaries.edit("c1", "By hand.", later + timedelta(minutes=1))
    assert edited is not None and edited.edited and edited.text == "By hand."
    assert summaries.edit("c2", "No such.", later) is None

    history.delete_chat("c1")
    assert summaries.get("c1") is None


def test_search_finds_titles_summaries_and_messages_of_the_users_chats_only(
    history: HistoryStore, summaries: SqlSummaryStore, index: SqlChatSearchIndex
) -> None:
    ids = chat(history, "a1", "ana", "Kiosk rollout", "The kiosk rollout starts in May.")
    chat(history, "a2", "ana", "Printer toner")
    summaries.save(summary("a2", "Ordering toner for the kiosk printers."))
    chat(history, "b1", "bob", "Kiosk rollout", "The kiosk rollout starts in May.")
    history.get_or_create_chat("a3", "ana", "Empty kiosk chat")

    hits = index.search(ChatSearchQuery("ana", "kiosk rollout"))
    assert {h.chat_id for h in hits} == {"a1", "a2", "a3"}  # never bob's b1
    first = hits[0]
    assert first.chat_id == "a1" and first.matched in ("title", "message")
    by_chat = {h.chat_id: h for h in hits}
    assert by_chat["a3"].status == "empty" and by_chat["a1"].status == "complete"
    toner = index.search(ChatSearchQuery("ana", "toner ordering"))
    assert (toner[0].chat_id, toner[0].matched) == ("a2", "summary")
    message = index.search(ChatSearchQuery("ana", "starts in May"))[0]
    assert (message.matched, message.message_id) == ("message", ids[1])

    assert [h.chat_id for h in index.search(ChatSearchQuery("ana", "kiosk", "empty"))] == ["a3"]
    assert index.search(ChatSearchQuery("nobody", "kiosk")) == []


def test_vectors_are_made_lazily_in_bounded_batches_and_follow_the_text(
    app_db: AppDb, history: HistoryStore, summaries: SqlSummaryStore, embedder: HashingEmbedder
) -> None:
    index = app_db.open(lambda target: SqlChatSearchIndex(target, embedder, embed_batch=3))
    ids = chat(history, "v1", "ana", "one", "two", "three", "four")  # 5 items, 3 per search
    count = "SELECT count(*) FROM conversation_search_vectors"
    assert app_db.raw(count) == [(0,)]
    index.search(ChatSearchQuery("ana", "three"))
    assert app_db.raw(count) == [(3,)]
    index.search(ChatSearchQuery("ana", "three"))
    assert app_db.raw(count) == [(5,)]
    calls = embedder.calls
    index.search(ChatSearchQuery("ana", "three"))
    assert embedder.calls == calls + 1  # the query only: every item has its vector

    history.delete_messages("v1", [ids[2]])  # a message gone (Retry): its vector goes too
    index.search(ChatSearchQuery("ana", "three"))
    keys = {row[0] for row in app_db.raw("SELECT item_key FROM conversation_search_vectors")}
    assert f"m:{ids[2]}" not in keys and f"m:{ids[1]}" in keys
    history.delete_chat("v1")
    assert app_db.raw(count) == [(0,)]
    index.close()


def test_a_withheld_answer_and_its_chats_summary_are_neither_matched_nor_dropped(
    app_db: AppDb, history: HistoryStore, summaries: SqlSummaryStore, index: SqlChatSearchIndex
) -> None:
    """An answer withheld from its reader (`use_cases/chat/withholding.py`) is left out of
    both legs before ranking, with the summary of its chat: its chat is found by what else
    it holds, never by the hidden text, and its vector waits for a later grant."""
    ids = chat(history, "w1", "ana", "Salary question", "The lumenvault band is 91,000 euros.")
    summaries.save(summary("w1", "Ana learnt the lumenvault band."))
    chat(history, "w2", "ana", "Lumenvault naming", "Nothing secret here.")
    hidden = ChatSearchQuery(
        "ana", "lumenvault band", withheld=frozenset({ids[1]}), withheld_summaries=frozenset({"w1"})
    )
    shown = index.search(ChatSearchQuery("ana", "lumenvault band"))
    assert {h.chat_id for h in shown} == {"w1", "w2"}
    assert any("lumenvault" in h.text for h in shown if h.chat_id == "w1")

    hits = index.search(hidden)
    assert [h.chat_id for h in hits] == ["w2"]  # w1's title holds no searched word
    salary = index.search(replace(hidden, text="salary"))
    assert [(h.chat_id, h.matched, h.text) for h in salary] == [("w1", "title", "Salary question")]
    keys = {row[0] for row in app_db.raw("SELECT item_key FROM conversation_search_vectors")}
    assert {f"m:{ids[1]}", "s:w1"} <= keys  # kept: granted again, it is found as before
