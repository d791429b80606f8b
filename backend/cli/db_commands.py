"""`almanac db migrate|check|copy`: the storage backend's schema, and moving to PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from backend.cli.common import JsonOpt, console, err, run_command, settings_for_cli
from backend.config import Settings
from backend.extras import require_postgres
from backend.stores import storage_label
from services.postgres import Migration, PgDatabase, apply_migrations, pending_migrations
from services.sqlite.connection import check_sqlite_support

if TYPE_CHECKING:
    from services.database_copy.report import CopyReport

db_app = typer.Typer(
    help="The storage backend: schema migrations, checks, moving SQLite to PostgreSQL.",
    no_args_is_help=True,
)


def _open_postgres(settings: Settings) -> tuple[PgDatabase, list[Migration]]:
    """A one-connection pool on DATABASE_URL and every store's migrations (the PostgreSQL
    stores' modules need the `postgres` extra: imported here, once it is known installed)."""
    require_postgres()
    from backend.stores.registry import postgres_migrations

    database = PgDatabase(
        settings.storage.postgres_url, max_size=1, prepared=not settings.storage.database_pooled
    )
    return database, postgres_migrations()


def _postgres_status(db: PgDatabase) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT current_setting('server_version') AS server, "
            "(SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector"
        ).fetchone()
    return {"server_version": row["server"] if row else None, "pgvector": row and row["pgvector"]}


def _sqlite_files(settings: Settings) -> dict[str, Any]:
    files = {
        "knowledge": settings.storage.knowledge_db_path,
        "app": settings.storage.app_db_path,
        "tables": settings.storage.tables_db_path,
    }
    return {name: {"path": str(path), "exists": path.exists()} for name, path in files.items()}


@db_app.command("migrate")
def db_migrate(as_json: JsonOpt = False) -> None:
    """Apply the pending schema migrations.

    PostgreSQL: every store's migrations, in order, under an advisory lock (safe while
    replicas run or start). SQLite: each store applies its own when it opens, so this opens
    them all."""
    settings = settings_for_cli()

    def body() -> dict[str, Any]:
        if settings.storage.database_backend == "postgresql":
            db, migrations = _open_postgres(settings)
            try:
                applied = apply_migrations(db, migrations)
                status = _postgres_status(db)
            finally:
                db.close()
            return {"backend": "postgresql", "applied": applied, **status}
        from backend.bootstrap import bootstrap

        bootstrap(settings).close()  # every SQLite store migrates its file as it opens
        return {"backend": "sqlite", "applied": None, "files": _sqlite_files(settings)}

    report = run_command(body)
    if as_json:
        typer.echo(json.dumps(report))
        return
    if report["backend"] == "postgresql":
        applied = report["applied"]
        console.print(
            f"{storage_label(settings)}: applied {len(applied)} migration(s)"
            + (f": {', '.join(applied)}" if applied else "; the schema was up to date."),
            highlight=False,
        )
    else:
        console.print(f"{storage_label(settings)}: the files are up to date.", highlight=False)


@db_app.command("check")
def db_check(as_json: JsonOpt = False) -> None:
    """Check that the database is reachable, has what Almanac needs and has no pending
    migration. Exit code 1 when something is missing or pending (run `almanac db migrate`)."""
    settings = settings_for_cli()

    def body() -> dict[str, Any]:
        if settings.storage.database_backend == "postgresql":
            db, migrations = _open_postgres(settings)
            try:
                pending = pending_migrations(db, migrations)
                status = _postgres_status(db)
            finally:
                db.close()
            problems = [f"{len(pending)} pending migration(s)"] if pending else []
            return {"backend": "postgresql", "pending": pending, "problems": problems, **status}
        versions = check_sqlite_support()
        files = _sqlite_files(settings)
        missing = [name for name, info in files.items() if not info["exists"]]
        return {
            "backend": "sqlite",
            **versions,
            "files": files,
            "notes": [f"no {name} database yet (created on first start)" for name in missing],
            "problems": [],
        }

    report = run_command(body)
    if as_json:
        typer.echo(json.dumps(report))
    elif report["backend"] == "postgresql":
        console.print(
            f"{storage_label(settings)}: PostgreSQL {report['server_version']}, "
            f"pgvector {report['pgvector'] or 'not installed'}",
            highlight=False,
        )
        for name in report["pending"]:
            console.print(f"  pending: {name}", highlight=False)
    else:
        console.print(
            f"{storage_label(settings)}: SQLite {report['sqlite']}, "
            f"sqlite-vec {report['sqlite_vec']}",
            highlight=False,
        )
        for note in report["notes"]:
            console.print(f"  {note}", highlight=False)
    for problem in report["problems"]:
        err.print(f"[bold red]Problem:[/] {problem}; run `almanac db migrate`.", highlight=False)
    if report["problems"]:
        raise typer.Exit(1)
    if not as_json:
        console.print("OK", highlight=False)


@db_app.command("copy")
def db_copy(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="The SQLite installation: sqlite:///DIR (its knowledge.db, app.db, "
            "tables.db), opened read-only.",
        ),
    ],
    target: Annotated[
        str,
        typer.Option("--to", help="An empty PostgreSQL database with pgvector: postgresql://..."),
    ],
    queries: Annotated[
        int,
        typer.Option(
            "--queries",
            min=0,
            help="Sections whose first sentence is searched on both databases to compare the "
            "top documents (0: counts only).",
        ),
    ] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Copy an SQLite installation into an EMPTY PostgreSQL database and verify it.

    Everything but per-process state (jobs, rate-limit buckets, unfinished uploads) is copied
    with its ids, in one transaction: a failure leaves the target without a copied row. A
    target that already holds data is refused. Then the row counts of every table must equal
    the source's, and the top document of each sample search must agree for at least
    80% of the queries. Exit code 1 otherwise."""
    settings = settings_for_cli()
    if not source.startswith("sqlite:///") or source == "sqlite:///":
        err.print("[bold red]Error:[/] --from must be sqlite:///DIR.", highlight=False)
        raise typer.Exit(2)
    if not target.startswith(("postgresql://", "postgres://")):
        err.print("[bold red]Error:[/] --to must be postgresql://...", highlight=False)
        raise typer.Exit(2)
    run_command(lambda: require_postgres("--to"))
    from backend.stores.registry import postgres_migrations
    from services.database_copy import MIN_TOP1_AGREEMENT, copy_sqlite_to_postgres

    directory = Path(source.removeprefix("sqlite:///"))
    limits = {
        "vector_search_limit": settings.retrieval.vector_search_limit,
        "bm25_search_limit": settings.retrieval.bm25_search_limit,
        "rrf_k": settings.retrieval.rrf_k,
    }

    def progress(table: str, rows: int) -> None:
        err.print(f"  {table}: {rows} rows", highlight=False)

    report = run_command(
        lambda: copy_sqlite_to_postgres(
            directory,
            target,
            migrations=postgres_migrations(),
            queries=queries,
            retrieval=limits,
            progress=progress,
        )
    )
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    else:
        _print_copy_report(report, MIN_TOP1_AGREEMENT)
    if not report.ok:
        err.print(
            "[bold red]Verification failed:[/] the rows were copied and committed, but the "
            "searches do not agree enough (see above).",
            highlight=False,
        )
        raise typer.Exit(1)


def _print_copy_report(report: CopyReport, min_top1_agreement: float) -> None:
    """`almanac db copy`'s report for people: the row counts of every table, then the search
    comparison, then the tables that were not copied."""
    console.print(f"Copied {report.source} into {report.target}.", highlight=False)
    for count in report.counts:
        mark = "ok" if count.equal else "DIFFERENT"
        console.print(
            f"  {count.table:<36} {count.source:>9} -> {count.target:>9}  {mark}",
            highlight=False,
        )
    search = report.search
    if search.queries:
        console.print(
            f"Search: {search.queries} queries, same top document for "
            f"{search.top1_agreement:.0%} (needed {min_top1_agreement:.0%}), mean top-5 "
            f"document overlap {search.mean_overlap_at_5:.2f}.",
            highlight=False,
        )
    else:
        console.print(f"Search: {search.note}.", highlight=False)
    for table in report.not_copied:
        err.print(f"[yellow]Not copied (unknown table):[/] {table}", highlight=False)
