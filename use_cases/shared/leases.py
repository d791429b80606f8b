"""`JobLease`: the claim a worker holds on a background job, carried by what the job writes.

A job taken over by another worker (its first worker stalled past the lease, or was thought
dead) gets a new lease number. A write made on the job's behalf that names the old lease must
not commit: the store checks the lease in the same transaction as the write (a fencing token),
so a worker that resumes after a long pause (SIGSTOP, a frozen VM) cannot publish a result
the job's new worker publishes too.
"""

from __future__ import annotations

from dataclasses import dataclass

from use_cases.shared.errors import JobCancelled

__all__ = ["JobLease", "LeaseLost"]


@dataclass(frozen=True)
class JobLease:
    """Job `job_id`, held by `worker` under lease number `number` (one more at each claim)."""

    job_id: str
    worker: str
    number: int


class LeaseLost(JobCancelled):
    """The job was taken over: what this worker was about to write was not written."""

    type = "job_cancelled"
