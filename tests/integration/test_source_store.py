"""The store of synced sources on real databases: every test runs on SQLite and on
PostgreSQL (`backend` fixture)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.sources.store import SqlSourceStore
from tests.store_backends import AppDb, open_app_db
from use_cases.shared.errors import Conflict
from use_cases.sources.domain import ItemError, SourceSpec, SyncCounts

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HANDBOOK = SourceSpec("handbook", "folder", "/srv/handbook", 1800, "hr")


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    yield from open_app_db(backend, tmp_path, request)


def test_a_source_is_kept_with_its_schedule_and_a_name_is_taken_once(app_db: AppDb) -> None:
    store = app_db.open(SqlSourceStore)
    store.add(HANDBOOK, NOON, NOON)
    store.add(SourceSpec("bucket", "s3", "s3://b/p/"), NOON, None)

    with pytest.raises(Conflict):
        store.add(HANDBOOK, NOON, None)
    stored = store.get("handbook")
    assert stored is not None
    assert (stored.spec, stored.created_at, stored.next_sync_at, stored.last_run) == (
        HANDBOOK,
        NOON,
        NOON,
        None,
    )
    assert [s.spec.name for s in store.list_all()] == ["bucket", "handbook"]
    assert store.claim_due(NOON - timedelta(seconds=1)) == []
    assert store.claim_due(NOON) == ["handbook"]  # an unscheduled source is never due
    store.close()


def test_a_due_source_is_claimed_once_and_a_claim_given_back_is_due_again(app_db: AppDb) -> None:
    store = app_db.open(SqlSourceStore)
    store.add(HANDBOOK, NOON, NOON)
    later = NOON + timedelta(minutes=5)

    assert store.claim_due(later) == ["handbook"]
    # Claimed: due a period after the look, so the next look finds nothing to queue.
    stored = store.get("handbook")
    assert stored is not None and stored.next_sync_at == later + timedelta(minutes=30)
    assert store.claim_due(later) == []
    assert store.claim_due(later + timedelta(minutes=29)) == []

    store.release_due("handbook", later)  # its sync could not be queued
    assert store.claim_due(later) == ["handbook"]
    store.release_due("gone", later)  # a source removed since the look: nothing to give back
    store.close()


def test_replicas_looking_for_due_sources_together_claim_each_once(app_db: AppDb) -> None:
    stores = [app_db.open_apart(SqlSourceStore) for _ in range(4)]
    names = [f"source-{n}" for n in range(6)]
    for name in names:
        stores[0].add(SourceSpec(name, "folder", f"/srv/{name}", 3600), NOON, NOON)

    with ThreadPoolExecutor(4) as pool:
        claims = list(pool.map(lambda store: store.claim_due(NOON), stores))

    assert sorted(name for claimed in claims for name in claimed) == names
    for store in stores:
        store.close()


def test_versions_are_kept_per_source_and_dropped_with_it(app_db: AppDb) -> None:
    store = app_db.open(SqlSourceStore)
    store.add(HANDBOOK, NOON, None)
    store.add(SourceSpec("other", "folder", "/srv/other"), NOON, None)
    store.put_versions("handbook", {"a.md": "1:1", "b.md": "2:2"})
    store.put_versions("handbook", {"a.md": "1:9"})
    store.put_versions("other", {"a.md": "x"})
    store.drop_versions("handbook", ["b.md"])

    assert store.versions("handbook") == {"a.md": "1:9"}
    assert store.remove("handbook") is True
    assert store.versions("handbook") == {}
    assert store.versions("other") == {"a.md": "x"}
    assert store.remove("handbook") is False
    store.close()


def test_a_run_is_kept_in_the_history_and_moves_the_next_sync(app_db: AppDb) -> None:
    store = app_db.open(SqlSourceStore)
    store.add(HANDBOOK, NOON, NOON)
    run = store.start_run("handbook", "schedule", NOON, NOON - timedelta(minutes=15))
    store.progress_run(run.id, SyncCounts(added=2), NOON + timedelta(seconds=5))
    assert store.history("handbook", 5)[0].counts.added == 2
    ended = replace(
        run,
        status="failed",
        finished_at=NOON + timedelta(seconds=9),
        counts=SyncCounts(2, 1, 3, 0, 1),
        error="listing failed",
        errors=(ItemError("x.pdf", "no text"),),
    )
    store.finish_run(ended, NOON + timedelta(seconds=9), NOON + timedelta(minutes=30))

    (kept,) = store.history("handbook", 5)
    assert kept == ended
    stored = store.get("handbook")
    assert stored is not None and stored.last_run == ended
    assert stored.next_sync_at == NOON + timedelta(minutes=30)
    assert store.claim_due(NOON + timedelta(minutes=29)) == []
    store.close()


def test_one_run_at_a_time_and_a_dead_one_is_taken_over(app_db: AppDb) -> None:
    store = app_db.open(SqlSourceStore)
    store.add(HANDBOOK, NOON, None)
    first = store.start_run("handbook", "manual", NOON, NOON - timedelta(minutes=15))

    with pytest.raises(Conflict, match="already running"):
        store.start_run("handbook", "manual", NOON, NOON - timedelta(minutes=15))
    later = NOON + timedelta(minutes=20)  # the first was not heard of for 20 minutes
    second = store.start_run("handbook", "manual", later, later - timedelta(minutes=15))

    history = store.history("handbook", 5)
    assert [r.id for r in history] == [second.id, first.id]
    assert history[1].status == "failed" and "stopped" in (history[1].error or "")
    store.close()


def test_replicas_starting_a_run_together_start_one(app_db: AppDb) -> None:
    stores = [app_db.open_apart(SqlSourceStore) for _ in range(4)]
    stores[0].add(HANDBOOK, NOON, None)

    def start(store: SqlSourceStore) -> str:
        try:
            store.start_run("handbook", "schedule", NOON, NOON - timedelta(minutes=15))
        except Conflict:
            return "refused"
        return "started"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(start, stores))

    assert outcomes == ["refused", "refused", "refused", "started"]
    for store in stores:
        store.close()
