"""Load CSV/TSV and JSON Lines files into the tables the SQL sandbox queries: in a SQLite file,
or in PostgreSQL (`TableLoader`, one class for both).

Why it works the way it does:

* **Two passes over the file, one transaction.** The first pass validates every line and
  infers the column types; only then do we take the write lock, build the rows into a scratch
  table, drop the old table and rename the scratch table into its place. A bad line anywhere
  therefore rejects the whole file before anything is written, and a failure during the write
  (disk full, the file changed between the passes) rolls back: the previous table, if any, is
  left exactly as it was. Rows stream into the scratch table, so a large file is never held
  in memory.
* **Types are inferred conservatively.** A column is INTEGER only if every non-empty value is
  an integer that fits in 64 bits, REAL if every value is a number, DATE / DATETIME if every
  value is an ISO date / timestamp, else TEXT. Zero-padded numbers such as ZIP codes or
  account numbers ("007") keep the column TEXT, since turning them into integers would
  silently lose the zeros. Empty cells are NULL.
* **Column names become safe identifiers** (`[a-z0-9_]`, unique, not starting with a digit,
  SQL keywords suffixed with `_`), so the model can write them without quoting. The mapping to
  the original header is kept in `_almanac_columns` (see `column_mapping`).
* **The same answers on both databases**: the same files, type inference, errors and
  `TableSchema` (columns with the loader's type names, samples, listed text values, row
  count), so the offline model and `list_tables` read the same schema on both backends.

What the database changes (`SqliteTables` and `PgTables`, side by side below; `TableLoader`
and `TableStorage.describe` are written once over them):

* **Where the tables live.** SQLite: a file of their own; every call opens its own connection
  (WAL mode) and closes it, so listing or dropping never creates the file and a closed file
  holds every table (the WAL is checkpointed). PostgreSQL: a schema of their own
  (`TABLES_SCHEMA`), never beside the application's tables, through the shared pool. The
  model's queries there run as `READER_ROLE`, a NOLOGIN role that may only `SELECT` the tables
  granted to it (see `pg_sql_sandbox`); every table the loader creates is granted to it,
  Almanac's own `_almanac_columns` never is. `PG_MIGRATIONS` make the role, the schema and
  `_almanac_columns`; on SQLite the first load creates `_almanac_columns` (a file loaded before
  it existed has no mapping).
* **The catalogue of collections.** `_almanac_tables` holds each table's collection (a row
  per table placed in one; no row: the default collection, so tables loaded before
  collections, and a file or schema from before this catalogue, read as they did). On
  PostgreSQL `tables_pg_0003_collections` makes it (never granted to the reader role); on
  SQLite the first load that names a collection does. The SQL sandboxes read it to decide
  which tables a reader's query may touch.
* **Table names.** SQLite keeps a table's name as loaded and compares names
  case-insensitively; PostgreSQL folds it to lowercase, so the model can write it unquoted
  (PostgreSQL folds unquoted names). Column names already are lowercase.
* **Types.** SQLite declares the loader's types and stores DATE / DATETIME as ISO-8601 text,
  which its date functions read. PostgreSQL stores real types (`PG_TYPES`): INTEGER -> BIGINT,
  REAL -> DOUBLE PRECISION, DATE -> DATE, DATETIME -> TIMESTAMP (a value with an offset is
  stored as its UTC time), TEXT -> TEXT, and reports them by the loader's names.
* **Writers.** SQLite: `BEGIN IMMEDIATE` takes the write lock up front and rows stream in
  through `executemany`; two loads of the same table serialise on the lock. PostgreSQL: loads
  and drops of any table serialise on one transaction advisory lock (`LOAD_LOCK`, across
  processes too) and rows stream in with `COPY`; the scratch table is named after a digest of
  the table's name, since PostgreSQL cuts identifiers at 63 bytes. The later load wins on both.
* **Listed values.** SQLite lists a column's text values (which include the ISO dates it
  stores as text); PostgreSQL the values of its TEXT, DATE and DATETIME columns, as text, in
  order of first appearance.
* **Refusals.** A value PostgreSQL cannot store (a NUL character inside a JSON string) makes
  the load `InvalidRequest`, with nothing written; SQLite stores it.

psycopg is the `postgres` extra: the PostgreSQL code here imports it where it runs (only
with a PostgreSQL pool), so loading tables into SQLite needs none of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from services.budgets import BUDGET, InputBudget
from services.office.workbooks import WORKBOOK_EXTENSIONS
from services.postgres import PgDatabase, apply_migrations
from services.sql import StoreTarget
from services.sqlite.connection import connect, immediate_transaction
from services.tables.columns import quote_identifier, sanitise_column_names
from services.tables.databases import (
    LOAD_LOCK,
    MAX_COLUMNS,
    PG_MIGRATIONS,
    PG_TABLES,
    PG_TYPES,
    READER_ROLE,
    SQLITE_TABLES,
    TABLES_SCHEMA,
    TableStorage,
    as_text,
    describe_table,
    user_table_names,
)
from services.tables.reading import SourceFile, read_csv, read_jsonl, read_workbook_sheets
from use_cases.shared.errors import InvalidRequest, UnsupportedDocument
from use_cases.tables.domain import KEEP, Placement, TableSchema
from use_cases.tables.tables import INTERNAL_PREFIX, SQL_KEYWORDS, validate_table_name

# -- the loader ---------------------------------------------------------------------------------


class TableLoader:
    """Creates, replaces, lists and drops the user tables: in one SQLite file (WAL mode), or in
    PostgreSQL's TABLES_SCHEMA on the shared pool (`target`).

    Safe to share between threads (and on PostgreSQL between processes): every call opens
    (SQLite) or borrows (PostgreSQL) its own connection; loads serialise on SQLite's write
    lock, or on PostgreSQL on one advisory lock for loads and drops of any table, and the
    later load wins.
    """

    SUFFIXES: ClassVar[dict[str, str]] = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
    JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})

    WORKBOOK_SUFFIXES = frozenset(WORKBOOK_EXTENSIONS)
    #: Every file type `load` and `load_workbook` read, tables first, then workbooks.
    EXTENSIONS: ClassVar[tuple[str, ...]] = (
        *SUFFIXES,
        *sorted(JSONL_SUFFIXES),
        *WORKBOOK_EXTENSIONS,
    )

    def __init__(self, target: StoreTarget, budget: InputBudget = BUDGET) -> None:
        self._budget = budget
        #: The shared pool, or the SQLite file (created by the first load).
        self._db: PgDatabase | Path
        self._tables: TableStorage[Any]
        if isinstance(target, PgDatabase):
            self._db, self._tables = target, PG_TABLES
            apply_migrations(target, PG_MIGRATIONS)
        else:
            self._db, self._tables = Path(target), SQLITE_TABLES

    def close(self) -> None:
        """Nothing to release: each call closes its SQLite connection, and the PostgreSQL
        pool is shared and closed by its owner."""

    def load(self, file: Path, name: str, collection: Placement = KEEP) -> TableSchema:
        """Load `file` as table `name` in `collection`, choosing the format by the file's
        extension."""
        file = Path(file)
        suffix = file.suffix.lower()
        if suffix in self.SUFFIXES:
            return self.load_csv(file, name, delimiter=self.SUFFIXES[suffix], collection=collection)
        if suffix in self.JSONL_SUFFIXES:
            return self.load_jsonl(file, name, collection=collection)
        if suffix in self.WORKBOOK_SUFFIXES:
            raise InvalidRequest(
                f"{file.name} is a workbook: it is loaded as one table per sheet, named from "
                "the file (or a prefix) and the sheet."
            )
        supported = ", ".join(sorted(self.EXTENSIONS))
        raise UnsupportedDocument(
            f"Cannot load {file.name} as a table: supported files are {supported}."
        )

    def is_workbook(self, file: Path) -> bool:
        return Path(file).suffix.lower() in self.WORKBOOK_SUFFIXES

    def load_workbook(
        self, file: Path, prefix: str | None = None, collection: Placement = KEEP
    ) -> list[TableSchema]:
        """Create or replace a table for each sheet with data of the workbook `file`, named
        `sheet_table_name(prefix or the file's name, sheet)`, each in `collection`, all in one
        transaction: a bad sheet, or a refused workbook (corrupt, password-protected, past a
        budget), writes nothing."""
        named = read_workbook_sheets(Path(file), prefix, self._budget)
        with self._writing() as conn:
            for name, source in named:
                self._write_in(conn, name, source, collection)
            return [self._tables.describe(conn, self._tables.table(name)) for name, _ in named]

    def load_csv(
        self, file: Path, name: str, *, delimiter: str = ",", collection: Placement = KEEP
    ) -> TableSchema:
        """Create or atomically replace table `name` from a CSV file with a header line."""
        validate_table_name(name)
        return self._write(name, read_csv(Path(file), delimiter), collection)

    def load_jsonl(self, file: Path, name: str, *, collection: Placement = KEEP) -> TableSchema:
        """Create or atomically replace table `name` from JSON Lines (one object per line).

        Columns are the union of the keys in order of first appearance; a missing key is
        NULL; nested arrays and objects are stored as JSON text (query with `->>` on SQLite,
        `::jsonb ->>` on PostgreSQL).
        """
        validate_table_name(name)
        return self._write(name, read_jsonl(Path(file)), collection)

    def list_tables(self) -> list[TableSchema]:
        """Every user table with its columns, samples and row count, sorted by name."""
        with self._reading(snapshot=True) as conn:  # PostgreSQL: one snapshot for all
            if conn is None:
                return []
            return [self._tables.describe(conn, table) for table in self._tables.table_names(conn)]

    def column_mapping(self, name: str) -> dict[str, str]:
        """Column name in the table -> the header (or JSON key) it was loaded from."""
        validate_table_name(name)
        with self._reading() as conn:
            return {} if conn is None else self._tables.mapping(conn, name.lower())

    def drop(self, name: str) -> bool:
        """Drop table `name`; False if there was no such table."""
        validate_table_name(name)
        with self._writing(create=False) as conn:
            if conn is None or not self._tables.holds(conn, name):
                return False
            self._tables.drop(conn, self._tables.table(name))
        return True

    # -- internals ----------------------------------------------------------------------------

    @contextmanager
    def _reading(self, *, snapshot: bool = False) -> Iterator[Any]:
        """A connection to read with (on PostgreSQL in one transaction if `snapshot`); None
        while there is no SQLite file, which reading never creates."""
        if isinstance(self._db, PgDatabase):
            with self._db.transaction() if snapshot else self._db.connection() as conn:
                yield conn
        elif self._db.exists():
            lite = connect(self._db)
            try:
                yield lite
            finally:
                lite.close()
        else:
            yield None

    @contextmanager
    def _writing(self, *, create: bool = True) -> Iterator[Any]:
        """A connection inside one transaction holding the writers' lock (SQLite's write
        lock, PostgreSQL's LOAD_LOCK); None if there is no SQLite file and not `create`."""
        if isinstance(self._db, PgDatabase):
            with self._db.transaction() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK,))
                yield conn
        elif create or self._db.exists():
            lite = connect(self._db)
            try:
                with immediate_transaction(lite):
                    yield lite
            finally:
                lite.close()
        else:
            yield None

    def _write(self, name: str, source: SourceFile, collection: Placement) -> TableSchema:
        with self._writing() as conn:
            self._write_in(conn, name, source, collection)
            return self._tables.describe(conn, self._tables.table(name))

    def _write_in(self, conn: Any, name: str, source: SourceFile, collection: Placement) -> None:
        """Table `name` from `source`, in `collection`, in the caller's transaction."""
        if not source.headers:
            raise InvalidRequest(
                f"Table {name!r} would have no columns: the objects in the file have no keys."
            )
        if len(source.headers) > MAX_COLUMNS:
            raise InvalidRequest(
                f"Table {name!r} would have {len(source.headers)} columns; SQLite allows at "
                f"most {MAX_COLUMNS}."
            )
        table = self._tables.table(name)
        columns = sanitise_column_names(source.headers)
        loader_types = [column.sql_type for column in source.types]
        to_column = self._tables.to_column

        def converted() -> Iterator[tuple[Any, ...]]:
            convert = source.convert
            for number, row in enumerate(source.rows(), start=1):
                try:
                    yield tuple(
                        to_column(convert(cell, loader_type), loader_type)
                        for cell, loader_type in zip(row, loader_types, strict=True)
                    )
                except ValueError:  # only if the file changed between the two passes
                    raise InvalidRequest(
                        f"Row {number} of the file changed while it was being loaded into "
                        f"{name!r}; nothing was written. Load it again."
                    ) from None

        mapping = [
            (name.lower(), position, column, original, loader_type)
            for position, (column, original, loader_type) in enumerate(
                zip(columns, source.headers, loader_types, strict=True)
            )
        ]
        try:
            self._tables.replace(
                conn, table, list(zip(columns, loader_types, strict=True)), converted()
            )
            self._tables.set_mapping(conn, name.lower(), mapping)
            self._tables.place(conn, name.lower(), collection)
        except self._tables.refused_values() as exc:  # PostgreSQL: a NUL inside a JSON string
            raise InvalidRequest(
                f"{name!r} cannot be stored in PostgreSQL: {self._tables.describe_refusal(exc)}; "
                "nothing was written."
            ) from None


__all__ = [
    "INTERNAL_PREFIX",
    "PG_MIGRATIONS",
    "PG_TABLES",
    "PG_TYPES",
    "READER_ROLE",
    "SQLITE_TABLES",
    "SQL_KEYWORDS",
    "TABLES_SCHEMA",
    "TableLoader",
    "as_text",
    "describe_table",
    "quote_identifier",
    "sanitise_column_names",
    "user_table_names",
    "validate_table_name",
]
