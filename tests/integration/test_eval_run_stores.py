"""The evaluation dataset and run stores, on real databases: every test runs on SQLite and on
PostgreSQL (`backend` fixture), through the ports only, and on the in-memory fakes the unit
tests use (all but the test that races two stores on one database)."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from services.evaluation.run_store import DatasetStore, RunStore
from tests.fakes.evaluation import InMemoryDatasetStore, InMemoryRunStore
from tests.store_backends import (
    WITH_MEMORY,
    AppDb,
    open_app_db_or_memory,
    open_store,
    real_backends,
)
from use_cases.evaluation.run_domain import PromptRef, RunRecord, RunSettings, StoredDataset
from use_cases.jobs.queue import QueueLimits
from use_cases.shared.errors import ServiceBusy

T0 = "2026-03-02T12:00:00+00:00"
T1 = "2026-03-02T12:00:01+00:00"
T2 = "2026-03-02T12:00:02+00:00"


@pytest.fixture(params=WITH_MEMORY)
def backend(request: pytest.FixtureRequest) -> str:
    """A real backend, or the in-memory fakes the unit tests use (`tests/fakes/evaluation.py`)."""
    return str(request.param)


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    yield from open_app_db_or_memory(backend, tmp_path, request)


@pytest.fixture
def datasets(app_db: AppDb | None):
    yield from open_store(app_db, InMemoryDatasetStore, DatasetStore)


@pytest.fixture
def runs(app_db: AppDb | None):
    yield from open_store(app_db, InMemoryRunStore, RunStore)


def _dataset(dataset_id: str, version: str, at: str, name: str = "Three") -> StoredDataset:
    return StoredDataset(
        id=dataset_id,
        name=name,
        version=version,
        description="three cases",
        source="upload",
        fmt="jsonl",
        text='{"id": "a", "question": "q?"}\n',
        created_at=at,
        cases=1,
    )


def _run(run_id: str, at: str, **extra: Any) -> RunRecord:
    values: dict[str, Any] = {
        "run_id": run_id,
        "status": "queued",
        "task_id": "three",
        "task_version": "v1",
        "models": ("test:b", "test:a"),
        "prompt_version": PromptRef("chat", 2),
        "settings": RunSettings(
            2, 5, ("typo",), 7, ({"type": "contains", "value": "x"},), 10, ("t",)
        ),
        "created_by": "root",
        "created_at": at,
        "total": 6,
    }
    values.update(extra)
    return RunRecord(**values)


def test_a_dataset_version_is_stored_once_and_the_first_upload_is_reported(datasets) -> None:
    first = datasets.put(_dataset("three", "h1", T0))
    again = datasets.put(_dataset("three", "h1", T1, name="Renamed"))
    assert again == first == _dataset("three", "h1", T0)
    assert datasets.version("three", "h1") == first
    assert datasets.version("three", "h2") is None and datasets.latest("nope") is None


def test_latest_and_list_give_the_newest_version_of_each_dataset_by_id(datasets) -> None:
    datasets.put(_dataset("zeta", "h1", T0))
    datasets.put(_dataset("alpha", "h1", T0))
    datasets.put(_dataset("alpha", "h2", T2))
    datasets.put(_dataset("alpha", "h3", T1))
    datasets.put(_dataset("Beta", "h1", T0))
    datasets.put(_dataset("zeta", "h2", T0))  # same time: the later insert wins
    assert datasets.latest("alpha").version == "h2"
    assert [(d.id, d.version) for d in datasets.list()] == [
        ("Beta", "h1"),  # byte order, as SQLite: capitals first
        ("alpha", "h2"),
        ("zeta", "h2"),
    ]


def test_an_edit_back_to_earlier_content_is_the_latest_and_a_delete_takes_every_version(
    datasets, runs
) -> None:
    first = datasets.put(_dataset("a", "v1", T0))
    datasets.put(_dataset("a", "v2", T1))
    datasets.put(_dataset("b", "v1", T0))
    again = replace(first, name="Renamed", created_at=T1)
    assert datasets.put_latest(again) == again
    assert datasets.latest("a") == again and datasets.version("a", "v1") == again
    assert [d.version for d in datasets.list() if d.id == "a"] == ["v1"]
    assert datasets.put_latest(_dataset("a", "v3", T2)).version == "v3"
    assert datasets.latest("a").version == "v3"
    runs.create(replace(_run("run_1", T0), task_id="a"))
    assert (runs.dataset_runs("a"), runs.dataset_runs("b")) == (1, 0)
    assert datasets.delete("a") == 3
    assert datasets.latest("a") is None and datasets.version("a", "v1") is None
    assert datasets.delete("a") == 0 and datasets.latest("b") is not None


def test_a_run_reads_back_whole_and_moves_through_its_statuses(runs) -> None:
    run = _run("run_1", T0)
    runs.create(run)
    assert runs.get("run_1") == run and runs.get("nope") is None
    runs.set_status("run_1", "running", at=T1)
    runs.set_status("run_1", "running", at=T2)  # started once
    assert (runs.get("run_1").started_at, runs.get("run_1").finished_at) == (T1, None)
    runs.set_status("run_1", "failed", at=T2, error="boom")
    assert runs.get("run_1") == replace(
        run, status="failed", started_at=T1, finished_at=T2, error="boom"
    )
    runs.set_status("run_1", "queued", at=T2)
    assert runs.get("run_1").finished_at is None and runs.get("run_1").error is None
    runs.set_status("run_1", "cancelled", at=T2, error="cancelled by root")
    runs.set_status("run_1", "running", at=T2)  # a run cancelled is never moved on
    runs.set_status("run_1", "completed", at=T2)
    assert (runs.get("run_1").status, runs.get("run_1").error) == ("cancelled", "cancelled by root")
    runs.add_row("run_1", ("m", "q1", "clean"), {"ok": True})
    assert runs.delete("run_1") is True and runs.get("run_1") is None and runs.rows("run_1") == []
    assert runs.delete("run_1") is False
    runs.create(_run("run_2", T0, prompt_version=None, models=("m",)))
    assert runs.get("run_2").prompt_version is None


def test_a_cancelled_run_keeps_its_rows_and_no_status_moves_it_on(runs) -> None:
    runs.create(_run("run_1", T0))
    runs.set_status("run_1", "running", at=T1)
    assert runs.add_row("run_1", ("m", "a", "clean"), {"case_id": "a"})
    assert runs.cancel("run_1", at=T2)
    cancelled = runs.get("run_1")
    assert (cancelled.status, cancelled.started_at, cancelled.finished_at) == (
        "cancelled",
        T1,
        T2,
    )
    runs.set_status("run_1", "completed", at=T2)  # a worker finishing late changes nothing
    runs.set_status("run_1", "running", at=T2)
    assert runs.get("run_1") == cancelled and runs.done("run_1") == {("m", "a", "clean")}
    assert not runs.cancel("run_1", at=T2)
    assert [r.run_id for r in runs.unfinished()] == []
    runs.create(_run("run_2", T0))
    runs.set_status("run_2", "completed", at=T1)
    assert not runs.cancel("run_2", at=T2) and runs.get("run_2").status == "completed"
    assert not runs.cancel("run_nope", at=T2)


def test_runs_are_listed_newest_first_and_unfinished_oldest_first(runs) -> None:
    runs.create(_run("run_a", T1))
    runs.create(_run("run_b", T0))
    runs.create(_run("run_c", T1))
    runs.create(_run("run_d", T2, status="completed"))
    assert [r.run_id for r in runs.list(10, 0)] == ["run_d", "run_c", "run_a", "run_b"]
    assert [r.run_id for r in runs.list(2, 1)] == ["run_c", "run_a"]
    assert runs.latest().run_id == "run_d"
    assert runs.latest("queued").run_id == "run_c"
    assert runs.latest("cancelled") is None
    runs.set_status("run_a", "running", at=T2)
    assert [r.run_id for r in runs.unfinished()] == ["run_b", "run_a", "run_c"]


def test_rows_are_recorded_once_in_order_with_progress(runs) -> None:
    runs.create(_run("run_1", T0))
    other = {"z": 1, "case_id": "b", "error": None, "scores": {"y": 0.5, "x": 1}}
    assert runs.add_row("run_1", ("m", "b", "clean"), other) is True
    assert runs.add_row("run_1", ("m", "a", "clean"), {"case_id": "a", "error": "timeout"})
    assert runs.add_row("run_1", ("m", "b", "clean"), {"case_id": "b", "again": True}) is False
    assert runs.add_row("run_1", ("m", "b", "typo"), {"case_id": "b"}) is True
    assert runs.done("run_1") == {("m", "b", "clean"), ("m", "a", "clean"), ("m", "b", "typo")}
    rows = runs.rows("run_1")
    assert rows == [other, {"case_id": "a", "error": "timeout"}, {"case_id": "b"}]
    assert list(rows[0]) == ["z", "case_id", "error", "scores"]  # keys in the order written
    assert list(rows[0]["scores"]) == ["y", "x"]
    assert runs.progress("run_1") == (3, 1)
    assert runs.progress("nope") == (0, 0) and runs.rows("nope") == [] and runs.done("x") == set()


@real_backends
def test_a_score_that_is_not_a_number_is_recorded_as_null(app_db: AppDb) -> None:
    """JSON has no NaN: the row is kept (SQLite's check would refuse it and its insert-once
    would then drop it silently), its score read back as null."""
    runs = app_db.open(RunStore)
    runs.create(_run("run_1", T0))
    row = {"case_id": "a", "error": None, "scores": {"f1": float("nan"), "ok": [1.0, float("inf")]}}
    assert runs.add_row("run_1", ("m", "a", "clean"), row) is True
    assert runs.rows("run_1") == [
        {"case_id": "a", "error": None, "scores": {"f1": None, "ok": [1.0, None]}}
    ]
    assert runs.progress("run_1") == (1, 0)


@real_backends
def test_two_executions_of_one_run_never_record_an_item_twice(app_db: AppDb) -> None:
    """Two replicas resuming the same run at once: each item is kept from exactly one."""
    runs = app_db.open(RunStore)
    runs.create(_run("run_1", T0))
    keys = [("m", f"case{n}", "clean") for n in range(30)]
    start = threading.Barrier(2)
    won: dict[str, int] = {}

    def execute(name: str) -> None:
        mine = app_db.open_apart(RunStore)
        start.wait()
        won[name] = sum(mine.add_row("run_1", key, {"by": name}) for key in keys)
        mine.close()

    threads = [threading.Thread(target=execute, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert won["a"] + won["b"] == 30
    assert runs.progress("run_1") == (30, 0)
    assert len(runs.rows("run_1")) == 30
    runs.close()


LIMITS = QueueLimits("evaluation runs", max_pending=3, per_user=2, retry_after_s=17)


def test_a_run_past_its_queues_caps_is_refused_and_nothing_is_stored(runs) -> None:
    """Each admin's runs queued or running are capped, and everyone's: a finished run frees
    its place, a running one holds it."""
    runs.create(_run("run_a1", T0, created_by="ann"), LIMITS)
    runs.create(_run("run_a2", T0, created_by="ann"), LIMITS)
    with pytest.raises(ServiceBusy) as mine:
        runs.create(_run("run_a3", T0, created_by="ann"), LIMITS)
    assert mine.value.detail.startswith("You already have 2 evaluation runs queued or running")
    assert mine.value.retry_after_s == 17 and runs.get("run_a3") is None
    runs.create(_run("run_b1", T0, created_by="bob"), LIMITS)  # ann's share leaves room
    with pytest.raises(ServiceBusy) as everyone:
        runs.create(_run("run_c1", T0, created_by="cat"), LIMITS)
    assert everyone.value.detail.startswith(
        "3 evaluation runs are already queued or running (at most 3 at once)"
    )
    assert everyone.value.retry_after_s == 17 and runs.get("run_c1") is None

    runs.set_status("run_a1", "running", at=T1)
    with pytest.raises(ServiceBusy):
        runs.create(_run("run_c1", T1, created_by="cat"), LIMITS)
    runs.set_status("run_a1", "completed", at=T2)
    runs.create(_run("run_c1", T2, created_by="cat"), LIMITS)
    assert [r.run_id for r in runs.unfinished()] == ["run_a2", "run_b1", "run_c1"]


@real_backends
def test_concurrent_starts_cannot_overshoot_the_cap(app_db: AppDb) -> None:
    """Eight replicas starting a run at once, room for three: exactly three are stored."""
    limits = QueueLimits("evaluation runs", max_pending=3, retry_after_s=5)
    start = threading.Barrier(8)
    refused: list[str] = []

    def create(n: int) -> None:
        mine = app_db.open_apart(RunStore)
        start.wait()
        try:
            mine.create(_run(f"run_{n}", T0, created_by=f"user{n}"), limits)
        except ServiceBusy:
            refused.append(f"run_{n}")
        finally:
            mine.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    runs = app_db.open(RunStore)
    assert len(runs.unfinished()) == 3 and len(refused) == 5
    runs.close()
