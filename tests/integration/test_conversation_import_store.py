"""Imported conversations in the history store, on SQLite and PostgreSQL: one chat with its
messages and original times, found again (not duplicated) per user by source and id, and a
refused conversation writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.chat.history_store import HistoryStore
from tests.store_backends import AppDb, open_app_db
from use_cases.chat.domain import NewMessage
from use_cases.conversations.import_domain import ImportedConversation, ImportedMessage
from use_cases.shared.errors import InvalidRequest

T0 = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)
T1 = datetime(2025, 11, 20, 9, 1, tzinfo=UTC)


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    yield from open_app_db(backend, tmp_path, request)


@pytest.fixture
def store(app_db: AppDb):
    history = app_db.open(HistoryStore)
    yield history
    history.close()


def conversation(external_id: str = "conv-1", text: str = "Hello there") -> ImportedConversation:
    return ImportedConversation(
        source="chatgpt",
        external_id=external_id,
        title="  A   shared\nchat ",
        messages=(
            ImportedMessage("user", text, T0),
            ImportedMessage("assistant", "General Kenobi.", T1),
            ImportedMessage("user", "No time given."),
        ),
        source_url="https://chatgpt.com/share/abc",
        created_at=T0,
    )


def test_an_import_is_one_chat_with_its_messages_and_times(store: HistoryStore) -> None:
    outcome = store.import_conversation("ann", conversation())
    assert outcome.created and outcome.messages == 3
    chat = outcome.chat
    assert (chat.title, chat.source, chat.external_id) == ("A shared chat", "chatgpt", "conv-1")
    assert chat.source_url == "https://chatgpt.com/share/abc"
    assert chat.created_at == T0 and chat.updated_at > T0
    messages = store.list_messages(chat.id)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "Hello there"),
        ("assistant", "General Kenobi."),
        ("user", "No time given."),
    ]
    assert [m.created_at for m in messages] == [T0, T1, T0]
    assert all(m.status == "complete" for m in messages)
    listed = store.list_chats("ann")
    assert listed[0].source == "chatgpt" and listed[0].source_url == chat.source_url


def test_a_second_import_finds_the_chat_and_another_user_gets_their_own(
    store: HistoryStore, app_db: AppDb
) -> None:
    first = store.import_conversation("ann", conversation())
    again = store.import_conversation("ann", conversation(text="Changed since"))
    assert not again.created and again.chat.id == first.chat.id and again.messages == 3
    bobs = store.import_conversation("bob", conversation())
    assert bobs.created and bobs.chat.id != first.chat.id
    assert app_db.raw("SELECT COUNT(*) FROM chats")[0][0] == 2
    assert app_db.raw("SELECT COUNT(*) FROM messages")[0][0] == 6


def test_appending_to_an_imported_chat_continues_its_positions(store: HistoryStore) -> None:
    chat = store.import_conversation("ann", conversation()).chat
    store.append_message(chat.id, NewMessage(role="user", content="And now?"))
    assert [m.content for m in store.list_messages(chat.id)][-1] == "And now?"


def test_a_refused_conversation_writes_nothing(store: HistoryStore, app_db: AppDb) -> None:
    bad = ImportedConversation(
        source="chatgpt",
        external_id="x",
        title="t",
        messages=(ImportedMessage("system", "no"),),  # type: ignore[arg-type]  # a role no import may carry
    )
    with pytest.raises(InvalidRequest):
        store.import_conversation("ann", bad)
    with pytest.raises(InvalidRequest):
        store.import_conversation("not a valid id!", conversation())
    assert app_db.raw("SELECT COUNT(*) FROM chats")[0][0] == 0
    assert app_db.raw("SELECT COUNT(*) FROM messages")[0][0] == 0


def test_a_long_conversation_is_stored_in_batches(store: HistoryStore) -> None:
    many = tuple(
        ImportedMessage("user" if i % 2 == 0 else "assistant", f"message {i}") for i in range(450)
    )
    long = ImportedConversation("claude-export", "long", "Long", many)
    outcome = store.import_conversation("ann", long)
    stored = store.list_messages(outcome.chat.id)
    assert [m.content for m in stored] == [f"message {i}" for i in range(450)]
