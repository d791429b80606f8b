"""Runs executed as background jobs: what evaluation runs and cleaning runs share of their
life as jobs (queued, executed by a worker, resumed at start-up, waited for).

Rules:
- A run is one job of its kind, keyed by the run id (`unique_key`): scheduling a run already
  queued or running answers the job already there, so a run is one job however often it is
  scheduled or resumed. Any process that registered the kind's handler (`run_job`) may
  execute it (see use_cases/jobs/queue.py).
- The job's payload is `{"run_id": ...}` and its name `<noun> <run id>`; the handler executes
  the run's work without a result yet (`execute`), so running it again from the start (a job
  taken over after its process died) finishes the run rather than repeating it.
- At start-up every run its store holds as queued or running is scheduled again, in the
  store's order, each logged as `Resuming <noun> <run id>`; resuming stores no run, so no
  queue cap refuses it.
- `wait` polls the job this process scheduled for a run until it is done or failed (tests,
  the CLI); it returns at once for a run this process did not schedule.
- What is not shared stays with each kind of run: how a run is created, capped, executed,
  cancelled and deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from loguru import logger

from use_cases.jobs.queue import JobQueue, JobRun


class StoredRun(Protocol):
    """A run as its store lists it."""

    @property
    def run_id(self) -> str: ...


class BackgroundRuns:
    """Schedules, resumes and waits for the runs of one job kind (see the module rules).

    `unfinished` lists the runs stored as queued or running (called in a worker thread);
    `execute` executes one run's remaining work on the worker's loop."""

    def __init__(
        self,
        jobs: JobQueue,
        kind: str,
        noun: str,
        *,
        unfinished: Callable[[], Sequence[StoredRun]],
        execute: Callable[[str], Awaitable[object]],
    ) -> None:
        self._jobs = jobs
        self._kind = kind
        self._noun = noun
        self._unfinished = unfinished
        self._execute = execute
        self._job_ids: dict[str, str] = {}

    def schedule(self, run_id: str) -> str:
        """Queue the run's job (once: scheduling a run already queued or running answers its
        job); any worker process executes it. Answers the job id."""
        job = self._jobs.submit(
            self._kind, f"{self._noun} {run_id}", {"run_id": run_id}, unique_key=run_id
        )
        self._job_ids[run_id] = job.id
        return job.id

    async def run_job(self, job: JobRun) -> None:
        """The kind's job handler: execute the run's work that has no result yet."""
        await self._execute(str(job.payload["run_id"]))

    async def resume_unfinished(self) -> list[str]:
        """Schedule every run left queued or running (at server start); a run whose job is
        still queued or running (on another replica) is not scheduled twice."""
        runs = await asyncio.to_thread(self._unfinished)
        for run in runs:
            logger.info("Resuming {} {}", self._noun, run.run_id)
            await asyncio.to_thread(self.schedule, run.run_id)
        return [r.run_id for r in runs]

    async def wait(self, run_id: str, poll_s: float = 0.02) -> None:
        """Until the job this process scheduled for `run_id` (if any) ends (tests, CLI)."""
        job_id = self._job_ids.get(run_id)
        while job_id is not None:
            job = await asyncio.to_thread(self._jobs.get, job_id)
            if job is None or job.status in ("done", "failed"):
                return
            await asyncio.sleep(poll_s)
