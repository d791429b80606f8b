"""`JobQueue`: a worker per process that claims jobs from a `JobStore` and runs them by kind.

Stores that hold the jobs:
- `job_store.JobStore` (services/job_store.py), one class for both databases: on SQLite a
  table in `app.db`, so a job survives a restart and runs again at the next start; on
  PostgreSQL a table shared by every replica, claimed with `FOR UPDATE SKIP LOCKED`.
  On both, a job whose worker stopped sending heartbeats, or whose process `presence` reports
  dead (services/presence.py), is taken over; what its previous worker staged for it is
  removed at the takeover, before it runs again (`on_take_over`), and any other dead
  process's staged rows when the knowledge store next opens.
- `tests.fakes.jobs.MemoryJobStore` (tests): the jobs live in memory and do not survive the
  process.

`WorkerJobQueue` runs the jobs of the kinds registered with it (`register`), or of those among
them it is told to (`kinds`: a worker process given some kinds), at most `concurrency` of a
kind at once in this process (the kind's own, or the one it is given for all);
a process that only queues jobs (`runs_jobs=False`: `almanac serve --no-jobs`) runs none. The
jobs run on one worker thread with its own event loop (handlers are coroutines; blocking work
goes through `use_cases.jobs.queue.run_blocking`). It starts
on the first `submit` or on `start()` (a server starts it to work on every replica's jobs).
A second thread renews the heartbeat of the jobs it holds; one it no longer holds (taken over
after a stall) is cancelled here, so a job never runs to completion twice at once.

Riding out a database outage (the database or its pooler unreachable: `DatabaseUnavailable`):
- A job whose step fails for it is not failed: it waits (backing off from `RETRY_FIRST_S` to
  `RETRY_MAX_S`) and runs again from the start under the same claim, its attempt not counted,
  until `outage_budget_s` has passed since the first failure of the streak (a renewed
  heartbeat or a progress report ends a streak). Only then does it fail, as
  `database_unavailable` with the reason, logged. The write that ends a job is retried the
  same way.
- No takeover after a shared outage: a worker that could not reach the database (a claim, a
  heartbeat or a job step failed for it) claims queued jobs only until it has gone
  `takeover_grace_s` without such a failure. A live owner cut off by the same outage renews
  its heartbeat within that grace, so its job is not taken from it; a dead one's is taken
  over once the grace has passed. A takeover is logged by the taker, with the job and its
  previous worker.

`close()` stops taking work and cancels the running jobs: an ingest stops at its next progress
report (`JobCancelled`) and discards what it staged, an evaluation run lets its items in flight
end. A cancelled job goes back to the queue of a durable store (another replica or the next
start runs it again) and fails as `job_cancelled` in memory, as do the jobs still waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from loguru import logger
from opentelemetry import trace
from opentelemetry.context import Context

from use_cases.jobs.queue import JobError, JobHandler, JobView, QueueLimits, ResultDecoder
from use_cases.shared.errors import (
    AlmanacError,
    ConfigurationError,
    DatabaseUnavailable,
    JobCancelled,
    ServiceBusy,
)
from use_cases.shared.leases import JobLease, LeaseLost

__all__ = [
    "ClaimedJob",
    "JobStore",
    "QueueLimits",
    "StoredJob",
    "WorkerJobQueue",
]

#: Seconds after its last heartbeat at which a running job counts as abandoned.
LEASE_S = 30.0
#: A job that took its worker down this many times is failed instead of claimed again.
MAX_ATTEMPTS = 3
#: Seconds a job rides out an unreachable database before it fails (JOB_OUTAGE_BUDGET_SECONDS).
OUTAGE_BUDGET_S = 600.0
#: The first and the longest wait before a job step that met an outage runs again.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0
OUTAGE_FAILED = (
    "The database could not be reached for {budget:g} s, this job's outage budget "
    "(JOB_OUTAGE_BUDGET_SECONDS): {reason}"
)
STOPPED_BEFORE = "The server stopped before this job ran; upload the file again."
STOPPED_DURING = "The server stopped during this job; upload the file again."
ABANDONED = "The job stopped its server {attempts} times; it is not tried again."


@dataclass(frozen=True)
class StoredJob:
    """A job as a store holds it (the result still JSON)."""

    id: str
    kind: str
    name: str
    status: str
    created_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    created_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    chunks_done: int = 0
    chunks_total: int | None = None
    result: Mapping[str, Any] | None = None
    error: JobError | None = None
    attempts: int = 0


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker now holds, with what its handler needs."""

    id: str
    kind: str
    payload: Mapping[str, Any]
    data: bytes | None
    attempt: int
    lease: int = 0
    """The claim's number (one more at each claim): what the job writes carries it."""
    previous_worker: str | None = None
    """The worker that held the job before this claim took it over (None: it was queued)."""


class JobStore(Protocol):
    """Where jobs are kept. Every change a worker makes names the worker: a job taken over by
    another worker is no longer changed by the first (the methods answer False)."""

    def add(
        self,
        kind: str,
        name: str,
        payload: Mapping[str, Any],
        *,
        data: bytes | None,
        created_by: str | None,
        unique_key: str | None,
        limits: QueueLimits | None,
    ) -> StoredJob:
        """A new queued job, or the queued/running one with `unique_key`. `ServiceBusy` when
        the kind's queue is full, for everyone or for `created_by` (`QueueLimits`)."""
        ...

    def claim(
        self, kinds: Sequence[str], worker: str, *, take_over: bool = True
    ) -> ClaimedJob | None:
        """The oldest queued job of `kinds`, or (`take_over`) a running one whose heartbeat
        is older than the lease, now running for `worker`; None when there is none."""
        ...

    def heartbeat(self, worker: str, job_ids: Sequence[str]) -> set[str]:
        """Renew the jobs `worker` still holds among `job_ids`; answers those."""
        ...

    def progress(self, job_id: str, worker: str, done: int, total: int) -> bool: ...

    def complete(self, job_id: str, worker: str, result: Mapping[str, Any] | None) -> bool: ...

    def fail(self, job_id: str, worker: str, error: JobError) -> bool: ...

    def release(self, job_id: str, worker: str) -> None:
        """The worker stops without finishing the job (shutting down)."""
        ...

    def get(self, job_id: str) -> StoredJob | None: ...

    def waiting(self) -> dict[str, int]:
        """Jobs queued and not yet claimed, by kind (for the `almanac_jobs_queued` gauge)."""
        ...

    def close(self) -> None: ...


# --- the worker --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    handler: JobHandler
    concurrency: int
    limits: QueueLimits | None
    decode: ResultDecoder | None


class _Run:
    """One claimed job while this worker runs it (the handler's `JobRun`)."""

    def __init__(self, store: JobStore, worker: str, claimed: ClaimedJob) -> None:
        self._store = store
        self._worker = worker
        self.claimed = claimed
        self.cancelled = threading.Event()
        self.reason = STOPPED_DURING
        self.lost = False
        self.finishing = False
        #: The job failed (decided before its failure is stored).
        self.failed = False
        self.task: asyncio.Task[None] | None = None
        #: When (monotonic) the database first failed this job in the current streak.
        self.outage_since: float | None = None

    @property
    def id(self) -> str:
        return self.claimed.id

    @property
    def payload(self) -> Mapping[str, Any]:
        return self.claimed.payload

    @property
    def data(self) -> bytes | None:
        return self.claimed.data

    @property
    def lease(self) -> JobLease:
        return JobLease(self.id, self._worker, self.claimed.lease)

    def progress(self, done: int, total: int) -> None:
        if self.cancelled.is_set():
            raise JobCancelled(self.reason)
        if not self._store.progress(self.id, self._worker, done, total):
            self.mark_lost()
            raise JobCancelled(self.reason)
        self.outage_since = None  # the database answered: an outage streak is over

    def mark_lost(self) -> None:
        self.lost = True
        self.reason = "This job was taken over by another server process."
        self.cancelled.set()


class WorkerJobQueue:
    """The `JobQueue` port on a `JobStore`, with this process's worker (module docstring)."""

    def __init__(
        self,
        store: JobStore,
        *,
        poll_s: float = 1.0,
        heartbeat_s: float = LEASE_S / 3,
        worker_id: str | None = None,
        runs_jobs: bool = True,
        kinds: frozenset[str] | None = None,
        concurrency: int | None = None,
        outage_budget_s: float = OUTAGE_BUDGET_S,
        takeover_grace_s: float = 2 * LEASE_S,
    ) -> None:
        self.store = store
        self._outage_budget_s = outage_budget_s
        self._takeover_grace_s = takeover_grace_s
        #: When (monotonic) this worker last failed to reach the database (None: never).
        self._unreachable_at: float | None = None
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._poll_s = poll_s
        self._heartbeat_s = heartbeat_s
        self._runs_jobs = runs_jobs
        self._only = kinds
        self._concurrency = concurrency
        self._kinds: dict[str, _Kind] = {}
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self._closing = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._threads: list[threading.Thread] = []
        self._settling: set[asyncio.Future[Any]] = set()
        self._on_failure: Callable[[str], None] = lambda kind: None
        self._on_take_over: list[Callable[[str], Any]] = []
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def watch(self, *, on_failure: Callable[[str], None], tracer: trace.Tracer) -> None:
        """Observability: `on_failure(kind)` for each job that fails, and a `job <kind>`
        span around each job this worker runs (a root span: a job outlives its request)."""
        self._on_failure = on_failure
        self._tracer = tracer

    def on_take_over(self, clean_up: Callable[[str], Any]) -> None:
        """Call `clean_up(job_id)` when this worker takes a job over, before the job runs
        again: what the previous worker left for it (its staged rows) goes then, not at the
        next process start. A failure of it is logged; the job runs anyway."""
        self._on_take_over.append(clean_up)

    def register(
        self,
        kind: str,
        handler: JobHandler,
        *,
        concurrency: int = 1,
        limits: QueueLimits | None = None,
        decode: ResultDecoder | None = None,
    ) -> None:
        """Run jobs of `kind` with `handler`, at most `concurrency` at once in this process;
        `limits` caps the jobs queued or running, for everyone and per user."""
        self._kinds[kind] = _Kind(handler, concurrency, limits, decode)

    # -- the port ---------------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        name: str,
        payload: Mapping[str, Any],
        *,
        data: bytes | None = None,
        created_by: str | None = None,
        unique_key: str | None = None,
    ) -> JobView:
        if self._closing.is_set():
            raise ServiceBusy("The server is shutting down; upload again after it restarts.")
        spec = self._kinds.get(kind)
        stored = self.store.add(
            kind,
            name,
            payload,
            data=data,
            created_by=created_by,
            unique_key=unique_key,
            limits=spec.limits if spec else None,
        )
        self.start()
        self._poke()
        return self._view(stored)

    def get(self, job_id: str) -> JobView | None:
        stored = self.store.get(job_id)
        return self._view(stored) if stored is not None else None

    def close(self, timeout: float = 30.0) -> None:
        with self._lock:
            self._closing.set()
            for run in self._runs.values():
                run.cancelled.set()
            threads = list(self._threads)
        self._poke()
        for thread in threads:
            thread.join(timeout)
        self.store.close()

    # -- the worker -------------------------------------------------------------------------

    @property
    def runs_jobs(self) -> bool:
        """False for a process that only queues jobs (`almanac serve --no-jobs`)."""
        return self._runs_jobs

    @property
    def kinds(self) -> list[str]:
        """The kinds this process's worker runs: those registered, or the ones it was told."""
        return [k for k in self._kinds if self._only is None or k in self._only]

    def check_kinds(self) -> None:
        """Refuse kinds asked for (JOB_KINDS, `almanac worker --kinds`) that none registered."""
        unknown = sorted((self._only or frozenset()) - set(self._kinds))
        if unknown:
            known = ", ".join(sorted(self._kinds))
            raise ConfigurationError(f"Unknown job kind(s): {', '.join(unknown)}. Known: {known}.")

    def start(self) -> None:
        """Start this process's worker (once; also done by the first `submit`), unless the
        process only queues jobs."""
        with self._lock:
            if self._threads or self._closing.is_set() or not self._runs_jobs:
                return
            self._loop = asyncio.new_event_loop()
            self._wake = asyncio.Event()
            self._threads = [
                threading.Thread(target=self._work, name="almanac-jobs", daemon=True),
                threading.Thread(target=self._beat, name="almanac-job-heartbeat", daemon=True),
            ]
            for thread in self._threads:
                thread.start()

    @property
    def running(self) -> list[str]:
        """Ids of the jobs this worker runs now."""
        with self._lock:
            return list(self._runs)

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(wake.set)

    def _work(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _main(self) -> None:
        wake = self._wake
        assert wake is not None
        while not self._closing.is_set():
            wake.clear()
            with self._lock:
                busy = [run.claimed.kind for run in self._runs.values()]
            free = [k for k in self.kinds if busy.count(k) < self._limit(k)]
            claimed = None
            if free:
                take_over = self._may_take_over()
                try:
                    claimed = await asyncio.to_thread(
                        self.store.claim, free, self.worker_id, take_over=take_over
                    )
                except Exception as exc:  # the database away: try again at the next poll
                    if isinstance(exc, DatabaseUnavailable):
                        self._unreachable()
                    logger.warning("Could not claim a job: {}", exc)
            if claimed is not None:
                self._spawn(claimed)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._poll_s)
        with self._lock:
            tasks = [run.task for run in self._runs.values() if run.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with self._lock:
            unstarted = list(self._runs.values())
        for run in unstarted:  # claimed as the queue closed, cancelled before they began
            await self._interrupted(run)
            with self._lock:
                self._runs.pop(run.id, None)
        # The writes that end a job here and whose task was cancelled while they waited.
        for outcome in await asyncio.gather(*self._settling, return_exceptions=True):
            if isinstance(outcome, BaseException):
                logger.warning("Could not settle a job as the queue closed: {}", outcome)

    def _limit(self, kind: str) -> int:
        return self._concurrency or self._kinds[kind].concurrency

    def _unreachable(self) -> None:
        """This worker just failed to reach the database (module docstring)."""
        self._unreachable_at = time.monotonic()

    def _may_take_over(self) -> bool:
        """Whether this worker may take another's job over: it has reached the database
        without a failure for `takeover_grace_s` (module docstring)."""
        last = self._unreachable_at
        return last is None or time.monotonic() - last >= self._takeover_grace_s

    def _spawn(self, claimed: ClaimedJob) -> None:
        if claimed.previous_worker is not None:
            logger.warning(
                "Took job {} ({}) over from worker {}: its heartbeat was older than the "
                "lease or its process is dead (attempt {})",
                claimed.id,
                claimed.kind,
                claimed.previous_worker,
                claimed.attempt,
            )
        run = _Run(self.store, self.worker_id, claimed)
        with self._lock:
            self._runs[run.id] = run
            if self._closing.is_set():
                run.cancelled.set()
        run.task = asyncio.get_running_loop().create_task(self._execute(run))

    async def _execute(self, run: _Run) -> None:
        kind = run.claimed.kind
        try:
            with self._tracer.start_as_current_span(
                f"job {kind}", context=Context(), attributes={"almanac.job.id": run.id}
            ):
                await self._execute_traced(run)
        finally:
            # Counted even when the queue closes while the failure is being stored (the
            # failed status may already be visible then).
            if run.failed:
                self._on_failure(kind)

    async def _execute_traced(self, run: _Run) -> None:
        """Run the job and settle it; `run.failed` if it failed (not if it was interrupted)."""
        error: JobError | None = None
        try:
            if run.cancelled.is_set():
                raise asyncio.CancelledError
            if run.claimed.previous_worker is not None:
                await self._clean_up_after(run)
            result = await self._run_through_outages(run)
        except asyncio.CancelledError:
            await self._interrupted(run)
        except LeaseLost:
            run.mark_lost()
            logger.warning("Job {} was taken over while this worker was stalled; stopped", run.id)
            run.finishing = True
        except DatabaseUnavailable as exc:  # past the outage budget
            detail = OUTAGE_FAILED.format(budget=self._outage_budget_s, reason=exc.detail)
            logger.error("Job {} ({}) failed: {}", run.id, run.claimed.kind, detail)
            error = JobError(exc.type, detail)
            run.failed = True
            await self._end(run, self.store.fail, error)
        except JobCancelled as exc:
            if run.lost or self._closing.is_set():
                await self._interrupted(run)
            else:
                error = JobError(exc.type, exc.detail)
                run.failed = True
                await self._end(run, self.store.fail, error)
        except AlmanacError as exc:
            error = JobError(exc.type, exc.detail)
            run.failed = True
            await self._end(run, self.store.fail, error)
        except Exception as exc:
            logger.opt(exception=exc).error("Job {} ({}) failed", run.id, run.claimed.kind)
            error = JobError("internal_error", f"Internal error in job {run.id}; see the log.")
            run.failed = True
            await self._end(run, self.store.fail, error)
        else:
            await self._end(run, self.store.complete, result)
        finally:
            with self._lock:
                self._runs.pop(run.id, None)
            if self._wake is not None:
                self._wake.set()

    async def _clean_up_after(self, run: _Run) -> None:
        """What the previous worker of a job taken over left behind (`on_take_over`)."""
        for clean_up in self._on_take_over:
            try:
                await asyncio.to_thread(clean_up, run.id)
            except Exception as exc:
                logger.warning("Could not clean up after job {}'s previous worker: {}", run.id, exc)

    async def _run_through_outages(self, run: _Run) -> Any:
        """The job's handler, run again (same claim, attempt not counted) after a wait each
        time the database fails it, until the outage budget is spent (module docstring)."""
        spec = self._kinds[run.claimed.kind]
        delay = RETRY_FIRST_S
        while True:
            try:
                return await spec.handler(run)
            except DatabaseUnavailable as exc:
                self._unreachable()
                now = time.monotonic()
                if run.outage_since is None:
                    run.outage_since, delay = now, RETRY_FIRST_S
                left = run.outage_since + self._outage_budget_s - now
                if left <= 0 or run.cancelled.is_set():
                    raise
                wait = min(delay, left)
                logger.warning(
                    "Job {} ({}) waits for the database ({}); it runs again in {:.1f} s",
                    run.id,
                    run.claimed.kind,
                    exc.detail,
                    wait,
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, RETRY_MAX_S)
                if run.cancelled.is_set():
                    raise asyncio.CancelledError from None

    async def _end(self, run: _Run, how: Any, value: Any) -> None:
        run.finishing = True
        if run.lost:
            return
        try:
            ended = await self._settle_through_outages(how, run.id, self.worker_id, value)
        except DatabaseUnavailable as exc:
            logger.error(
                "Could not store the end of job {}: {}; it runs again once its lease runs out",
                run.id,
                exc,
            )
            return
        if not ended:
            logger.warning("Job {} was taken over before it finished here", run.id)

    async def _settle_through_outages(self, write: Callable[..., Any], *args: Any) -> Any:
        """`_settle`, tried again with backoff while the database is unreachable, for up to
        the outage budget."""
        started, delay = time.monotonic(), RETRY_FIRST_S
        while True:
            try:
                return await self._settle(write, *args)
            except DatabaseUnavailable as exc:
                self._unreachable()
                left = started + self._outage_budget_s - time.monotonic()
                if left <= 0 or self._closing.is_set():
                    raise
                logger.warning("Could not store the end of job {} yet: {}", args[0], exc)
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, RETRY_MAX_S)

    async def _interrupted(self, run: _Run) -> None:
        run.finishing = True
        if run.lost:
            logger.warning("Job {} was taken over by another worker; stopped here", run.id)
            return
        try:
            await self._settle(self.store.release, run.id, self.worker_id)
        except Exception as exc:
            logger.warning("Could not hand job {} back: {}", run.id, exc)

    async def _settle(self, write: Callable[..., Any], *args: Any) -> Any:
        """`write(*args)`, the store call that ends this worker's hold on a job, on a thread,
        made even when the task awaiting it is cancelled meanwhile. Closing the queue cancels
        every task, and a job that had just stopped itself (`JobCancelled` at a progress
        report) was then awaiting its hand-back: cancelled before a thread took it up, the
        write was dropped, and the job stayed `running` with no worker and no warning until
        its lease ran out. `_main` waits for such writes before the loop ends."""
        future = asyncio.ensure_future(asyncio.to_thread(write, *args))
        self._settling.add(future)
        future.add_done_callback(self._settling.discard)
        return await asyncio.shield(future)

    def _beat(self) -> None:
        while not self._closing.wait(self._heartbeat_s):
            with self._lock:
                runs = [run for run in self._runs.values() if not run.finishing]
            if not runs:
                continue
            try:
                held = self.store.heartbeat(self.worker_id, [run.id for run in runs])
            except Exception as exc:
                if isinstance(exc, DatabaseUnavailable):
                    self._unreachable()
                logger.warning("Could not renew job heartbeats: {}", exc)
                continue
            for run in runs:
                if run.id in held:
                    run.outage_since = None  # the database answered: the streak is over
                if run.id not in held and not run.finishing:
                    run.mark_lost()
                    if run.task is not None and self._loop is not None:
                        self._loop.call_soon_threadsafe(run.task.cancel)

    def _view(self, stored: StoredJob) -> JobView:
        spec = self._kinds.get(stored.kind)
        result = None
        if stored.result is not None and spec is not None and spec.decode is not None:
            result = spec.decode(stored.result)
        return JobView(
            id=stored.id,
            name=stored.name,
            status=stored.status,
            created_at=stored.created_at,
            created_by=stored.created_by,
            started_at=stored.started_at,
            finished_at=stored.finished_at,
            chunks_done=stored.chunks_done,
            chunks_total=stored.chunks_total,
            result=result,
            error=stored.error,
            kind=stored.kind,
        )


def _abandoned(attempts: int) -> JobError:
    return JobError("internal_error", ABANDONED.format(attempts=attempts))


def _replace(job: StoredJob, **changes: Any) -> StoredJob:
    return replace(job, **changes)


def _now() -> datetime:
    return datetime.now(UTC)
