"""`almanac db migrate|check|copy`: the storage backend's schema, and moving to PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import typer

from backend.cli.common import JsonOpt, console, err, run_command, settings_for_cli
from backend.config import Settings
from backend.stores import storage_label
from backend.stores.registry import postgres_migrations
from services.postgres import PgDatabase, apply_migrations, pending_migrations
from services.sqlite.connection import check_sqlite_support

db_app = typer.Typer(
    help="The storage backend: schema migrations, checks, moving SQLite to PostgreSQL.",
    no_args_is_help=True,
)


def _postgres_status(db: PgDatabase) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT current_setting('server_version') AS server, "
            "(SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector"
        ).fetchone()
    return {"server_version": row["server"] if row else None, "pgvector": row and row["pgvector"]}


def _sqlite_files(settings: Settings) -> dict[str, Any]:
    files = {
        "knowledge": settings.knowledge_db_path,
        "app": settings.app_db_path,
        "tables": settings.tables_db_path,
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
        if settings.database_backend == "postgresql":
            db = PgDatabase(settings.postgres_url, max_size=1)
            try:
                applied = apply_migrations(db, postgres_migrations())
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
        if settings.database_backend == "postgresql":
            db = PgDatabase(settings.postgres_url, max_size=1)
            try:
                pending = pending_migrations(db, postgres_migrations())
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
