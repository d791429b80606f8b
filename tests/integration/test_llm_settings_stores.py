"""The SQLite adapters of prompt versions and default models, on real files."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlean as sqlite3

from services.admin.model_default_store import SqliteModelDefaultStore
from services.admin.prompt_store import SqlitePromptStore
from services.sqlite.connection import connect
from services.sqlite.migrations import applied_migrations

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_versions_are_numbered_per_type_and_the_newest_is_active(tmp_path: Path) -> None:
    store = SqlitePromptStore(tmp_path / "app.db")
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
    tmp_path: Path,
) -> None:
    store = SqlitePromptStore(tmp_path / "app.db")
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


def test_stored_versions_cannot_be_changed_or_deleted(tmp_path: Path) -> None:
    store = SqlitePromptStore(tmp_path / "app.db")
    store.create_version("chat", "One.", "root", NOON)
    conn = sqlite3.connect(tmp_path / "app.db")
    for statement in ("UPDATE prompt_versions SET text = 'Evil.'", "DELETE FROM prompt_versions"):
        with pytest.raises(sqlite3.IntegrityError, match=r"never changed|kept"):
            conn.execute(statement)
    conn.close()
    active = store.active_version("chat")
    assert active is not None and active.text == "One."
    store.close()


def test_concurrent_admins_get_distinct_consecutive_version_numbers(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    SqlitePromptStore(path).close()  # migrate once

    def write(worker: int) -> list[int]:
        store = SqlitePromptStore(path)  # a connection of its own, like another process
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
    tmp_path: Path,
) -> None:
    store = SqliteModelDefaultStore(tmp_path / "app.db")
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


def test_the_stores_record_their_named_migrations_in_the_app_db(tmp_path: Path) -> None:
    SqlitePromptStore(tmp_path / "app.db").close()
    SqliteModelDefaultStore(tmp_path / "app.db").close()
    conn = connect(tmp_path / "app.db")
    assert applied_migrations(conn) == [
        "prompts_0001_prompt_versions",
        "model_defaults_0001_model_defaults",
    ]
    conn.close()
