"""The project-draft store against real databases: every test runs on SQLite and on
PostgreSQL (`backend` fixture)."""

from __future__ import annotations

import inspect
import threading
from dataclasses import replace

import pytest

from services.chat.history_store import HistoryStore
from services.conversations.draft_store import MIGRATIONS, PG_MIGRATIONS, ProjectDrafts
from services.sql import sql_db
from tests.store_backends import AppDb, open_app_db
from use_cases.confidence.domain import LoggedSources
from use_cases.conversations.draft_domain import (
    Milestone,
    NewDraftVersion,
    ProjectDraftContent,
)
from use_cases.conversations.draft_ports import ProjectDraftStore
from use_cases.shared.errors import Conflict, InvalidRequest, NotFound


@pytest.fixture
def app_db(backend: str, tmp_path, request: pytest.FixtureRequest):
    yield from open_app_db(backend, tmp_path, request)


@pytest.fixture
def history(app_db: AppDb):
    store = app_db.open(HistoryStore)  # the drafts' chats
    yield store
    store.close()


@pytest.fixture
def store(app_db: AppDb, history: HistoryStore):
    drafts = app_db.open(ProjectDrafts)
    yield drafts
    drafts.close()


def a_chat(history: HistoryStore, user: str = "ana") -> str:
    history.ensure_user(user)
    return history.get_or_create_chat(None, user, "Plan the newsletter").id


def version(title: str, author: str = "model", **content: object) -> NewDraftVersion:
    draft = ProjectDraftContent(title=title, **content)
    model = "offline-extractive" if author == "model" else None
    return NewDraftVersion(draft, author, f"made {title}", "ana", model)  # type: ignore[arg-type]  # an author as stored


def test_store_offers_every_port_method_with_the_same_signature() -> None:
    for name, method in inspect.getmembers(ProjectDraftStore, inspect.isfunction):
        if not name.startswith("_"):
            ours = inspect.signature(getattr(ProjectDrafts, name))
            assert list(ours.parameters) == list(inspect.signature(method).parameters), name


def test_a_draft_goes_through_three_versions_and_back(
    store: ProjectDraftStore, history: HistoryStore
) -> None:
    chat = a_chat(history)
    assert store.get_draft(chat) is None
    (v1,) = store.add_versions(chat, [version("One", goals=["Reach 500 readers"])], based_on=None)
    (v2,) = store.add_versions(
        chat, [version("Two", milestones=[Milestone(title="Beta")])], based_on=1
    )
    (v3,) = store.add_versions(chat, [version("Three", author="user")], based_on=2)
    assert [v.number for v in (v1, v2, v3)] == [1, 2, 3]
    draft = store.get_draft(chat)
    assert draft is not None and (draft.active_version, draft.latest_version) == (3, 3)

    moved = store.activate(chat, 1, "ana")
    assert (moved.version, moved.previous, moved.by) == (1, 3, "ana")
    draft = store.get_draft(chat)
    assert draft is not None and (draft.active_version, draft.latest_version) == (1, 3)
    back = store.get_version(chat, 1)
    assert back is not None and back.content.goals == ["Reach 500 readers"]
    assert back.content == v1.content and back.note == "made One"
    three = store.get_version(chat, 3)
    assert three is not None and (three.author, three.model) == ("user", None)
    assert [v.number for v in store.list_versions(chat)] == [3, 2, 1]
    assert [v.number for v in store.list_versions(chat, limit=1, offset=1)] == [2]
    assert [(a.version, a.previous) for a in store.list_activations(chat)] == [(1, 3)]


def test_a_change_made_from_a_version_no_longer_active_is_refused_and_writes_nothing(
    store: ProjectDraftStore, history: HistoryStore
) -> None:
    chat = a_chat(history)
    store.add_versions(chat, [version("One"), version("Two")], based_on=None)
    with pytest.raises(Conflict, match="version 2 is active now, not 1"):
        store.add_versions(chat, [version("Late")], based_on=1)
    with pytest.raises(Conflict):
        store.add_versions(a_chat(history), [version("New")], based_on=1)  # no draft yet
    assert [v.number for v in store.list_versions(chat)] == [2, 1]


def test_concurrent_writers_never_share_a_version_number(
    app_db: AppDb, store: ProjectDraftStore, history: HistoryStore
) -> None:
    chat = a_chat(history)
    others = [app_db.open_apart(ProjectDrafts) for _ in range(4)]
    errors: list[BaseException] = []

    def write(other: ProjectDrafts, n: int) -> None:
        try:
            for i in range(5):
                other.add_versions(chat, [version(f"w{n}-{i}")], based_on=None)
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
    numbers = sorted(v.number for v in store.list_versions(chat, limit=100))
    assert numbers == list(range(1, 21))


def test_missing_versions_and_other_chats_are_not_found(
    store: ProjectDraftStore, history: HistoryStore
) -> None:
    chat = a_chat(history)
    store.add_versions(chat, [version("One")], based_on=None)
    with pytest.raises(NotFound):
        store.activate(chat, 2, "ana")
    with pytest.raises(NotFound):
        store.activate(a_chat(history), 1, "ana")
    assert store.get_version(chat, 2) is None
    assert store.get_draft("not a valid id!") is None
    assert store.list_versions("not a valid id!") == []


def test_deleting_the_chat_deletes_its_draft(
    app_db: AppDb, store: ProjectDraftStore, history: HistoryStore
) -> None:
    chat = a_chat(history)
    store.add_versions(chat, [version("One"), version("Two")], based_on=None)
    store.activate(chat, 1, "ana")
    assert history.delete_chat(chat)
    assert store.get_draft(chat) is None
    for table in ("project_draft_versions", "project_draft_activations"):
        assert app_db.raw(f"SELECT count(*) FROM {table}")[0][0] == 0


def test_text_with_a_nul_character_is_refused_on_both(
    store: ProjectDraftStore, history: HistoryStore
) -> None:
    chat = a_chat(history)
    bad = NewDraftVersion(ProjectDraftContent(title="One"), "user", "a\x00b", "ana")
    with pytest.raises(InvalidRequest):
        store.add_versions(chat, [bad], based_on=None)
    assert store.get_draft(chat) is None
    with pytest.raises(ValueError, match="NUL"):
        ProjectDraftContent(title="One", goals=["a\x00b"])


def test_what_a_version_was_drafted_from_reads_back(store: ProjectDrafts, history) -> None:
    chat = a_chat(history)
    cited = LoggedSources(documents=(4, 9), tables=("hr_ledger",))
    first = replace(version("Recorded"), drafted_from=cited)
    [added] = store.add_versions(chat, [first], based_on=None)
    [edited] = store.add_versions(chat, [version("Unrecorded")], based_on=1)
    assert added.drafted_from == cited and edited.drafted_from is None
    assert store.get_version(chat, 1) == added
    assert [v.drafted_from for v in store.list_versions(chat)] == [None, cited]


def test_versions_from_before_the_record_migrate_unrecorded(
    app_db: AppDb, history: HistoryStore
) -> None:
    """A version stored before `drafted_from` existed reads back with None (withholding then
    falls back on its conversation's answers), not as one drafted from nothing."""
    chat = a_chat(history)
    old = sql_db(app_db.db if app_db.db is not None else app_db.path)
    old.migrate(sqlite=MIGRATIONS[:1], postgres=PG_MIGRATIONS[:1])
    if app_db.db is None:
        old.close()  # on PostgreSQL the pool is the test's, closed with it
    stamp = "2026-03-02T12:00:00.000000+00:00"
    app_db.raw("INSERT INTO project_drafts VALUES (?, 1, 1, ?, ?)", chat, stamp, stamp)
    app_db.raw(
        "INSERT INTO project_draft_versions VALUES (?, 1, ?, 'user', NULL, 'n', 'ana', ?)",
        chat,
        ProjectDraftContent(title="Old").model_dump_json(),
        stamp,
    )
    store = app_db.open(ProjectDrafts)
    try:
        assert store.get_version(chat, 1).drafted_from is None
        nothing = replace(version("New"), drafted_from=LoggedSources())
        [new] = store.add_versions(chat, [nothing], based_on=1)
        stored = store.get_version(chat, new.number)
        assert stored is not None and stored.drafted_from == LoggedSources()
    finally:
        store.close()
