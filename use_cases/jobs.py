"""Background jobs: long ingests run off the request, and the caller polls their progress.

Rules:
- A job is `queued`, then `running`, then `done` (with its result) or `failed` (with the
  domain error, as `type` and `detail`; an unexpected error is logged and reported as
  `internal_error` without details).
- Progress is counted in chunks embedded and stored out of the document's chunks; the total
  is known once the document is parsed and chunked (None before).
- Jobs run one at a time, in submission order, in a worker thread (`JobQueue`). A queue that
  is full refuses new work (`ServiceBusy`, 503) rather than holding unbounded uploads.
- A job records who created it (`created_by`, the user id of the admin who uploaded). It is
  shown to that user and to admins; to anyone else it does not exist (`NotFound`, 404, so a
  job id confirms nothing). What a job writes is audited as that admin's action when it
  completes (see use_cases/uploads.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from use_cases.auth_domain import Caller
from use_cases.domain import UploadResult
from use_cases.errors import NotFound

ChunkProgress = Callable[[int, int], None]
JobWork = Callable[[ChunkProgress], UploadResult]


@dataclass(frozen=True)
class JobError:
    type: str
    detail: str


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


class JobQueue(Protocol):
    def submit(self, name: str, work: JobWork, *, created_by: str | None = None) -> JobView:
        """Queue `work` (called with a progress callback in the worker thread)."""
        ...

    def get(self, job_id: str) -> JobView | None: ...

    def close(self) -> None:
        """Stop taking work; a running job is cancelled at its next progress report."""
        ...


class GetJob:
    def __init__(self, jobs: JobQueue) -> None:
        self._jobs = jobs

    async def execute(self, caller: Caller, job_id: str) -> JobView:
        """The job, if `caller` created it or is an admin (see the module rules)."""
        job = await asyncio.to_thread(self._jobs.get, job_id)
        if job is None or not (caller.is_admin or job.created_by == caller.user_id):
            raise NotFound(f"No job with id {job_id} (jobs are kept in memory until a restart).")
        return job
