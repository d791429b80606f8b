"""The structured tables the SQL tool reads: load one, list them, run a read-only query.

Rules:
- A table name is 1-63 letters, digits and underscores, not starting with a digit, not an
  SQL keyword, and not starting with `sqlite_` (SQLite's) or `_almanac` (Almanac's own
  bookkeeping): so the model can write it unquoted. Any other name is `InvalidRequest`,
  before the file is even opened.
- `LoadTable` creates or replaces one table from a file whose extension gives its type
  (CSV/TSV or JSON lines). A missing or unreadable file, an unsupported type
  (`UnsupportedDocument`) or a bad line anywhere is refused before anything is written: the
  previous table, if any, stays exactly as it was.
- After a load, the next query and the next schema listing (what the model is shown: columns,
  samples, row counts) see the new table at once. The SQL runner's cache is refreshed here, so
  no caller has to remember it.
- `LoadWorkbook` does the same for each sheet of a workbook (`.xlsx`, `.xlsm`, `.ods`),
  in one transaction: a table per sheet with data, named from the file (or a prefix given
  instead) and the sheet (`sheet_table_name`).
- `LoadTablesIfEmpty` (the bundled sample at first start) loads each file as the table named
  by its stem, only when no table exists yet.
- `ListTables`: every user table with its columns, samples and row count, sorted by name.
- `RunSql`: one read-only SELECT through the sandbox the agent uses; anything else, and a query
  over the time limit, is `ToolRejected` (422). At most `SQL_MAX_ROWS` rows, with `truncated`.
- A table belongs to at most one collection (`TableSchema.collection_id`; none: the default
  collection every user reads). A load names one (`Placement`), or keeps a replaced table's
  own and puts a new one in the default collection. Listing, rows and SQL take the reader's
  collections (`TableCollections`) and see only those tables: the sandbox itself refuses
  any other as "no such table" (a table of another collection and a missing one read the
  same), and a table you may not read is `NotFound`, as a missing one is.
- Loading is an admin action, audited: the presentation layer calls `LoadTableAsAdmin`
  (use_cases/admin/actions.py), which wraps `LoadTable`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from use_cases.shared.errors import InvalidRequest, NotFound
from use_cases.tables.domain import (
    KEEP,
    Placement,
    QueryResult,
    TableCollections,
    TableSchema,
    may_read,
)
from use_cases.tables.ports import SqlRunner, TableLoader

#: Tables whose names start with this prefix are Almanac's own bookkeeping: never listed,
#: never queryable by the model, and not allowed as user table names.
INTERNAL_PREFIX = "_almanac"
TABLE_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

#: Every SQLite keyword (https://sqlite.org/lang_keywords.html). A column named after one is
#: suffixed with `_`: many are legal bare identifiers, but the model should never need to
#: guess which, or to quote.
_KEYWORD_LIST = """
    abort action add after all alter always analyze and as asc attach autoincrement before
    begin between by cascade case cast check collate column commit conflict constraint
    create cross current current_date current_time current_timestamp database default
    deferrable deferred delete desc detach distinct do drop each else end escape except
    exclude exclusive exists explain fail filter first following for foreign from full
    generated glob group groups having if ignore immediate in index indexed initially inner
    insert instead intersect into is isnull join key last left like limit match materialized
    natural no not nothing notnull null nulls of offset on or order others outer over
    partition plan pragma preceding primary query raise range recursive references regexp
    reindex release rename replace restrict returning right rollback row rows savepoint
    select set table temp temporary then ties to transaction trigger unbounded union unique
    update using vacuum values view virtual when where window with without
"""
SQL_KEYWORDS = frozenset(_KEYWORD_LIST.split())


def validate_table_name(name: str) -> str:
    """Return `name` if it is a safe, user-owned table name, else raise `InvalidRequest`."""
    if not isinstance(name, str) or not TABLE_NAME_PATTERN.fullmatch(name):
        raise InvalidRequest(
            f"Invalid table name {name!r}: use 1-63 characters, letters, digits and "
            "underscores only, not starting with a digit (e.g. `sales_2024`)."
        )
    lowered = name.lower()
    if lowered.startswith("sqlite_"):
        raise InvalidRequest(
            f"Invalid table name {name!r}: names starting with `sqlite_` are reserved by SQLite."
        )
    if lowered.startswith(INTERNAL_PREFIX):
        raise InvalidRequest(
            f"Invalid table name {name!r}: names starting with `{INTERNAL_PREFIX}` are "
            "reserved by Almanac."
        )
    if lowered in SQL_KEYWORDS:
        raise InvalidRequest(
            f"Invalid table name {name!r}: it is an SQL keyword; choose another name "
            f"(e.g. `{lowered}s` or `{lowered}_table`)."
        )
    return name


_NOT_NAME = re.compile(r"[^a-z0-9]+")


def sheet_table_name(workbook: str, sheet: str) -> str:
    """The table a workbook's sheet is loaded as: the file's stem (or the name given) and
    the sheet's name, lower case, joined by "_", every other character an "_" ("Budget
    2024.xlsx", sheet "Q1 Sales" -> `budget_2024_q1_sales`); a valid name whatever the
    two are (`validate_table_name`): a leading digit gets "t_" before it, a keyword or a
    reserved prefix "_table" after it, cut to 63 characters."""
    stem = Path(workbook.replace("\\", "/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem.lstrip(".") else stem
    name = _NOT_NAME.sub("_", f"{stem}_{sheet}".lower()).strip("_") or "sheet"
    if name[0].isdigit():
        name = f"t_{name}"
    name = name[:63].rstrip("_")
    if name in SQL_KEYWORDS or name.startswith(("sqlite_", INTERNAL_PREFIX.lstrip("_"))):
        name = f"{name[:56]}_table"
    return name


@dataclass(frozen=True)
class LoadTableRequest:
    file: Path
    name: str
    collection: Placement = KEEP


@dataclass(frozen=True)
class LoadedTable:
    """The table as loaded, and the one it replaced (same name, any case), if any."""

    schema: TableSchema
    replaced: TableSchema | None = None


class LoadTable:
    """Creates or replaces one table; the module docstring has the rules."""

    def __init__(self, tables: TableLoader, sql: SqlRunner) -> None:
        self._tables = tables
        self._sql = sql

    async def execute(self, request: LoadTableRequest) -> LoadedTable:
        return await asyncio.to_thread(self.run, request)

    def run(self, request: LoadTableRequest) -> LoadedTable:
        """Synchronous body (the CLI and the composition root call it from their thread)."""
        name = validate_table_name(request.name)
        replaced = next(
            (t for t in self._tables.list_tables() if t.name.lower() == name.lower()), None
        )
        schema = self._tables.load(Path(request.file), name, request.collection)
        self._sql.refresh()
        return LoadedTable(schema, replaced)


@dataclass(frozen=True)
class LoadWorkbookRequest:
    file: Path
    prefix: str | None = None
    """Names the tables instead of the file's name (`prefix_sheet`)."""
    collection: Placement = KEEP


class LoadWorkbook:
    """Creates or replaces a table per sheet of a workbook, all or none (the tables are
    named by `sheet_table_name`); the next query sees them at once."""

    def __init__(self, tables: TableLoader, sql: SqlRunner) -> None:
        self._tables = tables
        self._sql = sql

    async def execute(self, request: LoadWorkbookRequest) -> list[LoadedTable]:
        return await asyncio.to_thread(self.run, request)

    def run(self, request: LoadWorkbookRequest) -> list[LoadedTable]:
        prefix = validate_table_name(request.prefix) if request.prefix else None
        before = {t.name.lower(): t for t in self._tables.list_tables()}
        schemas = self._tables.load_workbook(Path(request.file), prefix, request.collection)
        self._sql.refresh()
        return [LoadedTable(schema, before.get(schema.name.lower())) for schema in schemas]


class LoadTablesIfEmpty:
    """Loads `files` (each as the table named by its stem) only if no table exists yet."""

    def __init__(self, load: LoadTable, tables: TableLoader) -> None:
        self._load = load
        self._tables = tables

    def run(self, files: Sequence[Path]) -> list[TableSchema]:
        """The tables loaded; empty if some table already existed."""
        if self._tables.list_tables():
            return []
        return [self._load.run(LoadTableRequest(file, Path(file).stem)).schema for file in files]


class ListTables:
    """The tables a reader of `collections` may see (None: every table)."""

    def __init__(self, tables: TableLoader) -> None:
        self._tables = tables

    async def execute(self, collections: TableCollections = None) -> list[TableSchema]:
        return await asyncio.to_thread(self.run, collections)

    def run(self, collections: TableCollections = None) -> list[TableSchema]:
        return [t for t in self._tables.list_tables() if may_read(collections, t)]


class RunSql:
    """One read-only SELECT over the tables a reader of `collections` may see, in a worker
    thread (see the module docstring)."""

    def __init__(self, sql: SqlRunner) -> None:
        self._sql = sql

    async def execute(self, query: str, collections: TableCollections = None) -> QueryResult:
        return await asyncio.to_thread(self.run, query, collections)

    def run(self, query: str, collections: TableCollections = None) -> QueryResult:
        return self._sql.run(query, collections)


class ScopedSqlRunner:
    """`SqlRunner` over `base` that always reads within `collections`, whatever its caller
    asks for (the agent's SQL tool: the turn's reader, never the model, decides)."""

    def __init__(self, base: SqlRunner, collections: TableCollections) -> None:
        self._base = base
        self.collections = collections

    @property
    def dialect(self) -> str:
        return self._base.dialect

    def schemas(self, collections: TableCollections = None) -> list[TableSchema]:
        del collections  # the reader's, never the asker's
        return self._base.schemas(self.collections)

    def run(self, sql: str, collections: TableCollections = None) -> QueryResult:
        del collections
        return self._base.run(sql, self.collections)

    def refresh(self) -> None:
        self._base.refresh()


def scoped_sql(base: SqlRunner | None, collections: TableCollections) -> SqlRunner | None:
    """`base` bound to `collections` (itself for every collection: an admin's turn)."""
    if base is None or collections is None:
        return base
    return ScopedSqlRunner(base, collections)


#: Rows one page of `TableRows` may ask for (the SQL sandbox returns at most its own row
#: limit, SQL_MAX_ROWS, of them).
MAX_ROWS_PAGE = 500


@dataclass(frozen=True)
class TableRowsPage:
    """Rows of one table, in its stored order, from `offset` (at most the sandbox's row
    limit of them); `total`: all its rows."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    total: int
    offset: int


class TableRows:
    """A page of a table's rows, read through the read-only SQL sandbox (what the assistant's
    table lookups read)."""

    def __init__(self, tables: TableLoader, sql: SqlRunner) -> None:
        self._tables = tables
        self._sql = sql

    async def execute(
        self, name: str, limit: int = 50, offset: int = 0, collections: TableCollections = None
    ) -> TableRowsPage:
        """A page of table `name`; `NotFound` for a table a reader of `collections` may not
        read, as for a missing one."""
        return await asyncio.to_thread(self._page, name, limit, offset, collections)

    def _page(
        self, name: str, limit: int, offset: int, collections: TableCollections
    ) -> TableRowsPage:
        if not 1 <= limit <= MAX_ROWS_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_ROWS_PAGE}.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")
        schema = _table_named(self._tables, validate_table_name(name))
        if not may_read(collections, schema):
            raise NotFound(f"Table {name} not found.")
        quoted = '"' + schema.name.replace('"', '""') + '"'
        result = self._sql.run(f"SELECT * FROM {quoted} LIMIT {limit} OFFSET {offset}", collections)
        return TableRowsPage(schema.name, result.columns, result.rows, schema.row_count, offset)


class DropTable:
    """Removes one table; the assistant's table lookups stop seeing it at once."""

    def __init__(self, tables: TableLoader, sql: SqlRunner) -> None:
        self._tables = tables
        self._sql = sql

    def run(self, name: str) -> TableSchema:
        """The table as it was; `NotFound` if there is none of that name."""
        schema = _table_named(self._tables, validate_table_name(name))
        if not self._tables.drop(schema.name):
            raise NotFound(f"Table {name} not found.")
        self._sql.refresh()
        return schema


def _table_named(tables: TableLoader, name: str) -> TableSchema:
    found = next((t for t in tables.list_tables() if t.name.lower() == name.lower()), None)
    if found is None:
        raise NotFound(f"Table {name} not found.")
    return found
