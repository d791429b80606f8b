"""The advice-thread stores against real databases: every test runs on SQLite and on
PostgreSQL (`backend` fixture)."""

from __future__ import annotations

import inspect
import threading

import pytest

from services.chat.advice_threads import AdviceThreads
from tests.narrowing import present
from tests.store_backends import AppDb, open_app_db
from use_cases.advice.domain import AdviceSource, Alternative, StructuredAdvice
from use_cases.advice.ports import AdviceThreadStore
from use_cases.shared.errors import InvalidRequest, NotFound


@pytest.fixture
def app_db(backend: str, tmp_path, request: pytest.FixtureRequest):
    yield from open_app_db(backend, tmp_path, request)


@pytest.fixture
def store(app_db: AppDb):
    threads = app_db.open(AdviceThreads)
    yield threads
    threads.close()


def advice(text: str, n: int = 1) -> StructuredAdvice:
    return StructuredAdvice(
        response_id=f"resp_{n}",
        main_advice=text,
        reasoning="Because the policy says so [1].",
        confidence_score=0.8,
        confidence_phrase="high",
        alternatives=[Alternative(option="Wait a week", reason="if unsure")],
        sources=[AdviceSource(n=1, document="Security policy", section="Passwords", date=None)],
        model_identifier="offline-extractive",
        search_decision="DEFAULT_YES",
    )


@pytest.mark.parametrize("adapter_class", [AdviceThreads])
def test_store_offers_every_port_method_with_the_same_signature(adapter_class: type) -> None:
    for name, method in inspect.getmembers(AdviceThreadStore, inspect.isfunction):
        if name.startswith("_"):
            continue
        ours = inspect.signature(getattr(adapter_class, name))
        assert list(ours.parameters) == list(inspect.signature(method).parameters), name


def test_the_first_advice_creates_the_thread_and_each_is_read_back_as_given(
    store: AdviceThreadStore,
) -> None:
    assert store.get_thread("t1") is None
    first = store.add_entry("t1", "ana", "Can I deploy on\nFriday?", advice("No [1].", 1))
    second = store.add_entry("t1", "ana", "And on Monday?", advice("Yes.", 2))

    thread = store.get_thread("t1")
    assert thread is not None
    assert (thread.user_id, thread.title) == ("ana", "Can I deploy on Friday?")
    assert thread.updated_at >= thread.created_at
    entries = store.list_entries("t1")
    assert [e.id for e in entries] == [first.id, second.id]  # oldest first
    assert entries[0].question == "Can I deploy on\nFriday?"
    assert entries[0].advice == advice("No [1].", 1)  # every field, alternatives and sources
    assert [e.advice.main_advice for e in store.list_entries("t1", limit=1)] == ["Yes."]


def test_another_users_thread_is_not_found_and_keeps_its_advice(
    store: AdviceThreadStore,
) -> None:
    store.add_entry("t1", "ana", "Mine?", advice("Yes."))
    with pytest.raises(NotFound):
        store.add_entry("t1", "bob", "Mine now?", advice("No."))
    assert [e.question for e in store.list_entries("t1")] == ["Mine?"]
    assert present(store.get_thread("t1")).user_id == "ana"


def test_threads_are_listed_per_user_most_recently_active_first(
    store: AdviceThreadStore,
) -> None:
    for thread_id in ("a", "b", "c"):
        store.add_entry(thread_id, "ana", f"Question {thread_id}", advice("Yes."))
    store.add_entry("x", "bob", "Bob's", advice("Yes."))
    store.add_entry("a", "ana", "Again", advice("Yes."))  # a is now the latest

    assert [t.id for t in store.list_threads("ana")] == ["a", "c", "b"]
    assert [t.id for t in store.list_threads("ana", limit=1, offset=1)] == ["c"]
    assert [t.id for t in store.list_threads("bob")] == ["x"]


def test_deleting_a_thread_deletes_its_advice(store: AdviceThreadStore, app_db: AppDb) -> None:
    store.add_entry("t1", "ana", "One?", advice("Yes."))
    store.add_entry("t2", "ana", "Two?", advice("Yes."))

    assert store.delete_thread("t1") is True
    assert store.delete_thread("t1") is False
    assert store.get_thread("t1") is None
    assert store.list_entries("t1") == []
    assert app_db.raw("SELECT count(*) FROM advice_entries") == [(1,)]


def test_malformed_ids_are_absent_to_reads_and_refused_by_writes(
    store: AdviceThreadStore,
) -> None:
    assert store.get_thread("no/slashes") is None
    assert store.list_entries("no/slashes") == []
    assert store.delete_thread("no/slashes") is False
    with pytest.raises(InvalidRequest):
        store.add_entry("no/slashes", "ana", "Q?", advice("Yes."))


def test_eight_writers_on_one_thread_lose_and_duplicate_nothing(
    store: AdviceThreadStore, app_db: AppDb
) -> None:
    writers, each = 8, 10
    start = threading.Barrier(writers)
    errors: list[Exception] = []

    def add_many(worker: int) -> None:
        try:
            start.wait()
            for i in range(each):
                store.add_entry("busy", "ana", f"{worker}:{i}", advice("Yes."))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=add_many, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    seqs = [seq for (seq,) in app_db.raw("SELECT seq FROM advice_entries ORDER BY seq")]
    assert seqs == list(range(1, writers * each + 1))
    assert len({e.question for e in store.list_entries("busy")}) == writers * each
