"""The job queue on both backends (a table in SQLite's app.db, a shared table on PostgreSQL):
order, states, progress, limits, shutting down, a dead worker's job taken over and finished (at
once when its process is known dead), and on PostgreSQL several replicas sharing the jobs, a
stalled one stopping."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
import sqlean as sqlite3
from opentelemetry import trace

from services import job_queue, job_store
from services.job_queue import MAX_ATTEMPTS, JobStore, QueueLimits, WorkerJobQueue
from services.observability.metrics import Metrics
from services.postgres import PgDatabase
from services.presence import (
    PRUNE_AFTER_S,
    FilePresence,
    PgPresence,
    Presence,
    wait_until_dead,
)
from tests.fakes.jobs import MemoryJobStore
from tests.narrowing import present
from use_cases.jobs.queue import JobRun, JobView, run_blocking
from use_cases.shared.errors import (
    DatabaseUnavailable,
    InvalidDocument,
    JobCancelled,
    ServiceBusy,
)

INGEST, EVAL = "ingest_upload", "eval_run"


class Backend:
    """Job stores on one backend: `store()` is one more process's store of the same jobs."""

    def __init__(self, name: str, pg_url: str | None, directory: Path) -> None:
        self.name = name
        self._url = pg_url
        self._directory = directory
        self._memory = MemoryJobStore()
        self._databases: list[PgDatabase] = []
        self._presences: list[Presence] = []

    @property
    def durable(self) -> bool:
        return self.name != "memory"

    def presence(self) -> Presence:
        """One more process's presence (closing it is that process dying)."""
        made: Presence = (
            PgPresence(self._url) if self._url else FilePresence(self._directory / "processes")
        )
        self._presences.append(made)
        return made

    def store(self, presence: Presence | None = None) -> JobStore:
        if self.name == "memory":
            return self._memory
        if self._url is None:
            return job_store.JobStore(self._directory / "app.db", presence=presence)
        database = PgDatabase(self._url, max_size=4)
        self._databases.append(database)
        return job_store.JobStore(database, presence=presence)

    def age(self, store: JobStore, job_id: str) -> None:
        """The job's worker stopped sending heartbeats an hour ago (it died)."""
        if isinstance(store, MemoryJobStore):
            store.age(job_id, 3600)
            return
        if self._url is None:
            with sqlite3.connect(self._directory / "app.db") as conn:
                conn.execute(
                    "UPDATE jobs SET heartbeat_at = '2000-01-01T00:00:00+00:00' WHERE id = ?",
                    (job_id,),
                )
            return
        with self._databases[0].connection() as conn:
            conn.execute(
                "UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = %s",
                (job_id,),
            )

    def sql(self, query: str) -> list[dict[str, Any]]:
        if self._url is None:
            conn = sqlite3.connect(self._directory / "app.db")
            conn.row_factory = sqlite3.Row
            try:
                return [dict(row) for row in conn.execute(query)]
            finally:
                conn.close()
        with self._databases[0].connection() as pg:
            return pg.execute(query).fetchall()

    def close(self) -> None:
        for presence in self._presences:
            presence.close()
        for database in self._databases:
            database.close()


@pytest.fixture
def jobs_backend(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    url = str(request.getfixturevalue("pg_url")) if backend == "postgresql" else None
    made = Backend(backend, url, tmp_path)
    yield made
    made.close()


@pytest.fixture
def pg_jobs(pg_url: str, tmp_path: Path) -> Iterator[Backend]:
    made = Backend("postgresql", pg_url, tmp_path)
    yield made
    made.close()


def _queue(store: JobStore, **handlers: Callable[[JobRun], Any]) -> WorkerJobQueue:
    queue = WorkerJobQueue(store, poll_s=0.05)
    for kind, handler in handlers.items():
        queue.register(kind, handler, concurrency=1, limits=QueueLimits("test jobs", max_pending=3))
    return queue


def _wait(queue: WorkerJobQueue, job_id: str, *statuses: str) -> JobView:
    for _ in range(1000):
        job = queue.get(job_id)
        if job is not None and job.status in statuses:
            return job
        time.sleep(0.01)
    raise AssertionError(f"job never reached {statuses}: {queue.get(job_id)}")


def _blocking(function: Callable[[JobRun], Any]) -> Callable[[JobRun], Any]:
    """A handler doing blocking work in a thread, as the ingest handler does."""

    async def handler(run: JobRun) -> Any:
        return await run_blocking(lambda: function(run))

    return handler


def test_a_job_goes_queued_running_done_with_progress_payload_and_bytes(
    jobs_backend: Backend,
) -> None:
    gate = threading.Event()
    seen: list[tuple[Any, bytes | None]] = []

    def work(run: JobRun) -> dict[str, Any]:
        seen.append((dict(run.payload), run.data))
        run.progress(1, 2)
        gate.wait(10)
        run.progress(2, 2)
        return {"chunks": 2}

    queue = _queue(jobs_backend.store(), ingest_upload=_blocking(work))
    try:
        first = queue.submit(INGEST, "a.md", {"n": 1}, data=b"\x00bytes", created_by="root")
        second = queue.submit(INGEST, "b.md", {"n": 2})
        assert (first.status, first.kind, first.created_by) == ("queued", INGEST, "root")
        running = _wait(queue, first.id, "running")
        for _ in range(1000):  # "running" is recorded before the handler reports progress
            if (running.chunks_done, running.chunks_total) == (1, 2):
                break
            time.sleep(0.01)
            running = present(queue.get(first.id))
        assert (running.chunks_done, running.chunks_total) == (1, 2)
        assert queue.get(second.id).status == "queued"  # type: ignore[union-attr]  # one at a time

        gate.set()
        done = _wait(queue, second.id, "done")
        first_done = queue.get(first.id)
    finally:
        queue.close()
    assert first_done is not None and first_done.status == "done"
    assert (first_done.chunks_done, first_done.chunks_total) == (2, 2)
    assert first_done.started_at is not None and first_done.finished_at is not None
    assert seen == [({"n": 1}, b"\x00bytes"), ({"n": 2}, None)]
    assert done.result is None  # no decoder registered: the JSON result is not shown
    if jobs_backend.durable:
        assert jobs_backend.sql("SELECT count(*) AS n FROM job_blobs") == [{"n": 0}]


def test_failed_jobs_are_counted_and_queued_ones_reported_by_kind(jobs_backend: Backend) -> None:
    gate = threading.Event()

    def work(run: JobRun) -> None:
        if run.payload.get("fail"):
            raise RuntimeError("broken")
        gate.wait(10)

    store = jobs_backend.store()
    metrics = Metrics()
    metrics.watch_queue(store.waiting)
    queue = _queue(store, ingest_upload=_blocking(work))
    queue.watch(on_failure=metrics.job_failed, tracer=trace.NoOpTracer())

    def sample(name: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"kind": INGEST})

    try:
        first = queue.submit(INGEST, "a.md", {})
        _wait(queue, first.id, "running")
        failing = queue.submit(INGEST, "b.md", {"fail": True})
        assert sample("almanac_jobs_queued") == 1
        gate.set()
        _wait(queue, failing.id, "failed")
        _wait(queue, first.id, "done")
    finally:
        queue.close()
    assert sample("almanac_jobs_queued") is None  # nothing waits any more
    assert sample("almanac_job_failures_total") == 1


def test_a_failure_still_being_stored_when_the_queue_closes_is_counted() -> None:
    """The failed status can be visible (another process reads it) before the worker has
    counted the failure; closing the queue then must not lose the count."""
    stored, release = threading.Event(), threading.Event()

    class SlowToRecordFailures(MemoryJobStore):
        def fail(self, job_id: str, worker: str, error: Any) -> bool:
            recorded = super().fail(job_id, worker, error)
            stored.set()
            release.wait(10)
            return recorded

    def work(run: JobRun) -> None:
        raise RuntimeError("broken")

    failures: list[str] = []
    queue = _queue(SlowToRecordFailures(), ingest_upload=_blocking(work))
    queue.watch(on_failure=failures.append, tracer=trace.NoOpTracer())
    queue.submit(INGEST, "a.md", {})
    assert stored.wait(10)
    closing = threading.Thread(target=queue.close)
    closing.start()  # cancels the job's task while the store still records its failure
    for _ in range(1000):
        if failures:
            break
        time.sleep(0.01)
    release.set()
    closing.join(30)
    assert failures == [INGEST]


def test_a_failing_job_reports_the_domain_error_and_hides_an_unexpected_one(
    jobs_backend: Backend,
) -> None:
    async def handler(run: JobRun) -> None:
        if run.payload["bad"] == "domain":
            raise InvalidDocument("The title is missing.")
        raise RuntimeError("secret internals")

    queue = _queue(jobs_backend.store(), ingest_upload=handler)
    try:
        domain = queue.submit(INGEST, "a.md", {"bad": "domain"})
        internal = queue.submit(INGEST, "b.md", {"bad": "internal"})
        domain_done = _wait(queue, domain.id, "failed")
        internal_done = _wait(queue, internal.id, "failed")
    finally:
        queue.close()
    assert domain_done.error is not None and internal_done.error is not None
    assert (domain_done.error.type, domain_done.error.detail) == (
        InvalidDocument.type,
        "The title is missing.",
    )
    assert internal_done.error.type == "internal_error"
    assert "secret" not in internal_done.error.detail


def test_a_full_queue_refuses_more_and_a_unique_job_is_queued_once(jobs_backend: Backend) -> None:
    gate = threading.Event()
    queue = _queue(
        jobs_backend.store(),
        ingest_upload=_blocking(lambda run: gate.wait(10) and None),
        eval_run=_blocking(lambda run: gate.wait(10) and None),
    )
    try:
        for name in ("a.md", "b.md", "c.md"):
            queue.submit(INGEST, name, {})
        with pytest.raises(ServiceBusy, match="3 test jobs are already queued or running"):
            queue.submit(INGEST, "d.md", {})
        run = queue.submit(EVAL, "run", {"run_id": "r1"}, unique_key="r1")
        again = queue.submit(EVAL, "run", {"run_id": "r1"}, unique_key="r1")
        other = queue.submit(EVAL, "run", {"run_id": "r2"}, unique_key="r2")
        assert again.id == run.id and other.id != run.id
        gate.set()
        _wait(queue, run.id, "done")
        after = queue.submit(EVAL, "run", {"run_id": "r1"}, unique_key="r1")
        assert after.id != run.id  # the first one ended: a new job
        _wait(queue, after.id, "done")
    finally:
        queue.close()


def test_closing_cancels_the_running_job_at_its_next_progress_report(
    jobs_backend: Backend,
) -> None:
    started, release = threading.Event(), threading.Event()
    reports: list[str] = []

    def work(run: JobRun) -> None:
        started.set()
        release.wait(10)
        try:
            run.progress(1, 10)
        except JobCancelled:
            reports.append("cancelled")
            raise

    store = jobs_backend.store()
    queue = _queue(store, ingest_upload=_blocking(work))
    running = queue.submit(INGEST, "a.md", {})
    waiting = queue.submit(INGEST, "b.md", {})
    assert started.wait(10)
    closer = threading.Thread(target=queue.close)
    closer.start()
    release.set()
    closer.join(30)

    assert reports == ["cancelled"]
    with pytest.raises(ServiceBusy, match="shutting down"):
        queue.submit(INGEST, "c.md", {})
    after_running, after_waiting = store.get(running.id), store.get(waiting.id)
    assert after_running is not None and after_waiting is not None
    if jobs_backend.durable:  # both stay for another replica or the next start
        assert (after_running.status, after_waiting.status) == ("queued", "queued")
    else:  # nothing in memory outlives the process
        assert (after_running.status, after_waiting.status) == ("failed", "failed")
        assert after_running.error is not None and after_running.error.type == "job_cancelled"


def test_a_job_that_stops_itself_as_the_queue_closes_is_handed_back(
    jobs_backend: Backend,
) -> None:
    """The job notices the close at a progress report and stops; its hand-back is waiting for
    a thread when the closing queue cancels the task. The hand-back is still made: a write
    dropped there left the job `running` with no worker and no warning (`almanac ingest
    --no-wait` ending while its prepare_answers job ran). Made deterministic by giving the
    job's loop one thread, held until the job's task has ended."""
    started = threading.Event()

    def hold_the_only_thread(run: Any) -> None:
        for _ in range(10_000):  # 10 s at most
            if run.task is not None and run.task.done():
                return
            time.sleep(0.001)

    async def work(run: JobRun) -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        loop.run_in_executor(None, hold_the_only_thread, run)
        started.set()
        while True:  # holds the loop, so the job stops before the queue's loop sees the close
            time.sleep(0.001)  # noqa: ASYNC251 - the loop is held on purpose
            run.progress(0, 1)  # JobCancelled once the queue is closing

    store = jobs_backend.store()
    queue = _queue(store, ingest_upload=work)
    job = queue.submit(INGEST, "a.md", {})
    assert started.wait(10)
    queue.close()

    after = store.get(job.id)
    assert after is not None
    if jobs_backend.durable:  # another replica or the next start runs it
        assert after.status == "queued"
    else:  # nothing in memory outlives the process
        assert (after.status, after.error and after.error.type) == ("failed", "job_cancelled")


def test_one_users_jobs_cannot_fill_the_queue_for_everyone(jobs_backend: Backend) -> None:
    store = jobs_backend.store()
    limits = QueueLimits("export imports", max_pending=3, per_user=2, retry_after_s=17)

    def add(user: str) -> None:
        store.add(INGEST, "x", {}, data=None, created_by=user, unique_key=None, limits=limits)

    add("ann")
    add("ann")
    with pytest.raises(ServiceBusy) as mine:
        add("ann")
    assert "You already have 2 export imports" in mine.value.detail
    assert mine.value.retry_after_s == 17
    add("bob")  # ann's full share leaves room for others
    with pytest.raises(ServiceBusy) as everyone:
        add("cat")
    assert "3 export imports are already queued or running" in everyone.value.detail
    assert everyone.value.retry_after_s == 17


def test_a_job_whose_worker_died_is_taken_over_and_finished(jobs_backend: Backend) -> None:
    store = jobs_backend.store()
    job_id = store.add(
        INGEST,
        "a.md",
        {"n": 1},
        data=b"payload",
        created_by=None,
        unique_key=None,
        limits=None,
    ).id
    claimed = store.claim([INGEST], "dying-worker")  # a worker takes it...
    assert claimed is not None and claimed.id == job_id
    assert store.claim([INGEST], "another") is None  # ...claimed, and alive: not claimable
    store.progress(job_id, "dying-worker", 3, 10)
    jobs_backend.age(store, job_id)  # ...then it died: no heartbeat for an hour

    ran: list[tuple[Any, bytes | None]] = []

    async def handler(run: JobRun) -> dict[str, Any]:
        ran.append((dict(run.payload), run.data))
        return {"ok": True}

    survivor = _queue(jobs_backend.store(), ingest_upload=handler)
    try:
        survivor.start()
        done = _wait(survivor, job_id, "done")
    finally:
        survivor.close()
    assert ran == [({"n": 1}, b"payload")]  # the bytes were still there for the new worker
    stored = store.get(job_id)
    assert stored is not None and stored.attempts == 2 and done.status == "done"
    # The dead worker, were it to come back, changes nothing any more.
    assert not store.progress(job_id, "dying-worker", 4, 10)
    assert not store.complete(job_id, "dying-worker", {"late": True})
    assert present(store.get(job_id)).result == {"ok": True}


def test_a_job_that_kept_killing_its_worker_is_failed_not_tried_again(
    jobs_backend: Backend,
) -> None:
    store = jobs_backend.store()
    job = store.add(INGEST, "a.md", {}, data=None, created_by=None, unique_key=None, limits=None)
    for attempt in range(MAX_ATTEMPTS):
        claimed = store.claim([INGEST], f"worker-{attempt}")
        assert claimed is not None and claimed.attempt == attempt + 1
        jobs_backend.age(store, job.id)

    assert store.claim([INGEST], "next") is None
    failed = store.get(job.id)
    assert failed is not None and failed.status == "failed" and failed.error is not None
    assert f"{MAX_ATTEMPTS} times" in failed.error.detail


# --- riding out a database outage -------------------------------------------------------------


class _CutOff:
    """A worker's store that cannot reach the database for its first `failures` claims (as
    the database's adapter says it: `DatabaseUnavailable`)."""

    def __init__(self, store: JobStore, failures: int) -> None:
        self._store = store
        self.failures = failures

    def claim(self, kinds: Any, worker: str, *, take_over: bool = True) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise DatabaseUnavailable("The database is unreachable: connection refused.")
        return self._store.claim(kinds, worker, take_over=take_over)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _outage_queue(store: Any, handler: Callable[[JobRun], Any], **options: Any) -> WorkerJobQueue:
    queue = WorkerJobQueue(cast(JobStore, store), poll_s=0.05, **options)
    queue.register(INGEST, handler)
    return queue


def test_a_job_the_database_failed_runs_again_without_counting_an_attempt(
    jobs_backend: Backend, monkeypatch: pytest.MonkeyPatch, logged: list[tuple[str, str, str]]
) -> None:
    monkeypatch.setattr(job_queue, "RETRY_FIRST_S", 0.01)
    ran: list[int] = []

    async def handler(run: JobRun) -> dict[str, Any]:
        ran.append(len(ran))
        if len(ran) < 3:  # the database is away for its first two runs
            raise DatabaseUnavailable("The database is unreachable: connection refused.")
        return {"ok": True}

    queue = _outage_queue(jobs_backend.store(), handler)
    try:
        job = queue.submit(INGEST, "a.md", {})
        done = _wait(queue, job.id, "done", "failed")
    finally:
        queue.close()
    assert (done.status, done.error) == ("done", None)
    assert ran == [0, 1, 2]
    assert present(jobs_backend.store().get(job.id)).attempts == 1  # not the job's fault
    waits = [m for level, _, m in logged if level == "WARNING" and "waits for the database" in m]
    assert len(waits) == 2 and job.id in waits[0]


def test_a_job_fails_as_database_unavailable_once_its_outage_budget_is_spent(
    jobs_backend: Backend, monkeypatch: pytest.MonkeyPatch, logged: list[tuple[str, str, str]]
) -> None:
    monkeypatch.setattr(job_queue, "RETRY_FIRST_S", 0.01)
    ran: list[int] = []

    async def handler(run: JobRun) -> None:
        ran.append(len(ran))
        raise DatabaseUnavailable("The database is unreachable: connection refused.")

    queue = _outage_queue(jobs_backend.store(), handler, outage_budget_s=0.3)
    try:
        job = queue.submit(INGEST, "a.md", {})
        failed = _wait(queue, job.id, "done", "failed")
    finally:
        queue.close()
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.type == "database_unavailable"
    assert "JOB_OUTAGE_BUDGET_SECONDS" in failed.error.detail
    assert "connection refused" in failed.error.detail
    assert len(ran) > 1, "run again before the budget was spent"
    assert any(level == "ERROR" and job.id in m for level, _, m in logged)


def test_a_worker_cut_off_from_the_database_takes_no_job_over_until_its_grace_has_passed(
    jobs_backend: Backend, logged: list[tuple[str, str, str]]
) -> None:
    """After an outage of its own, a worker runs queued jobs but leaves a job whose
    heartbeat went stale meanwhile to its owner (cut off too, as far as it knows) until it
    has reached the database for `takeover_grace_s`. A worker without an outage takes the
    job over, and its claim names the previous worker."""
    store = jobs_backend.store()

    def add(name: str) -> str:
        return store.add(
            INGEST, name, {}, data=None, created_by=None, unique_key=None, limits=None
        ).id

    stale = add("a.md")
    assert present(store.claim([INGEST], "cut-off-owner")).id == stale
    jobs_backend.age(store, stale)  # no heartbeat got through during the outage
    queued = add("b.md")
    ran: list[str] = []

    async def handler(run: JobRun) -> dict[str, Any]:
        ran.append(run.id)
        return {}

    cut_off = _CutOff(jobs_backend.store(), failures=3)
    queue = _outage_queue(cut_off, handler, takeover_grace_s=3600)
    try:
        queue.start()
        _wait(queue, queued, "done")
    finally:
        queue.close()
    assert cut_off.failures == 0 and ran == [queued]
    kept = present(store.get(stale))
    assert (kept.status, kept.attempts) == ("running", 1), "left to its owner"

    taken = present(store.claim([INGEST], "connected-worker"))
    assert (taken.id, taken.previous_worker, taken.attempt) == (stale, "cut-off-owner", 2)


def test_the_worker_that_takes_a_job_over_logs_it_with_the_previous_worker(
    jobs_backend: Backend, logged: list[tuple[str, str, str]]
) -> None:
    store = jobs_backend.store()
    job_id = store.add(
        INGEST, "a.md", {}, data=None, created_by=None, unique_key=None, limits=None
    ).id
    assert present(store.claim([INGEST], "dead-worker")).previous_worker is None
    jobs_backend.age(store, job_id)

    async def handler(run: JobRun) -> dict[str, Any]:
        return {}

    queue = _outage_queue(jobs_backend.store(), handler)
    try:
        queue.start()
        _wait(queue, job_id, "done")
    finally:
        queue.close()
    taken = [m for level, _, m in logged if level == "WARNING" and m.startswith("Took job")]
    assert len(taken) == 1 and job_id in taken[0] and "dead-worker" in taken[0]


def test_a_job_taken_over_is_cleaned_up_after_before_it_runs_again(
    jobs_backend: Backend,
) -> None:
    """What the previous worker left for the job (its staged rows) goes at the takeover,
    before the job runs again; a job claimed from the queue is not cleaned up after."""
    store = jobs_backend.store()

    def add(name: str) -> str:
        return store.add(
            INGEST, name, {}, data=None, created_by=None, unique_key=None, limits=None
        ).id

    stale = add("a.md")
    assert present(store.claim([INGEST], "dead-worker")).id == stale
    jobs_backend.age(store, stale)
    fresh = add("b.md")
    events: list[str] = []

    async def handler(run: JobRun) -> dict[str, Any]:
        events.append(f"ran {run.id}")
        return {}

    queue = _outage_queue(jobs_backend.store(), handler)
    queue.on_take_over(lambda job_id: events.append(f"cleaned {job_id}"))
    try:
        queue.start()
        _wait(queue, stale, "done")
        _wait(queue, fresh, "done")
    finally:
        queue.close()
    assert events == [f"cleaned {stale}", f"ran {stale}", f"ran {fresh}"]


# --- several replicas on one PostgreSQL --------------------------------------------------------


def test_replicas_share_the_jobs_each_runs_once_and_one_ingest_at_a_time(
    pg_jobs: Backend,
) -> None:
    lock = threading.Lock()
    running: dict[str, int] = {}  # job id -> executions in progress
    per_worker: dict[str, int] = {}  # ingest jobs in progress per replica
    executions: list[tuple[str, str]] = []
    overlaps: list[str] = []

    def handler_for(worker: str) -> Callable[[JobRun], Any]:
        async def handler(run: JobRun) -> dict[str, Any]:
            kind = str(run.payload["kind"])
            with lock:
                running[run.id] = running.get(run.id, 0) + 1
                if running[run.id] > 1:
                    overlaps.append(f"job {run.id} twice at once")
                if kind == INGEST:
                    per_worker[worker] = per_worker.get(worker, 0) + 1
                    if per_worker[worker] > 1:
                        overlaps.append(f"two ingests at once on {worker}")
                executions.append((run.id, worker))
            await asyncio.sleep(0.01)
            with lock:
                running[run.id] -= 1
                if kind == INGEST:
                    per_worker[worker] -= 1
            return {"by": worker}

        return handler

    replicas = []
    for number in range(3):
        queue = WorkerJobQueue(pg_jobs.store(), poll_s=0.02, worker_id=f"replica-{number}")
        queue.register(INGEST, handler_for(f"replica-{number}"), concurrency=1)
        queue.register(EVAL, handler_for(f"replica-{number}"), concurrency=2)
        replicas.append(queue)
    try:
        submitted = []
        for number in range(24):
            kind = INGEST if number % 2 else EVAL
            queue = replicas[number % 3]
            submitted.append(queue.submit(kind, f"job-{number}", {"kind": kind}).id)
        for queue in replicas:
            queue.start()
        finished = [_wait(replicas[0], job_id, "done", "failed") for job_id in submitted]
    finally:
        for queue in replicas:
            queue.close()

    assert overlaps == []
    assert [job.status for job in finished] == ["done"] * 24
    assert sorted(job_id for job_id, _ in executions) == sorted(submitted)  # each ran once
    assert {job.id: job.result for job in finished} == {
        job.id: None for job in finished
    }  # no decoder: JSON results stay in the store
    by = {row["id"]: row["result"]["by"] for row in pg_jobs.sql("SELECT id, result FROM jobs")}
    assert by == dict(executions)


def test_a_stalled_replica_whose_job_was_taken_over_stops_it(pg_jobs: Backend) -> None:
    """A replica that stalled past the lease finds, at its next progress report, that another
    replica took its job: it stops there, and only the new owner's result is kept."""
    stalled_store = pg_jobs.store()
    started, resume = threading.Event(), threading.Event()
    outcome: list[str] = []

    def slow(run: JobRun) -> dict[str, str]:
        run.progress(1, 2)
        started.set()
        resume.wait(10)  # the stall
        try:
            run.progress(2, 2)
        except JobCancelled as exc:
            outcome.append(exc.detail)
            raise
        return {"by": "stalled"}

    stalled = WorkerJobQueue(stalled_store, worker_id="stalled", heartbeat_s=3600)
    stalled.register(INGEST, _blocking(slow))
    job = stalled.submit(INGEST, "a.md", {})
    try:
        assert started.wait(10)
        pg_jobs.age(stalled_store, job.id)
        taker = pg_jobs.store()
        claimed = taker.claim([INGEST], "taker")
        assert claimed is not None and claimed.id == job.id
        resume.set()
        for _ in range(1000):
            if not stalled.running:
                break
            time.sleep(0.01)
        assert taker.complete(job.id, "taker", {"by": "taker"})
    finally:
        stalled.close()
    assert outcome == ["This job was taken over by another server process."]
    final = taker.get(job.id)
    assert final is not None and (final.status, final.result) == ("done", {"by": "taker"})


def test_a_job_whose_workers_process_died_is_taken_over_at_once_not_a_live_ones(
    jobs_backend: Backend,
) -> None:
    dying, living, starting = (jobs_backend.presence() for _ in range(3))
    store = jobs_backend.store(starting)

    def add(name: str) -> str:
        return store.add(
            INGEST, name, {}, data=b"x", created_by=None, unique_key=None, limits=None
        ).id

    orphan, busy = add("a.md"), add("b.md")
    assert present(store.claim([INGEST], dying.id)).id == orphan
    assert present(store.claim([INGEST], living.id)).id == busy
    dying.close()  # its process is gone; its heartbeat is still fresh (within the lease)
    assert wait_until_dead(starting, dying.id)

    taken = store.claim([INGEST], starting.id)

    assert taken is not None and (taken.id, taken.attempt) == (orphan, 2)
    assert store.claim([INGEST], starting.id) is None  # the live worker's job stays its own
    assert store.progress(busy, living.id, 1, 2)
    assert not store.progress(orphan, dying.id, 1, 2)


def test_rows_of_processes_gone_for_long_are_pruned_recently_dead_ones_kept(
    pg_jobs: Backend,
) -> None:
    """Killed processes (no clean stop deletes their row) do not pile up in `processes`: a
    starting process deletes the rows silent for `PRUNE_AFTER_S`; a row that went silent
    more recently stays (and reads as dead)."""
    first = pg_jobs.presence()
    pg_jobs.store(first)  # opens the database the rows are read through
    silence = {"long-gone": PRUNE_AFTER_S + 60, "recently-gone": PRUNE_AFTER_S - 60}
    for process_id, seconds in silence.items():
        pg_jobs.sql(
            "INSERT INTO processes (id, role, heartbeat_at) "
            f"VALUES ('{process_id}', 'worker', now() - interval '{int(seconds)} seconds') "
            "RETURNING id"
        )

    starting = pg_jobs.presence()

    rows = {row["id"] for row in pg_jobs.sql("SELECT id FROM processes")}
    assert rows == {first.id, starting.id, "recently-gone"}
    assert starting.alive(["recently-gone", first.id]) == {first.id}
