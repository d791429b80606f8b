"""Background jobs (uploads processed after the request returns, evaluation runs): in this
process's memory on SQLite (one process), in a table every replica works on on PostgreSQL."""

from __future__ import annotations

from backend.config import Settings
from services.job_queue import MemoryJobStore, WorkerJobQueue
from services.postgres import PgDatabase
from services.postgres.jobs import PgJobStore

JobQueueAdapter = WorkerJobQueue


def build_job_queue(settings: Settings, db: PgDatabase | None) -> JobQueueAdapter:
    """The queue; the composition root registers a handler per job kind on it."""
    del settings
    if db is None:
        return WorkerJobQueue(MemoryJobStore())
    return WorkerJobQueue(PgJobStore(db))
