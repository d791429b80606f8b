"""The tables family: the structured tables the SQL tool reads, and their read-only runner.

On PostgreSQL the tables live in their own schema and the model's SQL runs as a read-only role
(services/tables/loader.py, pg_sql_sandbox.py); on SQLite, in their own file."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, TypeAlias

from backend.config import Settings
from services.budgets import BUDGET
from services.postgres import PgDatabase
from services.tables.loader import TableLoader
from services.tables.sql_sandbox import SqliteSqlRunner

if TYPE_CHECKING:  # the PostgreSQL sandbox needs the `postgres` extra: imported when chosen
    from services.tables.pg_sql_sandbox import PgSqlRunner

TableLoaderAdapter = TableLoader
SqlRunnerAdapter: TypeAlias = "SqliteSqlRunner | PgSqlRunner"


def build_tables(
    settings: Settings, db: PgDatabase | None
) -> tuple[TableLoaderAdapter, SqlRunnerAdapter]:
    # A workbook's sheets are read as the document loader reads them (MAX_WORKBOOK_CELLS).
    budget = dataclasses.replace(BUDGET, max_workbook_cells=settings.documents.max_workbook_cells)
    if db is not None:
        from services.tables.pg_sql_sandbox import PgSqlRunner

        loader = TableLoader(db, budget)
        runner = PgSqlRunner(
            db, timeout_s=settings.tables.sql_timeout, max_rows=settings.tables.sql_max_rows
        )
        return loader, runner
    tables = TableLoader(settings.storage.tables_db_path, budget)
    tables.list_tables()  # creates the file, so the read-only sandbox can open it
    sql = SqliteSqlRunner(
        settings.storage.tables_db_path,
        timeout_s=settings.tables.sql_timeout,
        max_rows=settings.tables.sql_max_rows,
    )
    return tables, sql
