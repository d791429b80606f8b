"""`JobQueue` on one worker thread, with the jobs kept in memory.

One job runs at a time (ingestion is CPU-bound and the knowledge DB has one writer anyway),
in submission order. At most `max_pending` jobs wait; more is `ServiceBusy`. The last
`keep_finished` finished jobs stay readable. Jobs do not survive a restart: a job cut short
leaves nothing visible (its staged chunks are removed when the knowledge store next opens).

`close()` stops taking work, cancels the waiting jobs and makes the running one fail at its
next progress report (`JobCancelled`), so the ingest discards what it staged and the worker
can be joined.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime

from loguru import logger

from use_cases.errors import AlmanacError, JobCancelled, ServiceBusy
from use_cases.jobs import JobError, JobView, JobWork

__all__ = ["ThreadJobQueue"]

_STOP = object()


class ThreadJobQueue:
    def __init__(self, *, max_pending: int = 8, keep_finished: int = 200) -> None:
        self._max_pending = max_pending
        self._keep_finished = keep_finished
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, JobView] = OrderedDict()
        self._work: dict[str, JobWork] = {}
        self._queue: queue.Queue[object] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._closing = threading.Event()

    def submit(self, name: str, work: JobWork, *, created_by: str | None = None) -> JobView:
        with self._lock:
            if self._closing.is_set():
                raise ServiceBusy("The server is shutting down; upload again after it restarts.")
            if len(self._work) >= self._max_pending:
                raise ServiceBusy(
                    f"{len(self._work)} ingest jobs are already waiting; try again when they "
                    "have finished (GET /api/jobs/{id})."
                )
            job = JobView(
                id=uuid.uuid4().hex,
                name=name,
                status="queued",
                created_at=_now(),
                created_by=created_by,
            )
            self._jobs[job.id] = job
            self._work[job.id] = work
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._loop, name="almanac-ingest-jobs", daemon=True
                )
                self._worker.start()
        self._queue.put(job.id)
        return job

    def get(self, job_id: str) -> JobView | None:
        with self._lock:
            return self._jobs.get(job_id)

    def close(self, timeout: float = 30.0) -> None:
        self._closing.set()
        self._queue.put(_STOP)
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    # -- worker ----------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is _STOP:
                self._cancel_waiting()
                return
            assert isinstance(job_id, str)
            with self._lock:
                work = self._work.get(job_id)
            if work is not None:
                self._run(job_id, work)

    def _run(self, job_id: str, work: JobWork) -> None:
        self._update(job_id, status="running", started_at=_now())

        def progress(done: int, total: int) -> None:
            if self._closing.is_set():
                raise JobCancelled("The server stopped during this job; upload the file again.")
            self._update(job_id, chunks_done=done, chunks_total=total)

        try:
            if self._closing.is_set():
                raise JobCancelled("The server stopped before this job ran; upload it again.")
            result = work(progress)
        except AlmanacError as exc:
            self._finish(job_id, status="failed", error=JobError(exc.type, exc.detail))
        except Exception as exc:
            logger.opt(exception=exc).error("Ingest job {} failed", job_id)
            error = JobError("internal_error", f"Internal error in job {job_id}; see the log.")
            self._finish(job_id, status="failed", error=error)
        else:
            self._finish(job_id, status="done", result=result)

    def _cancel_waiting(self) -> None:
        with self._lock:
            waiting = list(self._work)
        for job_id in waiting:
            cancelled = JobError("job_cancelled", "The server stopped before this job ran.")
            self._finish(job_id, status="failed", error=cancelled)

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = replace(job, **changes)  # type: ignore[arg-type]

    def _finish(self, job_id: str, **changes: object) -> None:
        self._update(job_id, finished_at=_now(), **changes)
        with self._lock:
            self._work.pop(job_id, None)
            finished = [j for j, view in self._jobs.items() if view.finished_at is not None]
            for old in finished[: max(0, len(finished) - self._keep_finished)]:
                del self._jobs[old]


def _now() -> datetime:
    return datetime.now(UTC)
