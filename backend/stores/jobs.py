"""Background jobs (uploads processed after the request returns, evaluation runs): a table in
SQLite's app.db, or one every replica works on on PostgreSQL; and this process's presence
(services/presence.py), by which a starting process tells a dead worker's job, staged
document or streaming answer from a live one's."""

from __future__ import annotations

from backend.config import Settings
from services.job_queue import WorkerJobQueue
from services.job_store import JobStore
from services.postgres import PgDatabase
from services.presence import FilePresence, PgPresence, Presence
from use_cases.shared.errors import ConfigurationError

JobQueueAdapter = WorkerJobQueue


def build_presence(settings: Settings, db: PgDatabase | None) -> Presence:
    if db is None:
        return FilePresence(settings.storage.data_dir / "processes")
    jobs = settings.jobs
    return PgPresence(
        db.url,
        db.application_name,  # the pool's sessions are named after the process (stores/)
        role="worker" if jobs.run_jobs else "api",  # HTTP or not, a process that runs jobs
        heartbeat_s=jobs.process_heartbeat_seconds,
        timeout_s=jobs.process_timeout_seconds,
        prepared=not settings.storage.database_pooled,
    )


def build_job_queue(
    settings: Settings, db: PgDatabase | None, presence: Presence | None = None
) -> JobQueueAdapter:
    """The queue; the composition root registers a handler per job kind on it. Its worker
    id is the process's presence id, so a dead worker's job is taken over at once."""
    if db is None and not settings.jobs.run_jobs:
        raise ConfigurationError(
            "RUN_JOBS=false (almanac serve --no-jobs) needs DATABASE_URL=postgresql://...: on "
            "SQLite no other process would run the jobs this one queues."
        )
    worker_id = presence.id if presence is not None else None
    target = settings.storage.app_db_path if db is None else db
    jobs = settings.jobs
    return WorkerJobQueue(
        JobStore(target, presence=presence, lease_s=jobs.lease_seconds),
        worker_id=worker_id,
        heartbeat_s=jobs.lease_seconds / 3,
        runs_jobs=jobs.run_jobs,
        kinds=jobs.kinds,
        concurrency=jobs.concurrency,
        outage_budget_s=jobs.outage_budget_seconds,
        # After an outage of its own, a worker waits this long before taking a job over, so
        # that a live owner cut off by the same outage has renewed its heartbeat (and its
        # process row: PROCESS_TIMEOUT_SECONDS) by then (services/job_queue.py).
        takeover_grace_s=2 * max(jobs.lease_seconds, jobs.process_timeout_seconds),
    )
