"""`copy_sqlite_to_postgres`: the copy in order (see the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from services.database_copy.postgres_target import refuse_if_not_empty
from services.database_copy.report import CopyFailed, CopyReport
from services.database_copy.rows import copy_all
from services.database_copy.search_check import check_search
from services.database_copy.sqlite_source import open_source, unknown_tables
from services.database_copy.tables import Progress
from services.postgres import Migration, PgDatabase, apply_migrations, redacted_url


def copy_sqlite_to_postgres(
    directory: Path,
    target_url: str,
    *,
    migrations: Sequence[Migration],
    queries: int = 20,
    retrieval: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy the installation in `directory` into the empty PostgreSQL database `target_url`
    (see the package docstring). `migrations`: every PostgreSQL store's schema migrations,
    applied first; `retrieval`: the retrievers' limits for the search check."""
    report_progress = progress or (lambda _table, _rows: None)
    target = redacted_url(target_url)
    db = PgDatabase(target_url, max_size=2)
    try:
        with open_source(directory) as source:
            with db.connection() as conn:
                refuse_if_not_empty(conn, target)
            applied = apply_migrations(db, migrations)
            try:
                with db.transaction() as conn:
                    refuse_if_not_empty(conn, target)  # again, now inside the transaction
                    counts = copy_all(source, conn, report_progress)
                    differ = [c for c in counts if not c.equal]
                    if differ:
                        raise CopyFailed(
                            "Row counts differ after the copy ("
                            + ", ".join(f"{c.table}: {c.source} vs {c.target}" for c in differ)
                            + "); the transaction was rolled back, nothing was written."
                        )
            except psycopg.Error as exc:
                message = exc.diag.message_primary or str(exc)
                where = f"; {' '.join(exc.diag.context.split())}" if exc.diag.context else ""
                raise CopyFailed(
                    f"The copy failed ({message}{where}); the transaction was rolled back: the "
                    "target holds none of the rows."
                ) from exc
            not_copied = unknown_tables(source)
        search = check_search(directory, db, queries, retrieval or {})
    finally:
        db.close()
    return CopyReport(
        source=str(directory),
        target=target,
        migrations_applied=applied,
        counts=counts,
        search=search,
        not_copied=not_copied,
    )
