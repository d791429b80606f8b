"""The adapters of prompt versions and default models, on real databases: every test taking
`app_db` runs on SQLite and on PostgreSQL (`backend` fixture)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.admin.model_default_store import ModelDefaultStore
from services.admin.prompt_store import PromptStore
from tests.store_backends import AppDb, open_app_db

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    yield from open_app_db(backend, tmp_path, request)


def test_versions_are_numbered_per_type_and_the_newest_is_active(app_db: AppDb) -> None:
    store = app_db.open(PromptStore)
    first = store.create_version("chat", "One.", "root", NOON)
    second = store.create_version("chat", "Two.", "cli", NOON.replace(hour=13))
    other = store.create_version("advice", "Advice one.", "root", NOON)
    assert (first.before, first.after and first.after.version) == (None, 1)
    assert (second.before, second.after and second.after.version) == (1, 2)
    assert other.after is not None and (other.before, other.after.version) == (None, 1)
    active = store.active_version("chat")
    assert active is not None and (active.text, active.author) == ("Two.", "cli")
    assert active.created_at == NOON.replace(hour=13)
    versions, total = store.list_versions("chat", limit=10, offset=0)
    assert [v.version for v in versions] == [2, 1] and total == 2
    store.close()


def test_activate_and_reset_report_what_they_replaced_and_keep_every_version(
    app_db: AppDb,
) -> None:
    store = app_db.open(PromptStore)
    store.create_version("chat", "One.", "root", NOON)
    store.create_version("chat", "Two.", "root", NOON)
    switched = store.activate("chat", 1)
    assert switched is not None and switched.after is not None
    assert (switched.before, switched.after.version, switched.after.text) == (2, 1, "One.")
    assert store.activate("chat", 3) is None
    assert store.activate("advice", 1) is None  # versions belong to their type
    reset = store.reset("chat")
    assert (reset.before, reset.after) == (1, None)
    assert store.active_version("chat") is None
    assert store.reset("chat").before is None
    assert store.list_versions("chat", limit=10, offset=0)[1] == 2
    store.close()


def test_stored_versions_cannot_be_changed_or_deleted(app_db: AppDb) -> None:
    store = app_db.open(PromptStore)
    store.create_version("chat", "One.", "root", NOON)
    for statement in ("UPDATE prompt_versions SET text = 'Evil.'", "DELETE FROM prompt_versions"):
        with pytest.raises(app_db.integrity_error, match=r"never changed|kept"):
            app_db.raw(statement)
    active = store.active_version("chat")
    assert active is not None and active.text == "One."
    store.close()


def test_concurrent_admins_get_distinct_consecutive_version_numbers(app_db: AppDb) -> None:
    app_db.open(PromptStore).close()  # migrate once

    def write(worker: int) -> list[int]:
        # connections of its own, like another process
        store = app_db.open_apart(PromptStore)
        numbers = []
        for n in range(10):
            change = store.create_version("chat", f"w{worker} n{n}", "root", NOON)
            assert change.after is not None
            numbers.append(change.after.version)
        store.close()
        return numbers

    with ThreadPoolExecutor(4) as pool:
        numbers = [n for batch in pool.map(write, range(4)) for n in batch]
    assert sorted(numbers) == list(range(1, 41))


def test_a_default_model_is_set_replaced_and_cleared_reporting_the_previous_one(
    app_db: AppDb,
) -> None:
    store = app_db.open(ModelDefaultStore)
    assert store.get("chat") is None
    assert store.put("chat", "test:a", "root", NOON) is None
    previous = store.put("chat", "test:b", "cli", NOON.replace(hour=13))
    assert previous is not None and (previous.model, previous.updated_by) == ("test:a", "root")
    current = store.get("chat")
    assert current is not None and (current.model, current.updated_at) == (
        "test:b",
        NOON.replace(hour=13),
    )
    cleared = store.put("chat", None, "root", NOON)
    assert cleared is not None and cleared.model == "test:b"
    assert store.get("chat") is None
    store.close()


def test_the_stores_record_their_named_migrations_in_the_app_db(app_db: AppDb) -> None:
    app_db.open(PromptStore).close()
    app_db.open(ModelDefaultStore).close()
    infix = "_pg" if app_db.is_postgres else ""
    names = [name for (name,) in app_db.raw("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [
        f"model_defaults{infix}_0001_model_defaults",
        f"prompts{infix}_0001_prompt_versions",
    ]


def test_concurrent_writes_of_one_type_keep_exact_before_values(app_db: AppDb) -> None:
    """Creates and activations racing on one type: every write reports as `before` the
    version in force just before it, so the reports chain into one history."""
    app_db.open(PromptStore).close()

    def write(worker: int) -> list[tuple[int | None, int]]:
        store = app_db.open_apart(PromptStore)
        changes = []
        for n in range(8):
            change = store.create_version("chat", f"w{worker} n{n}", "root", NOON)
            assert change.after is not None
            changes.append((change.before, change.after.version))
        store.close()
        return changes

    with ThreadPoolExecutor(4) as pool:
        changes = [c for batch in pool.map(write, range(4)) for c in batch]
    after_of = dict(changes)
    assert len(after_of) == len(changes) == 32  # no two writes saw the same version in force
    chain, current = [], None
    while current in after_of:
        current = after_of[current]
        chain.append(current)
    assert chain == list(range(1, 33))


def test_concurrent_default_model_writes_each_report_the_one_they_replaced(
    app_db: AppDb,
) -> None:
    app_db.open(ModelDefaultStore).close()

    def write(worker: int) -> list[tuple[str | None, str]]:
        store = app_db.open_apart(ModelDefaultStore)
        pairs = []
        for n in range(8):
            model = f"test:w{worker}-{n}"
            previous = store.put("chat", model, "root", NOON)
            pairs.append((previous.model if previous else None, model))
        store.close()
        return pairs

    with ThreadPoolExecutor(4) as pool:
        pairs = [p for batch in pool.map(write, range(4)) for p in batch]
    next_of = dict(pairs)
    assert len(next_of) == 32  # every write replaced a different value
    chain, current = [], None
    while current in next_of:
        current = next_of[current]
        chain.append(current)
    assert len(chain) == 32
    store = app_db.open(ModelDefaultStore)
    final = store.get("chat")
    assert final is not None and final.model == chain[-1]
    store.close()
