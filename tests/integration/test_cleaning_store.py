"""The cleaning store on real databases: every test runs on SQLite and on PostgreSQL, through
the port only (tasks kept once with their ground truth, runs moving through their statuses,
results written once per key), and on the in-memory fake the unit tests use."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cleaning.store import CleaningStore
from tests.fakes.cleaning import InMemoryCleaningStore
from tests.narrowing import present
from tests.store_backends import WITH_MEMORY, AppDb, open_app_db_or_memory, open_store
from use_cases.cleaning.domain import SourceTable, Table
from use_cases.cleaning.inject import build_task
from use_cases.cleaning.ports import CleaningRun
from use_cases.jobs.queue import QueueLimits
from use_cases.shared.errors import ServiceBusy

T0, T1, T2 = (f"2026-03-02T12:00:0{i}+00:00" for i in range(3))
SOURCE = SourceTable(
    Table("t", ("k", "v"), tuple((str(i), f"value {i % 3}") for i in range(20))),
    "T",
    "test",
    "CC0",
    "v1",
    key="k",
)


@pytest.fixture(params=WITH_MEMORY)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    yield from open_app_db_or_memory(backend, tmp_path, request)


@pytest.fixture
def store(app_db: AppDb | None):
    yield from open_store(app_db, InMemoryCleaningStore, CleaningStore)


def _run(run_id: str, at: str, created_by: str = "root") -> CleaningRun:
    return CleaningRun(
        run_id=run_id,
        status="queued",
        models=("offline-rules",),
        task_ids=("t.uniqueness.easy",),
        settings={"seed": 3, "repeats": 1, "concurrency": 2},
        created_by=created_by,
        created_at=at,
        total=1,
    )


def test_a_task_is_kept_once_with_its_ground_truth(store: CleaningStore) -> None:
    task = build_task(SOURCE, "uniqueness", "easy", seed=3)
    store.put_task(task)
    store.put_task(task)  # the same id, seed and version: kept as it was

    assert store.task("t.uniqueness.easy", 3, "v1") == task
    assert store.task("t.uniqueness.easy", 4, "v1") is None
    assert store.task("t.uniqueness.easy", 3, "v2") is None


def test_runs_move_through_their_statuses_and_list_newest_first(store: CleaningStore) -> None:
    store.create(_run("clean_000000000001", T0))
    store.create(_run("clean_000000000002", T1))

    assert [r.run_id for r in store.list(10, 0)] == ["clean_000000000002", "clean_000000000001"]
    assert [r.run_id for r in store.unfinished()] == ["clean_000000000001", "clean_000000000002"]
    store.set_status("clean_000000000001", "running", at=T1)
    store.set_status("clean_000000000001", "completed", at=T2)

    done = store.get("clean_000000000001")
    assert done is not None and done.status == "completed"
    assert (done.started_at, done.finished_at) == (T1, T2)
    assert done.settings == {"seed": 3, "repeats": 1, "concurrency": 2} and done.seed == 3
    assert store.latest("completed") == done
    assert store.latest() == store.get("clean_000000000002")
    assert [r.run_id for r in store.unfinished()] == ["clean_000000000002"]
    store.set_status("clean_000000000002", "cancelled", at=T2, error="cancelled by root")
    store.set_status("clean_000000000002", "running", at=T2)  # a cancelled run is never moved on
    assert present(store.get("clean_000000000002")).status == "cancelled"
    assert store.unfinished() == []
    store.add_result("clean_000000000002", ("m", "t.uniqueness.easy", 0), {"f1": 1.0})
    assert store.delete("clean_000000000002") is True
    assert store.get("clean_000000000002") is None and store.results("clean_000000000002") == []
    assert store.delete("clean_000000000002") is False


def test_a_result_is_written_once_per_model_task_and_repeat(store: CleaningStore) -> None:
    store.create(_run("clean_000000000001", T0))
    key = ("offline-rules", "t.uniqueness.easy", 0)
    row = {"model": "offline-rules", "f1": 0.5, "drift_score": float("nan"), "actions": [1, 2]}

    assert store.add_result("clean_000000000001", key, row) is True
    assert store.add_result("clean_000000000001", key, {**row, "f1": 1.0}) is False

    assert store.done("clean_000000000001") == {key}
    assert store.results("clean_000000000001") == [{**row, "drift_score": None}]
    assert store.results("clean_000000000002") == []


def test_a_run_past_its_queues_caps_is_refused_and_nothing_is_stored(
    store: CleaningStore,
) -> None:
    limits = QueueLimits("cleaning runs", max_pending=3, per_user=2, retry_after_s=9)
    store.create(_run("clean_a1", T0, created_by="ann"), limits)
    store.create(_run("clean_a2", T0, created_by="ann"), limits)
    with pytest.raises(ServiceBusy) as mine:
        store.create(_run("clean_a3", T0, created_by="ann"), limits)
    assert mine.value.detail.startswith("You already have 2 cleaning runs queued or running")
    assert mine.value.retry_after_s == 9 and store.get("clean_a3") is None
    store.create(_run("clean_b1", T0, created_by="bob"), limits)
    with pytest.raises(ServiceBusy) as everyone:
        store.create(_run("clean_c1", T0, created_by="cat"), limits)
    assert everyone.value.detail.startswith("3 cleaning runs are already queued or running")
    assert store.get("clean_c1") is None
    store.set_status("clean_a1", "failed", at=T1, error="boom")  # a finished run frees its place
    store.create(_run("clean_c1", T1, created_by="cat"), limits)
    assert store.get("clean_c1") is not None
