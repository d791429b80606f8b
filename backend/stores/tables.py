"""The tables family: the structured tables the SQL tool reads, and their read-only runner."""

from __future__ import annotations

from backend.config import Settings
from backend.stores import not_on_postgres
from services.postgres import PgDatabase
from services.tables.loader import SqliteTableLoader
from services.tables.sql_sandbox import SqliteSqlRunner

TableLoaderAdapter = SqliteTableLoader
SqlRunnerAdapter = SqliteSqlRunner


def build_tables(
    settings: Settings, db: PgDatabase | None
) -> tuple[TableLoaderAdapter, SqlRunnerAdapter]:
    if db is not None:
        raise not_on_postgres("tables")
    tables = SqliteTableLoader(settings.tables_db_path)
    tables.list_tables()  # creates the file, so the read-only sandbox can open it
    sql = SqliteSqlRunner(
        settings.tables_db_path, timeout_s=settings.sql_timeout, max_rows=settings.sql_max_rows
    )
    return tables, sql
