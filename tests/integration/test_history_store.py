"""The history stores against real databases: rules users notice, and concurrent writers.

Backend contract: every test taking `store` or `app_db` runs on SQLite and on PostgreSQL
(`backend` fixture). SQLite-only: the file's WAL journal mode and the four-processes-on-one-
file test (PostgreSQL's cross-connection case is the eight-threads test, whose threads use
separate pooled connections)."""

from __future__ import annotations

import inspect
import multiprocessing
import threading
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import sqlean as sqlite3

from services.chat.history_store import HistoryStore as HistoryStoreAdapter
from services.chat.history_store import chat_title
from tests.fakes import InMemoryHistoryStore
from tests.store_backends import (
    WITH_MEMORY,
    AppDb,
    open_app_db_or_memory,
    open_store,
    real_backends,
)
from use_cases.chat.domain import (
    Chat,
    Message,
    MessagePage,
    MessageStatus,
    NewMessage,
    Source,
    TokenUsage,
    ToolCall,
)
from use_cases.chat.ports import HistoryStore
from use_cases.shared.errors import InvalidRequest, NotFound


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "app.db"


@pytest.fixture(params=WITH_MEMORY)
def backend(request: pytest.FixtureRequest) -> str:
    """A real backend, or the in-memory fake the unit tests use (`tests/fakes/`)."""
    return str(request.param)


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    yield from open_app_db_or_memory(backend, tmp_path, request)


@pytest.fixture
def store(app_db: AppDb | None):
    yield from open_store(app_db, InMemoryHistoryStore, HistoryStoreAdapter)


def user_says(text: str) -> NewMessage:
    return NewMessage(role="user", content=text)


def raw(db_path: Path, sql: str, *params: object) -> list[tuple]:
    """Look at the file directly, as an operator would, bypassing the store."""
    conn = sqlite3.connect(str(db_path))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("adapter_class", [HistoryStoreAdapter])
def test_store_offers_every_history_store_method_with_the_same_signature(
    adapter_class: type,
) -> None:
    port_methods = [
        name
        for name, value in vars(HistoryStore).items()
        if inspect.isfunction(value) and not name.startswith("_")
    ]
    assert "append_message" in port_methods
    for name in port_methods:
        port = inspect.signature(getattr(HistoryStore, name))
        adapter = inspect.signature(getattr(adapter_class, name))
        assert list(adapter.parameters) == list(port.parameters), name
        for param in port.parameters.values():
            mine = adapter.parameters[param.name]
            assert (mine.kind, mine.default) == (param.kind, param.default), name


# -- titles ----------------------------------------------------------------------------------


def test_new_chat_is_titled_with_the_first_message(store: HistoryStore) -> None:
    chat = store.get_or_create_chat(None, "alice", "What is our refund policy?")
    assert chat.title == "What is our refund policy?"


def test_title_collapses_newlines_tabs_and_runs_of_spaces(store: HistoryStore) -> None:
    chat = store.get_or_create_chat(None, "alice", "  Summarise\n\nthis:\t the   report  ")
    assert chat.title == "Summarise this: the report"


def test_title_of_exactly_80_characters_is_kept_whole() -> None:
    assert chat_title("x" * 80) == "x" * 80


def test_title_longer_than_80_characters_is_cut_with_an_ellipsis() -> None:
    title = chat_title("y" * 81)
    assert len(title) == 80
    assert title == "y" * 79 + "…"


def test_cut_title_does_not_end_in_a_space_before_the_ellipsis() -> None:
    title = chat_title("a" * 78 + " b" + "c" * 20)
    assert title == "a" * 78 + "…"
    assert len(title) <= 80


@pytest.mark.parametrize("first_message", ["", "   ", "\n\t \n"])
def test_empty_first_message_gives_the_default_title(
    store: HistoryStore, first_message: str
) -> None:
    assert store.get_or_create_chat(None, "alice", first_message).title == "New chat"


# -- users and ids ---------------------------------------------------------------------------


@real_backends
def test_unknown_user_is_provisioned_once_and_keeps_its_profile(
    store: HistoryStore, app_db: AppDb
) -> None:
    first = store.ensure_user("alice", name="Alice", email="alice@example.com")
    again = store.ensure_user("alice", name="Someone else")
    assert again == first
    assert first.name == "Alice"
    assert first.email == "alice@example.com"
    assert app_db.raw("SELECT count(*) FROM users") == [(1,)]


def test_creating_a_chat_provisions_its_owner(store: HistoryStore) -> None:
    chat = store.get_or_create_chat(None, "bob", "hi")
    assert store.ensure_user("bob").id == chat.user_id == "bob"


def test_new_chat_without_an_id_gets_a_uuid4_hex_id(store: HistoryStore) -> None:
    chat = store.get_or_create_chat(None, "alice", "hello")
    assert len(chat.id) == 32
    assert int(chat.id, 16) >= 0


def test_client_generated_chat_id_is_accepted_and_reused(store: HistoryStore) -> None:
    created = store.get_or_create_chat("abc123XYZ", "alice", "first question")
    reused = store.get_or_create_chat("abc123XYZ", "alice", "second question")
    assert created.id == reused.id == "abc123XYZ"
    assert reused.title == "first question"
    assert store.get_chat("abc123XYZ") == created


@pytest.mark.parametrize("bad_id", ["", "a b", "../etc/passwd", "x" * 65, "caf\u00e9", "id;DROP"])
def test_malformed_chat_and_user_ids_are_refused(store: HistoryStore, bad_id: str) -> None:
    with pytest.raises(InvalidRequest):
        store.get_or_create_chat(bad_id, "alice", "hi")
    with pytest.raises(InvalidRequest):
        store.get_or_create_chat(None, bad_id, "hi")
    with pytest.raises(InvalidRequest):
        store.ensure_user(bad_id)


def test_lookups_by_a_malformed_id_find_nothing(store: HistoryStore) -> None:
    assert store.get_chat("no such/chat") is None
    assert store.list_messages("no such/chat") == []
    assert store.delete_chat("no such/chat") is False
    with pytest.raises(NotFound):
        store.append_message("no such/chat", user_says("hi"))


@real_backends
def test_timestamps_are_utc_with_microseconds(store: HistoryStore, app_db: AppDb) -> None:
    chat = store.get_or_create_chat(None, "alice", "hi")
    assert chat.created_at.utcoffset() == timedelta(0)
    assert chat.created_at.tzinfo is not None
    assert chat.created_at.astimezone(UTC) == chat.created_at
    [(stored,)] = app_db.raw("SELECT created_at FROM chats")
    if app_db.is_postgres:  # TIMESTAMPTZ: an instant, microseconds kept
        assert stored == chat.created_at and stored.microsecond == chat.created_at.microsecond
    else:
        assert stored.endswith("+00:00")
        assert len(stored.split(".")[1]) == len("123456+00:00")


# -- ownership -------------------------------------------------------------------------------


def test_another_users_chat_looks_like_it_does_not_exist(store: HistoryStore) -> None:
    store.get_or_create_chat("secret-chat", "alice", "private")
    with pytest.raises(NotFound) as error:
        store.get_or_create_chat("secret-chat", "mallory", "let me in")
    assert "secret-chat" in error.value.detail
    assert _chat(store, "secret-chat").user_id == "alice"


def test_a_user_only_lists_their_own_chats(store: HistoryStore) -> None:
    store.get_or_create_chat("a1", "alice", "one")
    store.get_or_create_chat("b1", "bob", "two")
    assert [chat.id for chat in store.list_chats("alice")] == ["a1"]
    assert store.list_chats("nobody") == []


def test_search_finds_chats_holding_every_word_in_title_or_messages(store: HistoryStore) -> None:
    store.get_or_create_chat("rot", "alice", "Password rotation")
    store.append_message("rot", user_says("How often must passwords be rotated?"))
    store.append_message("rot", NewMessage("assistant", "Every 90 days [1]. Use the VPN."))
    store.get_or_create_chat("vpn", "alice", "Remote access")
    store.append_message("vpn", user_says("Which VPN client do we use for Zürich?"))
    store.get_or_create_chat("bob", "bob", "Password rotation for bob")
    store.append_message("bob", user_says("rotation? vpn?"))

    def found(*terms: str) -> list[tuple[str, str | None]]:
        return [(chat.id, text) for chat, text in store.search_chats("alice", terms)]

    # case-folded, as part of a word: the first message holding it is the question
    assert found("PASSWORD") == [("rot", "How often must passwords be rotated?")]
    assert found("vpn") == [  # most recently active first, the first message holding a word
        ("vpn", "Which VPN client do we use for Zürich?"),
        ("rot", "Every 90 days [1]. Use the VPN."),
    ]
    assert found("rotation", "vpn") == [("rot", "Every 90 days [1]. Use the VPN.")]
    assert found("remote") == [("vpn", None)]  # only the title holds it
    assert found("zürich") == found("ZÜRICH") == [("vpn", "Which VPN client do we use for Zürich?")]
    assert found("100%_") == [] and found("nothing-like-this") == []
    assert [c.id for c, _ in store.search_chats("alice", ["vpn"], limit=1, offset=1)] == ["rot"]
    assert store.search_chats("nobody", ["vpn"]) == []


# -- ordering --------------------------------------------------------------------------------


def test_chats_are_listed_most_recently_active_first(store: HistoryStore) -> None:
    for chat_id in ("first", "second", "third"):
        store.get_or_create_chat(chat_id, "alice", chat_id)
    assert [c.id for c in store.list_chats("alice")] == ["third", "second", "first"]

    store.append_message("first", user_says("back to this one"))
    assert [c.id for c in store.list_chats("alice")] == ["first", "third", "second"]
    assert [c.id for c in store.list_chats("alice", limit=1, offset=1)] == ["third"]


def test_negative_paging_is_refused(store: HistoryStore) -> None:
    with pytest.raises(InvalidRequest):
        store.list_chats("alice", limit=-1)
    with pytest.raises(InvalidRequest):
        store.list_chats("alice", offset=-1)
    with pytest.raises(InvalidRequest):
        store.list_messages("anything", limit=-1)


def test_messages_come_back_in_conversation_order(store: HistoryStore) -> None:
    chat = store.get_or_create_chat(None, "alice", "q1")
    for i in range(5):
        store.append_message(chat.id, NewMessage(role="user", content=f"q{i}"))
        store.append_message(chat.id, NewMessage(role="assistant", content=f"a{i}"))
    contents = [m.content for m in store.list_messages(chat.id)]
    assert contents == [x for i in range(5) for x in (f"q{i}", f"a{i}")]


def test_message_limit_returns_the_last_n_still_in_order(store: HistoryStore) -> None:
    chat = store.get_or_create_chat(None, "alice", "count")
    for i in range(10):
        store.append_message(chat.id, user_says(str(i)))
    assert [m.content for m in store.list_messages(chat.id, limit=3)] == ["7", "8", "9"]
    assert store.list_messages(chat.id, limit=0) == []


def test_appending_to_a_missing_chat_is_not_found(store: HistoryStore) -> None:
    with pytest.raises(NotFound):
        store.append_message("ghost", user_says("hello?"))


def test_assistant_turn_round_trips_tool_calls_sources_and_usage(
    store: HistoryStore,
) -> None:
    chat = store.get_or_create_chat(None, "alice", "q")
    sent = NewMessage(
        role="assistant",
        content="Réponse [1]",
        tool_calls=(ToolCall("c1", "search_knowledge_base", {"query": "naïve"}, "success", "…"),),
        sources=(Source(1, "document", "Policy", "policy.pdf", section="Rotation"),),
        model="openai:gpt-4.1-mini",
        latency_ms=812,
        usage=TokenUsage(input_tokens=120, output_tokens=45, requests=2),
    )
    stored = store.append_message(chat.id, sent)
    [listed] = store.list_messages(chat.id)
    assert listed == stored
    assert (stored.tool_calls, stored.sources) == (sent.tool_calls, sent.sources)
    assert (stored.model, stored.latency_ms, stored.usage) == (sent.model, 812, sent.usage)
    assert stored.chat_id == chat.id and stored.status == "complete"


@real_backends
def test_rows_stored_before_the_typed_shapes_read_back(store: HistoryStore, app_db: AppDb) -> None:
    """Rows written before tool calls had a status and sources had version fields."""
    chat = store.get_or_create_chat(None, "alice", "q")
    message = store.append_message(chat.id, NewMessage(role="assistant", content="a [1]"))
    app_db.raw(
        "UPDATE messages SET tool_calls = ?, sources = ? WHERE id = ?",
        '[{"id": "c1", "name": "search_knowledge_base", "args": {"query": "q"}}]',
        '[{"number": 1, "kind": "document", "title": "Policy", "source": "p.md", '
        '"section": "Rotation", "category": null, "updated_at": "2025-09-15", '
        '"score": 0.5, "document_id": 7}]',
        message.id,
    )
    [stored] = store.list_messages(chat.id)
    assert stored.tool_calls == (ToolCall("c1", "search_knowledge_base", {"query": "q"}),)
    assert stored.sources == (
        Source(1, "document", "Policy", "p.md", "Rotation", None, "2025-09-15", 0.5, 7),
    )
    assert stored.sources[0].as_dict()["supersedes"] == []


def test_tool_call_arguments_keep_their_order(store: HistoryStore) -> None:
    chat = store.get_or_create_chat(None, "alice", "q")
    args = {"zeta": 1, "query": "q", "alpha": [3, 2, 1], "mid": {"b": 1, "a": 2}}
    sent = NewMessage(role="assistant", content="x", tool_calls=(ToolCall("c1", "t", args),))
    store.append_message(chat.id, sent)
    [stored] = store.list_messages(chat.id)
    assert list(stored.tool_calls[0].args) == ["zeta", "query", "alpha", "mid"]
    assert list(stored.tool_calls[0].args["mid"]) == ["b", "a"]


def test_message_without_usage_reads_back_without_usage(store: HistoryStore) -> None:
    chat = store.get_or_create_chat(None, "alice", "q")
    assert store.append_message(chat.id, user_says("q")).usage is None


def test_unserialisable_tool_arguments_are_refused_and_nothing_is_stored(
    store: HistoryStore,
) -> None:
    chat = store.get_or_create_chat(None, "alice", "q")
    with pytest.raises(InvalidRequest):
        store.append_message(
            chat.id,
            NewMessage(
                role="assistant", content="x", tool_calls=(ToolCall("c1", "t", {"bad": object()}),)
            ),
        )
    assert store.list_messages(chat.id) == []


# -- finalize --------------------------------------------------------------------------------


def test_finalize_turns_a_streaming_message_into_the_final_answer(
    store: HistoryStore,
) -> None:
    chat = store.get_or_create_chat(None, "alice", "q")
    store.append_message(chat.id, user_says("q"))
    draft = store.append_message(
        chat.id, NewMessage(role="assistant", content="", status="streaming")
    )
    final = store.finalize_message(
        draft.id,
        NewMessage(
            role="assistant",
            content="The answer [1]",
            sources=(Source(1, "document", "Policy", "policy.pdf"),),
            tool_calls=(ToolCall("c1", "search"),),
            model="m",
            latency_ms=10,
            usage=TokenUsage(1, 2, 1),
            status="complete",
        ),
    )
    assert (final.id, final.created_at, final.role) == (draft.id, draft.created_at, "assistant")
    assert (final.content, final.status) == ("The answer [1]", "complete")
    assert final.usage == TokenUsage(1, 2, 1)
    assert [m.content for m in store.list_messages(chat.id)] == ["q", "The answer [1]"]
    assert store.list_messages(chat.id)[-1] == final


@pytest.mark.parametrize("status", ["interrupted", "failed"])
def test_finalize_records_interrupted_and_failed_turns(
    store: HistoryStore, status: MessageStatus
) -> None:
    chat = store.get_or_create_chat(None, "alice", "q")
    draft = store.append_message(
        chat.id, NewMessage(role="assistant", content="partial", status="streaming")
    )
    final = store.finalize_message(
        draft.id, NewMessage(role="assistant", content="partial ans", status=status)
    )
    assert final.status == status
    assert final.content == "partial ans"


def test_finalizing_a_missing_message_is_not_found(store: HistoryStore) -> None:
    with pytest.raises(NotFound):
        store.finalize_message("0" * 32, NewMessage(role="assistant", content="x"))


def test_unknown_status_is_refused(store: HistoryStore) -> None:
    chat = store.get_or_create_chat(None, "alice", "q")
    with pytest.raises(InvalidRequest):
        store.append_message(chat.id, NewMessage(role="user", content="x", status="done"))  # type: ignore[arg-type]  # a status the store refuses
    with pytest.raises(InvalidRequest):
        store.append_message(chat.id, NewMessage(role="system", content="x"))  # type: ignore[arg-type]  # a role the store refuses


# -- rename and delete -----------------------------------------------------------------------


def test_rename_strips_the_title_and_keeps_the_chat_in_place(store: HistoryStore) -> None:
    chat = store.get_or_create_chat("c1", "alice", "old")
    renamed = store.rename_chat("c1", "   Budget  2027  ")
    assert renamed.title == "Budget 2027"
    assert renamed.updated_at == chat.updated_at
    assert _chat(store, "c1").title == "Budget 2027"


def test_rename_accepts_200_characters_and_refuses_201_or_blank(
    store: HistoryStore,
) -> None:
    store.get_or_create_chat("c1", "alice", "old")
    assert store.rename_chat("c1", "t" * 200).title == "t" * 200
    for bad in ("", "   \n", "t" * 201):
        with pytest.raises(InvalidRequest):
            store.rename_chat("c1", bad)
    assert _chat(store, "c1").title == "t" * 200


def test_renaming_a_missing_chat_is_not_found(store: HistoryStore) -> None:
    with pytest.raises(NotFound):
        store.rename_chat("ghost", "New title")


@real_backends
def test_deleting_a_chat_deletes_its_messages(store: HistoryStore, app_db: AppDb) -> None:
    keep = store.get_or_create_chat("keep", "alice", "keep")
    store.append_message(keep.id, user_says("stays"))
    gone = store.get_or_create_chat("gone", "alice", "gone")
    for text in ("a", "b", "c"):
        store.append_message(gone.id, user_says(text))

    assert store.delete_chat("gone") is True
    assert store.get_chat("gone") is None
    assert app_db.raw("SELECT count(*) FROM messages WHERE chat_id = 'gone'") == [(0,)]
    assert [m.content for m in store.list_messages("keep")] == ["stays"]
    assert store.delete_chat("gone") is False


# -- schema and migrations -------------------------------------------------------------------


@real_backends
def test_reopening_the_database_keeps_data_and_applies_migrations_once(app_db: AppDb) -> None:
    first = app_db.open(HistoryStoreAdapter)
    chat = first.get_or_create_chat(None, "alice", "persisted")
    first.close()

    second = app_db.open_apart(HistoryStoreAdapter)
    try:
        assert second.get_chat(chat.id) == chat
    finally:
        second.close()
    names = (
        [
            "history_pg_0001_users_chats_messages",
            "history_pg_0002_message_owner",
            "history_pg_0003_message_versions",
            "history_pg_0004_imported_chats",
            "history_pg_0005_message_not_found",
        ]
        if app_db.is_postgres
        else [
            "history_0001_users_chats_messages",
            "history_0002_message_owner",
            "history_0003_message_versions",
            "history_0004_imported_chats",
            "history_0005_message_not_found",
        ]
    )
    assert sorted(app_db.raw("SELECT name FROM schema_migrations")) == [(n,) for n in names]
    if not app_db.is_postgres:
        assert app_db.raw("PRAGMA journal_mode") == [("wal",)]


@real_backends
def test_database_refuses_two_messages_at_the_same_position(
    store: HistoryStore, app_db: AppDb
) -> None:
    chat = store.get_or_create_chat(None, "alice", "q")
    store.append_message(chat.id, user_says("q"))
    with pytest.raises(app_db.integrity_error):
        app_db.raw(
            "INSERT INTO messages (id, chat_id, seq, role, content, status, created_at) "
            "VALUES ('dup', ?, 1, 'user', 'x', 'complete', '2026-03-02T12:00:00+00:00')",
            chat.id,
        )


# -- concurrency -----------------------------------------------------------------------------


@real_backends
def test_eight_threads_appending_to_one_chat_lose_and_duplicate_nothing(
    store: HistoryStore, app_db: AppDb
) -> None:
    threads_count, per_thread = 8, 50
    chat = store.get_or_create_chat(None, "alice", "busy chat")
    start = threading.Barrier(threads_count)
    errors: list[Exception] = []

    def append_many(worker: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                store.append_message(chat.id, user_says(f"{worker}:{i}"))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=append_many, args=(n,)) for n in range(threads_count)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)

    assert errors == []
    total = threads_count * per_thread
    seqs = [seq for (seq,) in app_db.raw("SELECT seq FROM messages ORDER BY seq")]
    assert seqs == list(range(1, total + 1))
    contents = [m.content for m in store.list_messages(chat.id)]
    assert sorted(contents) == sorted(f"{w}:{i}" for w in range(threads_count) for i in range(50))
    for worker in range(threads_count):
        # Each thread's own messages keep the order in which it sent them.
        mine = [int(c.split(":")[1]) for c in contents if c.startswith(f"{worker}:")]
        assert mine == list(range(per_thread))


def _append_from_another_process(path: str, chat_id: str, worker: int, start, count: int) -> None:
    """Child process body: its own store on the same file, then appends as fast as it can."""
    store = HistoryStoreAdapter(path)
    start.wait(timeout=30)
    for i in range(count):
        store.append_message(chat_id, NewMessage(role="user", content=f"p{worker}:{i}"))
    store.close()


@pytest.mark.slow
def test_four_processes_appending_to_one_file_all_succeed(db_path: Path) -> None:
    """SQLite only: several processes on one file (PostgreSQL: see the eight threads)."""
    processes_count, per_process = 4, 50
    parent = HistoryStoreAdapter(db_path)
    chat = parent.get_or_create_chat(None, "alice", "shared")
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes_count)
    children = [
        context.Process(
            target=_append_from_another_process,
            args=(str(db_path), chat.id, n, start, per_process),
        )
        for n in range(processes_count)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)

    # A child that hit SQLITE_BUSY (or anything else) exits non-zero.
    assert [child.exitcode for child in children] == [0] * processes_count
    contents = [m.content for m in parent.list_messages(chat.id)]
    parent.close()
    expected = {f"p{w}:{i}" for w in range(processes_count) for i in range(per_process)}
    assert len(contents) == len(expected) and set(contents) == expected
    seqs = [seq for (seq,) in raw(db_path, "SELECT seq FROM messages ORDER BY seq")]
    assert seqs == list(range(1, len(expected) + 1))


@real_backends
def test_racing_to_create_the_same_new_chat_makes_exactly_one(
    store: HistoryStore, app_db: AppDb
) -> None:
    racers = 16
    start = threading.Barrier(racers)
    results: list[str] = []
    errors: list[Exception] = []

    def create(n: int) -> None:
        try:
            start.wait()
            chat = store.get_or_create_chat("useChat-abc123", "alice", f"message {n}")
            results.append(chat.title)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=create, args=(n,)) for n in range(racers)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == racers and len(set(results)) == 1
    assert app_db.raw("SELECT id, user_id FROM chats") == [("useChat-abc123", "alice")]


def test_deleting_messages_removes_only_those_of_that_chat(store: HistoryStore) -> None:
    chat = store.get_or_create_chat(None, "alice", "first")
    other = store.get_or_create_chat(None, "alice", "other")
    kept = store.append_message(chat.id, user_says("first"))
    gone = [
        store.append_message(chat.id, user_says("second")),
        store.append_message(chat.id, NewMessage("assistant", "an answer")),
    ]
    elsewhere = store.append_message(other.id, user_says("other"))
    ids = [m.id for m in gone]
    assert store.delete_messages(other.id, ids) == 0  # another chat's ids delete nothing
    assert store.delete_messages(chat.id, [*ids, elsewhere.id]) == 2
    assert [m.id for m in store.list_messages(chat.id)] == [kept.id]
    assert [m.id for m in store.list_messages(other.id)] == [elsewhere.id]
    assert store.delete_messages(chat.id, []) == 0
    assert store.delete_messages("not a chat id!", ids) == 0
    again = store.append_message(chat.id, user_says("second, edited"))
    assert [m.id for m in store.list_messages(chat.id)] == [kept.id, again.id]


@real_backends
def test_an_exchange_answered_again_keeps_its_answers_as_previous_versions(
    store: HistoryStore, app_db: AppDb
) -> None:
    chat = store.get_or_create_chat(None, "alice", "first")
    source = Source.from_dict({"n": 1, "kind": "document", "title": "Policy"})

    def exchange(question: str, answer: str) -> list[str]:
        asked = store.append_message(chat.id, user_says(question))
        said = store.append_message(
            chat.id, NewMessage("assistant", answer, sources=(source,), model="m")
        )
        return [asked.id, said.id]

    one = exchange("How long?", "Ten days.")
    failed = store.append_message(chat.id, NewMessage("assistant", "", status="failed"))
    two = exchange("How long?", "Twelve days.")
    store.delete_messages(chat.id, [*one, failed.id], versions_of=two[1])
    three = exchange("How long, edited?", "Fourteen days.")
    store.delete_messages(chat.id, two, versions_of=three[1])

    assert [m.content for m in store.list_messages(chat.id)] == [
        "How long, edited?",
        "Fourteen days.",
    ]
    versions = store.list_versions(chat.id)
    assert list(versions) == [three[1]]
    kept = versions[three[1]]
    assert [(v.question, v.content, v.status) for v in kept] == [
        ("How long?", "Ten days.", "complete"),  # the failed empty answer is not a version
        ("How long?", "Twelve days.", "complete"),
    ]
    assert kept[0].sources == (source,) and kept[0].model == "m"
    assert kept[0].created_at < kept[1].created_at
    assert store.list_versions("no such chat") == {}

    store.delete_chat(chat.id)
    assert app_db.raw("SELECT count(*) FROM message_versions") == [(0,)]


# -- pages of messages -----------------------------------------------------------------------


def _chat_of(store: HistoryStore, count: int) -> str:
    chat = store.get_or_create_chat(None, "alice", "m1")
    for i in range(1, count + 1):
        store.append_message(chat.id, user_says(f"m{i}"))
    return chat.id


def test_pages_chain_back_from_the_last_and_on_from_the_first_without_gaps_or_repeats(
    store: HistoryStore,
) -> None:
    chat_id = _chat_of(store, 25)
    last = store.page_messages(chat_id, limit=10)
    assert [m.content for m in last.messages] == [f"m{i}" for i in range(16, 26)]
    assert (last.earlier, last.later) == (16, None)
    backwards: list[Message] = []
    cursor = last.earlier
    while cursor is not None:
        page = store.page_messages(chat_id, limit=10, before=cursor)
        backwards[:0] = page.messages
        cursor = page.earlier
    forwards: list[Message] = []
    after: int | None = 0
    while after is not None:
        page = store.page_messages(chat_id, limit=10, after=after)
        forwards += page.messages
        after = page.later
    expected = [f"m{i}" for i in range(1, 26)]
    assert [m.content for m in backwards + last.messages] == expected
    assert [m.content for m in forwards] == expected


def test_a_page_steps_over_deleted_messages_and_ends_where_the_chat_does(
    store: HistoryStore,
) -> None:
    chat_id = _chat_of(store, 6)
    gone = [m.id for m in store.list_messages(chat_id) if m.content in ("m3", "m4")]
    store.delete_messages(chat_id, gone)
    page = store.page_messages(chat_id, limit=2, after=1)
    assert [m.content for m in page.messages] == ["m2", "m5"]
    assert (page.earlier, page.later) == (2, 5)
    assert store.page_messages(chat_id, limit=2, before=5).messages[-1].content == "m2"
    past_the_end = store.page_messages(chat_id, limit=2, after=6)
    assert past_the_end == MessagePage([], None, None)  # no cursor to a page past the end
    whole = store.page_messages(chat_id, limit=100)
    assert [m.content for m in whole.messages] == ["m1", "m2", "m5", "m6"]
    assert (whole.earlier, whole.later) == (None, None)
    assert store.count_messages(chat_id) == 4  # counted, not read (a summary's staleness)
    assert store.count_messages("no-such-chat") == 0


def test_an_unknown_chat_has_an_empty_page_and_bad_cursors_are_refused(
    store: HistoryStore,
) -> None:
    assert store.page_messages("no such/chat", limit=5) == MessagePage([], None, None)
    assert store.page_messages("ghost", limit=5, before=3) == MessagePage([], None, None)
    for bad in ({"before": 1, "after": 1}, {"before": -1}, {"after": 2**31}, {"limit": -1}):
        with pytest.raises(InvalidRequest):
            store.page_messages("ghost", **{"limit": 5, **bad})


def _chat(store: HistoryStore, chat_id: str) -> Chat:
    """The chat the test made, read back."""
    chat = store.get_chat(chat_id)
    assert chat is not None, chat_id
    return chat


# -- withheld answers ------------------------------------------------------------------------


def test_a_search_reads_no_withheld_answer_and_cited_answers_carry_no_text(
    store: HistoryStore,
) -> None:
    """What withholding a revoked answer from a search needs of the store (the rule itself:
    `use_cases/chat/withholding.py`): the cited answers' ids and sources, earlier versions
    too, and a search that does not read the answers it is told to leave out."""
    cited = Source.from_dict({"number": 1, "kind": "document", "title": "Pay", "document_id": 7})
    store.get_or_create_chat("pay", "alice", "Pay")
    asked = store.append_message("pay", user_says("What is the band?"))
    said = store.append_message(
        "pay", NewMessage("assistant", "The lumenvault band.", sources=(cited,))
    )
    store.get_or_create_chat("misc", "alice", "Misc")
    store.append_message("misc", user_says("lumenvault again?"))
    store.append_message("misc", NewMessage("assistant", "Nothing cited."))

    def found(withheld: frozenset[str]) -> list[tuple[str, str | None]]:
        hits = store.search_chats("alice", ["LUMENVAULT"], withheld=withheld)
        return [(chat.id, text) for chat, text in hits]

    assert found(frozenset()) == [("misc", "lumenvault again?"), ("pay", "The lumenvault band.")]
    assert found(frozenset({said.id})) == [("misc", "lumenvault again?")]
    assert [
        (a.chat_id, a.message_id, a.sources, a.earlier) for a in store.cited_answers("alice")
    ] == [("pay", said.id, (cited,), False)]

    # Answered again: the earlier version follows, under an id of its own (no message's).
    again = store.append_message("pay", user_says("What is the band, again?"))
    new = store.append_message("pay", NewMessage("assistant", "Still it.", sources=(cited,)))
    store.delete_messages("pay", [asked.id, said.id], versions_of=new.id)
    listed = store.cited_answers("alice", "pay")
    assert (listed[0].message_id, listed[0].earlier) == (new.id, False)
    [earlier] = [a for a in listed if a.earlier]
    assert earlier.chat_id == "pay" and earlier.sources == (cited,)
    assert earlier.message_id not in {m.id for m in store.list_messages("pay")} | {again.id}
    assert store.cited_answers("alice", "misc") == [] and store.cited_answers("bob") == []
