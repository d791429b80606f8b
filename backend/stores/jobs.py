"""Background jobs (uploads processed after the request returns)."""

from __future__ import annotations

from backend.config import Settings
from services.job_queue import ThreadJobQueue
from services.postgres import PgDatabase

JobQueueAdapter = ThreadJobQueue


def build_job_queue(settings: Settings, db: PgDatabase | None) -> JobQueueAdapter:
    del settings, db  # in-process for now, on either backend
    return ThreadJobQueue()
