"""The attached-file store against real databases (SQLite and PostgreSQL) and its in-memory
fake, the chat-scoped index over it, and the local disk store of the bytes."""

from __future__ import annotations

import inspect
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.chat.history_store import HistoryStore
from services.conversations.file_bytes import LocalFileBytes
from services.conversations.file_search import ChatFileIndex
from services.conversations.file_store import SqlChatFileStore
from tests.fakes.conversation_files import InMemoryChatFileStore, InMemoryFileBytes
from tests.fakes.knowledge import HashingEmbedder
from tests.store_backends import AppDb, open_app_db
from use_cases.conversations.file_ports import ChatFileStore, FileBytes
from use_cases.conversations.files_domain import ChatFile, FileChunk
from use_cases.shared.errors import Conflict

EMBEDDER = HashingEmbedder()
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path):
    """(file store, history store or None, AppDb or None) on one backend, or the fake."""
    if request.param == "memory":
        yield InMemoryChatFileStore(), None, None
        return
    yield from _on_database(request.param, tmp_path, request)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_stores(request: pytest.FixtureRequest, tmp_path: Path):
    """As `stores`, on the databases only (what their constraints decide)."""
    yield from _on_database(request.param, tmp_path, request)


def _on_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    opened = open_app_db(backend, tmp_path, request)
    app_db: AppDb = next(opened)
    history = app_db.open(HistoryStore)  # first: the file tables reference its chats
    files = app_db.open(SqlChatFileStore)
    for chat, user in (("c1", "ana"), ("c2", "ana"), ("b1", "bob")):
        history.get_or_create_chat(chat, user, "hello")
    yield files, history, app_db
    files.close()
    history.close()
    opened.close()


def a_file(n: int, chat: str = "c1", sha: str | None = None) -> ChatFile:
    return ChatFile(
        id=f"{n:032x}",
        chat_id=chat,
        user_id="bob" if chat == "b1" else "ana",
        name=f"notes-{n}.md",
        media_type="text/markdown",
        size_bytes=10 * n,
        sha256=sha or f"{n:064x}",
        chunk_count=2,
        created_at=T0 + timedelta(seconds=n),
    )


def chunks_of(*texts: str) -> tuple[list[FileChunk], list]:
    chunks = [FileChunk(0, ("Notes", "Part"), " ".join(texts), t) for t in texts]
    return chunks, EMBEDDER.embed_documents(texts)


@pytest.mark.parametrize("adapter", [SqlChatFileStore, InMemoryChatFileStore])
def test_the_store_and_its_fake_offer_every_port_method(adapter: type) -> None:
    for name, method in inspect.getmembers(ChatFileStore, inspect.isfunction):
        if not name.startswith("_"):
            assert list(inspect.signature(getattr(adapter, name)).parameters) == list(
                inspect.signature(method).parameters
            ), name


@pytest.mark.parametrize("adapter", [LocalFileBytes, InMemoryFileBytes])
def test_the_disk_and_its_fake_offer_every_port_method(adapter: type) -> None:
    for name, method in inspect.getmembers(FileBytes, inspect.isfunction):
        if not name.startswith("_"):
            assert list(inspect.signature(getattr(adapter, name)).parameters) == list(
                inspect.signature(method).parameters
            ), name


def test_files_are_read_back_per_chat_and_the_same_bytes_are_refused_in_one_chat(stores) -> None:
    store, _, _ = stores
    store.add(a_file(2), *chunks_of("beehives on the roof", "honey in September"))
    store.add(a_file(1), *chunks_of("one"))
    store.add(a_file(3, "c2", sha=f"{2:064x}"), *chunks_of("copy"))  # same bytes, other chat

    assert store.get("c1", f"{2:032x}") == a_file(2)
    assert [f.id for f in store.list("c1")] == [f"{1:032x}", f"{2:032x}"]  # oldest first
    assert store.find_by_hash("c1", f"{2:064x}") == a_file(2)
    assert store.get("c2", f"{2:032x}") is None  # another chat's file is absent
    assert store.get("c1", "../../app.db") is None
    with pytest.raises(Conflict):
        store.add(a_file(9, sha=f"{2:064x}"), *chunks_of("again"))
    assert len(store.list("c1")) == 2


def test_an_images_description_or_why_it_has_none_is_read_back(stores) -> None:
    store, _, _ = stores
    described = replace(
        a_file(4),
        name="roof.png",
        media_type="image/png",
        chunk_count=1,
        description="A photo of two beehives on a flat roof.",
    )
    undescribed = replace(
        a_file(5),
        name="plan.gif",
        media_type="image/gif",
        chunk_count=0,
        description_note="No vision-capable model answers this chat (VISION_MODELS).",
    )
    store.add(described, *chunks_of("A photo of two beehives on a flat roof."))
    store.add(undescribed, [], [])

    assert store.get("c1", described.id) == described
    assert store.list("c1") == [described, undescribed]
    assert store.find(undescribed.id) == undescribed and undescribed.description is None


def test_deleting_a_file_or_a_chats_files_deletes_their_chunks(stores) -> None:
    store, _, app_db = stores
    store.add(a_file(1), *chunks_of("a", "b"))
    store.add(a_file(2), *chunks_of("c"))
    store.add(a_file(3, "c2"), *chunks_of("d"))

    assert store.delete("c2", f"{1:032x}") is False  # not that chat's
    assert store.delete("c1", f"{1:032x}") is True
    assert store.delete("c1", f"{1:032x}") is False
    assert [f.id for f in store.list("c1")] == [f"{2:032x}"]
    assert store.delete_chat("c1") == 1
    assert store.list("c1") == [] and [f.id for f in store.list("c2")] == [f"{3:032x}"]
    if app_db is not None:
        assert app_db.raw("SELECT chat_id FROM chat_file_chunks") == [("c2",)]


def test_deleting_the_chat_deletes_its_files_rows(db_stores) -> None:
    store, history, app_db = db_stores
    store.add(a_file(1), *chunks_of("a", "b"))
    store.add(a_file(2, "c2"), *chunks_of("c"))
    assert history.delete_chat("c1")
    assert store.list("c1") == []
    assert app_db.raw("SELECT count(*) FROM chat_file_chunks") == [(1,)]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_index_finds_a_chats_passages_and_never_another_chats(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    opened = open_app_db(backend, tmp_path, request)
    app_db = next(opened)
    history = app_db.open(HistoryStore)
    store = app_db.open(SqlChatFileStore)
    try:
        for chat, user in (("c1", "ana"), ("c2", "ana"), ("b1", "bob")):
            history.get_or_create_chat(chat, user, "hello")
        store.add(
            a_file(1),
            *chunks_of("The rooftop beehives are inspected on Thursday", "Lunch is at noon"),
        )
        store.add(a_file(2, "b1"), *chunks_of("Bob's beehives are inspected on Monday"))
        index = ChatFileIndex(store, EMBEDDER)

        hits = index.search("c1", "When are the beehives inspected?", 5)
        assert hits[0].chunk_text == "The rooftop beehives are inspected on Thursday"
        assert hits[0].source == "attachment:notes-1.md" and hits[0].attachment == f"{1:032x}"
        assert hits[0].scores.bm25_rank == 1 and hits[0].document_id == 0
        assert all("Bob" not in h.section_text for h in hits)
        assert index.search("c2", "beehives inspected", 5) == []
        assert [h.attachment for h in index.search("b1", "beehives", 5)] == [f"{2:032x}"]
    finally:
        store.close()
        history.close()
        opened.close()


def test_bytes_are_written_whole_under_the_chat_and_ids_never_leave_it(tmp_path: Path) -> None:
    disk = LocalFileBytes(tmp_path / "files")
    disk.put("c1", "a" * 32, b"hello")
    disk.put("c1", "a" * 32, b"hello again")  # replaced whole
    assert disk.get("c1", "a" * 32) == b"hello again"
    assert [p.name for p in (tmp_path / "files" / "c1").iterdir()] == ["a" * 32]  # no temp left
    for chat, file_id in (("..", "a" * 32), ("c1", "../../x"), ("c1/..", "a" * 32), ("c1", "")):
        with pytest.raises(ValueError):
            disk.put(chat, file_id, b"x")
    disk.delete("c1", "b" * 32)  # nothing to delete
    disk.delete_chat("c1")
    assert not (tmp_path / "files" / "c1").exists()


def test_two_writers_adding_the_same_bytes_at_once_store_one_file(db_stores) -> None:
    store, _, app_db = db_stores
    apart = app_db.open_apart(SqlChatFileStore)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def add(target: SqlChatFileStore, n: int) -> None:
        barrier.wait()
        try:
            target.add(a_file(n, sha="f" * 64), *chunks_of(f"copy {n}"))
            outcomes.append("stored")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=add, args=(s, n)) for n, s in ((1, store), (2, apart))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    apart.close()
    assert sorted(outcomes) == ["conflict", "stored"]
    assert len(store.list("c1")) == 1
    assert app_db.raw("SELECT count(*) FROM chat_file_chunks") == [(1,)]
