"""Background jobs: work that runs off the request (large uploads, evaluation runs), in a
queue that any server process may work on; the caller polls a job for its progress.

Rules:
- A job has a `kind` (which handler runs it), a name shown to people, a JSON `payload` and,
  optionally, bytes (`data`, e.g. the uploaded file) stored with it until it ends. It holds
  no code: any process that registered a handler for the kind can run it, so a job survives
  the process that queued it when the queue is durable (PostgreSQL).
- A job is `queued`, then `running`, then `done` (with its result) or `failed` (with the
  domain error, as `type` and `detail`; an unexpected error is logged and reported as
  `internal_error` without details).
- Progress is counted in chunks embedded and stored out of the document's chunks; the total
  is known once the document is parsed and chunked (None before).
- Each process runs at most `concurrency` jobs of a kind at once (one ingest at a time: it is
  CPU-bound). A kind may cap its jobs queued or running, everyone's and each user's: a full
  queue refuses new work (`ServiceBusy`, 503, with `Retry-After` and a message naming the
  queue) rather than holding unbounded uploads, and one user cannot fill it for everyone.
  Evaluation and cleaning runs have such caps too (`QueueLimits`), counted over the runs
  queued or running in their own stores when a run is created.
- A job with a `unique_key` exists at most once while queued or running: submitting it again
  answers the job already there (an evaluation run is one job however often it is resumed).
- A handler must tolerate being run again from the start: a job whose process died is taken
  over by another process and run again (an ingest restarts its document; a run executes the
  items without a row). `JobRun.progress` raises `JobCancelled` once the job must stop (the
  server is stopping, or the job was taken over), and a cancelled handler stops cleanly.
- A job records who created it (`created_by`, the user id of the admin who uploaded). It is
  shown to that user and to admins; to anyone else it does not exist (`NotFound`, 404, so a
  job id confirms nothing). Only upload jobs and answer preparations (`SHOWN_KINDS`) are
  shown at `/api/jobs/{id}`: an evaluation run is followed through its own endpoints. What
  a job writes is audited as that admin's action when it completes (see
  use_cases/admin/uploads.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from use_cases.access.domain import Caller
from use_cases.knowledge.domain import UploadResult
from use_cases.shared.errors import NotFound, ServiceBusy
from use_cases.shared.leases import JobLease

ChunkProgress = Callable[[int, int], None]

#: Kinds of job (a handler for each is registered by the composition root).
INGEST_UPLOAD = "ingest_upload"
EVAL_RUN = "eval_run"
#: The answering model's work ahead for documents an ingest saved (prepare_answers.py).
PREPARE_ANSWERS = "prepare_answers"
#: The kinds shown at `/api/jobs/{id}` (an evaluation run has its own endpoints).
SHOWN_KINDS = (INGEST_UPLOAD, PREPARE_ANSWERS)

_T = TypeVar("_T")


@dataclass(frozen=True)
class JobError:
    type: str
    detail: str


@dataclass(frozen=True)
class QueueLimits:
    """How many jobs of a kind (or runs: evaluation, cleaning) may be queued or running: of
    everyone's (`max_pending`) and of one user's (`per_user`, by `created_by`). Past either, a
    submission is refused with `ServiceBusy` (503) whose message names the queue (`label`) and
    whose `Retry-After` is `retry_after_s`. The store counts in the transaction that adds the
    job or run, so concurrent submissions cannot overshoot it."""

    label: str
    max_pending: int | None = None
    per_user: int | None = None
    retry_after_s: int = 30

    def check(self, waiting: int, users_waiting: int | None) -> None:
        """Raise `ServiceBusy` when `waiting` jobs (`users_waiting` of this user's) fill it."""
        mine = users_waiting if users_waiting is not None else -1
        if self.per_user is not None and mine >= self.per_user:
            raise ServiceBusy(
                f"You already have {mine} {self.label} queued or running (at most "
                f"{self.per_user} per user); try again when one has finished.",
                retry_after_s=self.retry_after_s,
            )
        if self.max_pending is not None and waiting >= self.max_pending:
            raise ServiceBusy(
                f"{waiting} {self.label} are already queued or running (at most "
                f"{self.max_pending} at once); try again in {self.retry_after_s} s.",
                retry_after_s=self.retry_after_s,
            )


@dataclass(frozen=True)
class JobView:
    """A snapshot of one job, safe to hand to any thread."""

    id: str
    name: str
    status: str  # queued | running | done | failed
    created_at: datetime
    created_by: str | None = None
    """User id of the caller who submitted it (None: no one's, e.g. a test's)."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    chunks_done: int = 0
    chunks_total: int | None = None
    result: UploadResult | None = None
    error: JobError | None = None
    kind: str = INGEST_UPLOAD


class JobRun(Protocol):
    """What a handler is given: the job's payload and bytes, and a way to report progress."""

    @property
    def id(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...

    @property
    def data(self) -> bytes | None: ...

    @property
    def lease(self) -> JobLease:
        """This claim of the job: what the job writes carries it (a fencing token)."""
        ...

    def progress(self, done: int, total: int) -> None:
        """Record progress (any thread); raises `JobCancelled` when the job must stop."""
        ...


#: Runs one job; returns its result as JSON (or None). Async: it runs on the worker's loop.
JobHandler = Callable[[JobRun], Awaitable[Mapping[str, Any] | None]]
#: Turns a stored result back into what `JobView.result` shows.
ResultDecoder = Callable[[Mapping[str, Any]], UploadResult]


class JobQueue(Protocol):
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
        """Queue a job of `kind` (its handler runs it in a worker; see the module rules)."""
        ...

    def get(self, job_id: str) -> JobView | None: ...

    def close(self) -> None:
        """Stop taking work; running jobs are cancelled at their next progress report."""
        ...


async def run_blocking(function: Callable[[], _T]) -> _T:
    """Run `function` in a thread for a handler. Cancelling the handler does not abandon the
    thread: it waits until the function returns or raises (it stops at its next progress
    report, which raises `JobCancelled` once the job is cancelled)."""
    future = asyncio.ensure_future(asyncio.to_thread(function))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.gather(future, return_exceptions=True)
        raise


class GetJob:
    def __init__(self, jobs: JobQueue) -> None:
        self._jobs = jobs

    async def execute(self, caller: Caller, job_id: str) -> JobView:
        """The upload or preparation job, if `caller` created it or is an admin (see the
        module rules)."""
        job = await asyncio.to_thread(self._jobs.get, job_id)
        if (
            job is None
            or job.kind not in SHOWN_KINDS
            or not (caller.is_admin or job.created_by == caller.user_id)
        ):
            raise NotFound(f"No job with id {job_id}.")
        return job
