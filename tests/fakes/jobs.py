"""`MemoryJobStore`: the `JobStore` port (services/job_queue.py) in this process's memory,
for tests: the jobs do not survive the process. It keeps the rules of the databases' store
(services/job_store.py) that the queue's tests read: one claim at a time, a lease per claim,
a stale job taken over (and abandoned after `MAX_ATTEMPTS`), the last finished jobs readable."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from services.job_queue import (
    ABANDONED,
    LEASE_S,
    MAX_ATTEMPTS,
    STOPPED_BEFORE,
    STOPPED_DURING,
    ClaimedJob,
    StoredJob,
)
from use_cases.jobs.queue import JobError, QueueLimits
from use_cases.shared.errors import JobCancelled


def _abandoned(attempts: int) -> JobError:
    return JobError("internal_error", ABANDONED.format(attempts=attempts))


def _replace(job: StoredJob, **changes: Any) -> StoredJob:
    return replace(job, **changes)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _MemoryJob:
    job: StoredJob
    unique_key: str | None
    worker: str | None = None
    heartbeat: float = 0.0
    seq: int = 0
    lease: int = 0


class MemoryJobStore:
    """`JobStore` in this process's memory (see the module docstring). The last
    `keep_finished` finished jobs stay readable."""

    def __init__(self, *, keep_finished: int = 200, lease_s: float = LEASE_S) -> None:
        self._keep_finished = keep_finished
        self._lease = lease_s
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, _MemoryJob] = OrderedDict()
        self._blobs: dict[str, bytes] = {}
        self._seq = 0

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
        with self._lock:
            active = [m for m in self._jobs.values() if m.job.status in ("queued", "running")]
            if unique_key is not None:
                for held in active:
                    if held.unique_key == unique_key:
                        return held.job
            if limits is not None:
                same = [m.job for m in active if m.job.kind == kind]
                mine = sum(1 for job in same if job.created_by == created_by)
                limits.check(len(same), mine if created_by is not None else None)
            self._seq += 1
            job = StoredJob(
                id=uuid.uuid4().hex,
                kind=kind,
                name=name,
                status="queued",
                created_at=_now(),
                payload=dict(payload),
                created_by=created_by,
            )
            self._jobs[job.id] = _MemoryJob(job, unique_key, seq=self._seq)
            if data is not None:
                self._blobs[job.id] = data
            return job

    def claim(
        self, kinds: Sequence[str], worker: str, *, take_over: bool = True
    ) -> ClaimedJob | None:
        now = time.monotonic()
        with self._lock:
            for held in self._jobs.values():
                job = held.job
                if job.kind not in kinds:
                    continue
                stale = take_over and job.status == "running" and now - held.heartbeat > self._lease
                if job.status != "queued" and not stale:
                    continue
                if stale and job.attempts >= MAX_ATTEMPTS:
                    self._end(held, "failed", error=_abandoned(job.attempts))
                    continue
                held.job = _replace(
                    job,
                    status="running",
                    started_at=job.started_at or _now(),
                    attempts=job.attempts + 1,
                    chunks_done=0,
                )
                previous = held.worker
                held.worker, held.heartbeat = worker, now
                held.lease += 1
                return ClaimedJob(
                    job.id,
                    job.kind,
                    job.payload,
                    self._blobs.get(job.id),
                    job.attempts + 1,
                    held.lease,
                    previous,
                )
        return None

    def heartbeat(self, worker: str, job_ids: Sequence[str]) -> set[str]:
        now = time.monotonic()
        held = set()
        with self._lock:
            for job_id in job_ids:
                found = self._held(job_id, worker)
                if found is not None:
                    found.heartbeat = now
                    held.add(job_id)
        return held

    def progress(self, job_id: str, worker: str, done: int, total: int) -> bool:
        with self._lock:
            found = self._held(job_id, worker)
            if found is None:
                return False
            found.job = _replace(found.job, chunks_done=done, chunks_total=total)
            found.heartbeat = time.monotonic()
            return True

    def complete(self, job_id: str, worker: str, result: Mapping[str, Any] | None) -> bool:
        with self._lock:
            found = self._held(job_id, worker)
            if found is not None:
                self._end(found, "done", result=result)
            return found is not None

    def fail(self, job_id: str, worker: str, error: JobError) -> bool:
        with self._lock:
            found = self._held(job_id, worker)
            if found is not None:
                self._end(found, "failed", error=error)
            return found is not None

    def release(self, job_id: str, worker: str) -> None:
        """Nothing in memory outlives the process: the job fails (upload it again)."""
        self.fail(job_id, worker, JobError(JobCancelled.type, STOPPED_DURING))

    def get(self, job_id: str) -> StoredJob | None:
        with self._lock:
            found = self._jobs.get(job_id)
            return found.job if found is not None else None

    def waiting(self) -> dict[str, int]:
        with self._lock:
            return dict(
                Counter(m.job.kind for m in self._jobs.values() if m.job.status == "queued")
            )

    def close(self) -> None:
        """The jobs still waiting fail: they would not survive the process."""
        with self._lock:
            for held in list(self._jobs.values()):
                if held.job.status == "queued":
                    self._end(held, "failed", error=JobError(JobCancelled.type, STOPPED_BEFORE))

    def age(self, job_id: str, seconds: float) -> None:
        """Make a running job's heartbeat `seconds` older (tests: a worker that died)."""
        with self._lock:
            self._jobs[job_id].heartbeat -= seconds

    def _held(self, job_id: str, worker: str) -> _MemoryJob | None:
        found = self._jobs.get(job_id)
        if found is None or found.job.status != "running" or found.worker != worker:
            return None
        return found

    def _end(self, held: _MemoryJob, status: str, **changes: Any) -> None:
        held.job = _replace(held.job, status=status, finished_at=_now(), **changes)
        held.worker = None
        self._blobs.pop(held.job.id, None)
        finished = [j for j, m in self._jobs.items() if m.job.finished_at is not None]
        for old in finished[: max(0, len(finished) - self._keep_finished)]:
            del self._jobs[old]
