"""`almanac worker`: a process that runs background jobs and serves no HTTP.

With PostgreSQL, the API replicas (`almanac serve --no-jobs`) queue the jobs (uploads past
UPLOAD_JOB_BYTES, evaluation and cleaning runs, imports, conflict scans) in the shared `jobs`
table, and any number of workers claim them, so ingestion and scans never compete with chat
turns for the API's CPU and each tier scales on its own (docs/deployment.md). A worker may be
given some kinds only (`--kinds`, JOB_KINDS) and how many of each it runs at once
(`--concurrency`, JOB_CONCURRENCY).

Stopping: SIGTERM or Ctrl-C stops taking work and hands the running jobs back to the queue
(another worker, or this one's next start, runs them again); `kill -9` leaves them to be taken
over once the process's heartbeat row is stale (PROCESS_TIMEOUT_SECONDS).
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from loguru import logger

from backend import __version__
from backend.bootstrap import bootstrap, start_job_worker
from backend.cli.common import load_settings, run_command
from backend.extras import check_extras
from backend.logging import configure_logging
from use_cases.shared.errors import ConfigurationError

__all__ = ["worker"]


def worker(
    kinds: Annotated[
        str | None,
        typer.Option(
            help="Job kinds to run, comma-separated (default: JOB_KINDS, or every kind).",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Jobs of each kind run at once (default: JOB_CONCURRENCY, or each kind's own).",
        ),
    ] = None,
) -> None:
    """Run background jobs (uploads, evaluation runs, ...) queued by the API replicas; no HTTP.

    Needs DATABASE_URL=postgresql://...: the jobs are shared through the database. Stops on
    SIGTERM or Ctrl-C, handing its running jobs back to the queue."""
    settings = load_settings()
    configure_logging(settings.server.log_level, content=settings.server.log_request_content)

    def body() -> None:
        check_extras(settings)
        if settings.storage.database_backend != "postgresql":
            raise ConfigurationError(
                "almanac worker needs DATABASE_URL=postgresql://...: on SQLite `almanac serve` "
                "runs the jobs itself, in its one process."
            )
        changes: dict[str, object] = {"run_jobs": True}
        if kinds is not None:
            changes["job_kinds"] = kinds
        if concurrency is not None:
            changes["job_concurrency"] = concurrency
        container = bootstrap(settings.updated(**changes))
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        try:
            jobs = start_job_worker(container)
            logger.info(
                "Almanac {} worker ready: {} (concurrency {})",
                __version__,
                ", ".join(jobs.kinds),
                container.settings.jobs.concurrency or "each kind's own",
            )
            stop.wait()
            logger.info("Stopping: running jobs go back to the queue")
        finally:
            container.close()

    run_command(body)
