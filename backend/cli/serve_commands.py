"""`almanac serve`: the HTTP API in one process or several, or over one folder's own
knowledge base (`--knowledge PATH`)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from loguru import logger
from rich.markup import escape

from backend.cli import output
from backend.cli.common import cli_environ, err, load_settings, open_container, run_command
from backend.cli.knowledge_folder import KNOWLEDGE_ENV, knowledge_settings, record_served
from backend.cli.progress import IngestProgress
from backend.cli.workbook_tables import workbook_tables
from backend.config import Settings
from backend.exposure import check_bind, check_cors
from backend.extras import check_extras
from backend.ingest_problems import record_problems
from backend.logging import configure_logging
from backend.sources import prune_prefixes, scan_sources
from backend.stores import storage_label
from use_cases.access.domain import CLI_ADMIN
from use_cases.knowledge.ingest import IngestRequest
from use_cases.shared.errors import ConfigurationError


def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default: HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT or 8000).")] = None,
    insecure_bind: Annotated[
        bool,
        typer.Option(
            "--insecure-bind",
            help="Allow a non-loopback address with AUTH_ENABLED=false (everyone is admin).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes on this port (more than 1 needs DATABASE_URL=postgresql://).",
        ),
    ] = 1,
    no_jobs: Annotated[
        bool,
        typer.Option(
            "--no-jobs",
            help="Serve HTTP only: the jobs it queues are run by `almanac worker` processes "
            "(needs DATABASE_URL=postgresql://).",
        ),
    ] = False,
    knowledge: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            file_okay=False,
            dir_okay=True,
            help="Serve a knowledge base of this folder alone, without the bundled sample: "
            "its files are ingested first (changed ones again, removed ones dropped). Its data "
            "lives in DATA_DIR if set, else ~/.local/share/almanac/knowledge/NAME-HASH.",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (ingests the bundled sample knowledge base on first start, or,
    with --knowledge PATH, your own folder instead).

    With AUTH_ENABLED=false it only listens on loopback, unless forced. `--workers N` runs N
    processes sharing the PostgreSQL database (jobs, rate limits and everything stored are
    shared); on SQLite it is refused: its job queue and rate limits live in one process."""
    import uvicorn

    from backend.api.app import create_app

    served = load_settings(knowledge=False)
    knowledge = knowledge or run_command(_named_knowledge)
    settings = _served_settings(served, knowledge)
    if no_jobs:
        settings = settings.updated(run_jobs=False)

    def body() -> None:
        check_extras(settings)
        _check_processes(settings, workers=workers, no_jobs=no_jobs)
        bind = host or settings.server.host
        check_bind(bind, settings, insecure_bind=insecure_bind)
        check_cors(settings)  # before the workers start, each of which would refuse alone
        record_served(served, knowledge)
        if knowledge is not None:
            _ingest_knowledge(settings, knowledge)
        options = _server_options(settings, bind, port)
        if workers == 1:
            uvicorn.run(create_app(settings), **options)
            return
        # The first start's sample load runs once here, not in every worker at once.
        with open_container(settings, with_sample=True):
            pass
        if no_jobs:  # what `--workers N`'s processes read their settings from
            os.environ["RUN_JOBS"] = "false"
        uvicorn.run(SERVE_APP_FACTORY, factory=True, workers=workers, **options)

    run_command(body)


def _served_settings(settings: Settings, knowledge: Path | None) -> Settings:
    """The settings of the knowledge base served (`knowledge`'s own, if named), logging
    configured, and where the knowledge base is said in the log."""
    if knowledge is not None:
        settings = knowledge_settings(settings, knowledge)
    configure_logging(settings.server.log_level, content=settings.server.log_request_content)
    if knowledge is not None:
        logger.info(
            "Serving the knowledge base of {} in {}; `almanac` commands run from {} act on it "
            "(elsewhere: almanac --knowledge PATH or {}=PATH)",
            knowledge.resolve(),
            settings.storage.data_dir,
            Path.cwd(),
            KNOWLEDGE_ENV,
        )
    return settings


def _named_knowledge() -> Path | None:
    """The folder `almanac --knowledge PATH serve` or ALMANAC_KNOWLEDGE names, if any."""
    named = cli_environ().get(KNOWLEDGE_ENV, "").strip()
    if not named:
        return None
    folder = Path(named).expanduser()
    if not folder.is_dir():
        raise ConfigurationError(f"{KNOWLEDGE_ENV}={named}: no such folder.")
    return folder


def _server_options(settings: Settings, bind: str, port: int | None) -> dict[str, Any]:
    """uvicorn's options: the address, no logging of its own (loguru logs), and the pinned
    h11 protocol that bounds request heads and connections for everyone (each worker process
    reads the same settings from the environment when it imports the protocol)."""
    from backend.http_server import BoundedH11Protocol, HeadLimits

    limits = HeadLimits.of(settings.http)
    BoundedH11Protocol.limits = limits
    return {
        "host": bind,
        "port": port or settings.server.port,
        "log_config": None,
        "access_log": False,
        **limits.uvicorn_options(),
    }


def _check_processes(settings: Settings, *, workers: int, no_jobs: bool) -> None:
    """`--no-jobs` and `--workers N` need PostgreSQL: on SQLite the job queue, the rate limits
    and the resident vector index live inside one process."""
    if settings.storage.database_backend == "postgresql":
        return
    if no_jobs:
        raise ConfigurationError(
            "--no-jobs needs DATABASE_URL=postgresql://...: on SQLite no other process "
            "would run the jobs this server queues. Serve without it."
        )
    if workers > 1:
        raise ConfigurationError(
            f"--workers {workers} needs DATABASE_URL=postgresql://...: on SQLite the "
            "rate limits and the resident vector index live inside one process: "
            "several processes would each keep their own. Serve one process, or move "
            "to PostgreSQL (almanac db copy)."
        )


def _ingest_knowledge(settings: Settings, folder: Path) -> None:
    """`almanac ingest FOLDER --prune --no-wait` into `settings`' data, before serving it:
    the documents, and each workbook's sheets as tables."""
    err.print(
        f"Knowledge base of {escape(str(folder.resolve()))} in {escape(storage_label(settings))}",
        highlight=False,
        soft_wrap=True,
    )
    with open_container(settings) as container:
        scan = scan_sources([folder], container.knowledge.ingest, file_dates=True)
        sources = scan.sources
        started = time.monotonic()
        with IngestProgress(err, total=len(sources)) as on_progress:
            report = container.admin.admin_ingest.run(
                CLI_ADMIN,
                IngestRequest(
                    sources=sources,
                    prune_prefixes=prune_prefixes([folder]),
                    on_progress=on_progress,
                    on_pages=on_progress.pages,
                ),
            )
        readiness = output.Readiness(report.chunks_written, time.monotonic() - started)
        tables, _ = workbook_tables(container, sources)
    known = record_problems(settings.storage.data_dir, prune_prefixes([folder]), report, scan)
    if report.chunks_written:
        err.print(output.searchable_line(readiness), highlight=False)
    for line in [*output.ingest_lines(report, known), *output.scan_lines(scan)]:
        err.print(line, highlight=False, soft_wrap=True)
    err.print(output.ingest_summary(report, scan, len(known)), highlight=False)
    for line in tables:  # a workbook refused as tables is reported; the server still starts
        err.print(line, highlight=False, soft_wrap=True)


#: What each of `almanac serve --workers N`'s processes imports to build its app.
SERVE_APP_FACTORY = "backend.api.app:serve_app"
