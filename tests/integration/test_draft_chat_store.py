"""The draft-chat store (stored turns and the tracked project) against real databases: every
test runs on SQLite and on PostgreSQL (`backend` fixture)."""

from __future__ import annotations

import inspect
import threading
from datetime import UTC, datetime

import pytest

from services.chat.history_store import HistoryStore
from services.conversations.draft_chat_store import DraftChats
from tests.fakes.project_drafts import FakeDraftChats
from tests.store_backends import AppDb, open_app_db
from use_cases.conversations.draft_domain import NewDraftChatMessage, TrackedProject
from use_cases.conversations.draft_ports import DraftChatStore
from use_cases.shared.errors import Conflict, InvalidRequest

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture
def app_db(backend: str, tmp_path, request: pytest.FixtureRequest):
    yield from open_app_db(backend, tmp_path, request)


@pytest.fixture
def history(app_db: AppDb):
    store = app_db.open(HistoryStore)  # the chats the turns and projects belong to
    yield store
    store.close()


@pytest.fixture
def store(app_db: AppDb, history: HistoryStore):
    chats = app_db.open(DraftChats)
    yield chats
    chats.close()


def a_chat(history: HistoryStore) -> str:
    history.ensure_user("ana")
    return history.get_or_create_chat(None, "ana", "Plan the lab move").id


def exchange(n: int) -> list[NewDraftChatMessage]:
    return [
        NewDraftChatMessage("user", f"request {n}", "ana"),
        NewDraftChatMessage("assistant", f"reply {n}", "ana", "offline-extractive"),
    ]


def project(chat_id: str, tracker_id: str = "proj-1") -> TrackedProject:
    return TrackedProject(chat_id, tracker_id, "https://t.test/p", "Move", "", 2, "ana", AT)


@pytest.mark.parametrize("implementation", [DraftChats, FakeDraftChats])
def test_store_and_fake_offer_every_port_method_with_the_same_signature(
    implementation: type,
) -> None:
    for name, method in inspect.getmembers(DraftChatStore, inspect.isfunction):
        if not name.startswith("_"):
            ours = inspect.signature(getattr(implementation, name))
            assert list(ours.parameters) == list(inspect.signature(method).parameters), name


def test_turns_are_numbered_in_order_and_read_back(
    store: DraftChatStore, history: HistoryStore
) -> None:
    chat = a_chat(history)
    assert store.list_messages(chat) == []
    first = store.add_messages(chat, exchange(1))
    second = store.add_messages(chat, exchange(2))
    assert [m.seq for m in first + second] == [1, 2, 3, 4]
    stored = store.list_messages(chat)
    assert [(m.seq, m.role, m.content) for m in stored] == [
        (1, "user", "request 1"),
        (2, "assistant", "reply 1"),
        (3, "user", "request 2"),
        (4, "assistant", "reply 2"),
    ]
    assert stored[1].model == "offline-extractive" and stored[0].model is None
    assert stored[0].sent_by == "ana"
    assert store.list_messages("not a valid id!") == []
    with pytest.raises(InvalidRequest, match="NUL"):
        store.add_messages(chat, [NewDraftChatMessage("user", "a\x00b", "ana")])


def test_concurrent_turns_never_share_a_number(
    app_db: AppDb, store: DraftChatStore, history: HistoryStore
) -> None:
    chat = a_chat(history)
    others = [app_db.open_apart(DraftChats) for _ in range(4)]
    errors: list[BaseException] = []

    def write(other: DraftChats, n: int) -> None:
        try:
            for i in range(5):
                other.add_messages(chat, exchange(n * 10 + i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(o, n)) for n, o in enumerate(others)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.close()
    assert errors == []
    assert [m.seq for m in store.list_messages(chat)] == list(range(1, 41))


def test_a_conversation_has_one_project(store: DraftChatStore, history: HistoryStore) -> None:
    chat = a_chat(history)
    assert store.get_project(chat) is None
    added = store.add_project(project(chat))
    assert store.get_project(chat) == added
    with pytest.raises(Conflict, match="has a project already"):
        store.add_project(project(chat, "proj-2"))
    assert store.get_project(chat) == added


def test_deleting_the_chat_deletes_its_turns_and_project(
    store: DraftChatStore, history: HistoryStore
) -> None:
    chat = a_chat(history)
    store.add_messages(chat, exchange(1))
    store.add_project(project(chat))
    history.delete_chat(chat)
    assert store.list_messages(chat) == [] and store.get_project(chat) is None
