"""Structured tables: loads, rows and read-only SQL (`use_cases/tables`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.features import INTERNAL
from backend.features.adapters import Wiring
from use_cases.tables.tables import (
    ListTables,
    LoadTable,
    LoadTablesIfEmpty,
    LoadWorkbook,
    RunSql,
    TableRows,
)


@dataclass(frozen=True)
class TableUseCases:
    list_tables: ListTables
    table_rows: TableRows
    run_sql: RunSql
    load_tables_if_empty: LoadTablesIfEmpty
    load_table: LoadTable = field(metadata=INTERNAL)
    """Loads one table (admins load through `admin`'s audited wrapper)."""
    load_workbook: LoadWorkbook = field(metadata=INTERNAL)
    """Loads a table per sheet of a workbook (through `admin`'s audited wrapper too)."""


def build(w: Wiring) -> TableUseCases:
    a = w.adapters
    load_table = LoadTable(a.tables, a.sql)
    return TableUseCases(
        list_tables=ListTables(a.tables),
        table_rows=TableRows(a.tables, a.sql),
        run_sql=RunSql(a.sql),
        load_tables_if_empty=LoadTablesIfEmpty(load_table, a.tables),
        load_table=load_table,
        load_workbook=LoadWorkbook(a.tables, a.sql),
    )
