"""Load CSV/TSV and JSON Lines files into PostgreSQL tables that the SQL sandbox can query.

The same files, the same type inference, the same errors and the same `TableSchema` answers as
`SqliteTableLoader` (services/tables/loader.py reads and validates the file; only the writing
differs). What PostgreSQL changes:

* **The user tables live in their own schema** (`TABLES_SCHEMA`, `almanac_tables`), never
  beside the application's tables. The model's queries run as `READER_ROLE`, a NOLOGIN role
  that may only `SELECT` the tables granted to it there (see `pg_sql_sandbox`); every table the
  loader creates is granted to it, Almanac's own `_almanac_columns` never is.
* **Table names are folded to lowercase**, so the model can write them unquoted (PostgreSQL
  folds unquoted names; SQLite compares them case-insensitively). Column names already are.
* **Types are real PostgreSQL types**: INTEGER -> BIGINT, REAL -> DOUBLE PRECISION, DATE ->
  DATE, DATETIME -> TIMESTAMP (a value with an offset is stored as its UTC time), TEXT ->
  TEXT. `TableSchema` reports the loader's names (INTEGER, REAL, DATE, DATETIME, TEXT), as on
  SQLite, so the offline model and `list_tables` read the same schema on both backends.
* **One transaction per load**, serialised by a transaction advisory lock: rows stream into a
  scratch table with `COPY`, the old table is dropped and the scratch table renamed into its
  place. A failure anywhere rolls everything back; the previous table stays as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from services.postgres import Migration, PgDatabase, apply_migrations
from services.postgres.database import Connection
from services.tables.loader import (
    MAX_COLUMN_VALUES,
    MAX_COLUMNS,
    _read_csv,
    _read_jsonl,
    _Source,
    sanitise_column_names,
)
from use_cases.shared.errors import ConfigurationError, InvalidRequest, UnsupportedDocument
from use_cases.tables.domain import TableColumn, TableSchema
from use_cases.tables.tables import INTERNAL_PREFIX, validate_table_name

#: The schema holding the user tables, and the role the model's SQL runs as.
TABLES_SCHEMA = "almanac_tables"
READER_ROLE = "almanac_reader"

_META_TABLE = "_almanac_columns"
_SCRATCH_PREFIX = "_almanac_load_"
#: Transaction advisory lock serialising loads and drops (any constant unique to this use).
LOAD_LOCK = 0x41_6C_54_61_62_6C_65  # "AlTable"

_SAMPLE_COUNT = 3
_SAMPLE_CHARS = 60

#: The loader's type -> the PostgreSQL column type it is stored as.
PG_TYPES = {
    "INTEGER": "BIGINT",
    "REAL": "DOUBLE PRECISION",
    "DATE": "DATE",
    "DATETIME": "TIMESTAMP",
    "TEXT": "TEXT",
}
#: A PostgreSQL column type (format_type, without modifiers) -> the name `TableSchema` reports.
_REPORTED_TYPES = {
    "bigint": "INTEGER",
    "integer": "INTEGER",
    "smallint": "INTEGER",
    "double precision": "REAL",
    "real": "REAL",
    "numeric": "NUMERIC",
    "date": "DATE",
    "timestamp without time zone": "DATETIME",
    "timestamp with time zone": "DATETIME",
    "text": "TEXT",
    "character varying": "TEXT",
    "character": "TEXT",
    "bytea": "BLOB",
    "boolean": "BOOLEAN",
}
#: Reported types whose values are listed as text for matching questions (as SQLite lists its
#: text values, which include the ISO dates it stores as text).
_LISTED_TYPES = frozenset({"TEXT", "DATE", "DATETIME"})


def _create_reader_role(conn: Connection) -> None:
    """Create READER_ROLE if missing and let the current user SET ROLE to it; a refusal is a
    ConfigurationError saying what an administrator must grant."""
    role = sql.Identifier(READER_ROLE)
    what_to_grant = (
        f"The SQL tool on PostgreSQL runs the model's queries as the role {READER_ROLE}, which "
        "may only read the loaded tables. Let Almanac's database user create it (ALTER ROLE "
        "<user> CREATEROLE), or create it once as an administrator: "
        f"CREATE ROLE {READER_ROLE} NOLOGIN; GRANT {READER_ROLE} TO <user>;"
    )
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,)).fetchone()
    if exists is None:
        try:
            with conn.transaction():  # a savepoint: a concurrent creator is no failure
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(role))
        except psycopg.errors.DuplicateObject:
            pass
        except psycopg.errors.InsufficientPrivilege as exc:
            raise ConfigurationError(
                f"Cannot create the role {READER_ROLE} ({exc.diag.message_primary}). "
                + what_to_grant
            ) from exc
    member = conn.execute(
        "SELECT pg_has_role(current_user, %s, 'MEMBER') AS m", (READER_ROLE,)
    ).fetchone()
    if member is None or not member["m"]:
        try:
            with conn.transaction():
                conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(role))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise ConfigurationError(
                f"Cannot grant the role {READER_ROLE} to Almanac's database user "
                f"({exc.diag.message_primary}). " + what_to_grant
            ) from exc


MIGRATIONS: list[Migration] = [
    Migration("tables_pg_0001_reader_role", function=_create_reader_role),
    Migration(
        "tables_pg_0002_schema",
        sql=f"""
CREATE SCHEMA IF NOT EXISTS {TABLES_SCHEMA};
GRANT USAGE ON SCHEMA {TABLES_SCHEMA} TO {READER_ROLE};
CREATE TABLE IF NOT EXISTS {TABLES_SCHEMA}.{_META_TABLE} (
    table_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    source_name TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (table_name, position)
);
REVOKE ALL ON {TABLES_SCHEMA}.{_META_TABLE} FROM {READER_ROLE};
""",
    ),
]


# -- values ---------------------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """A value as the text SQLite would show for it (ISO dates, numbers as written)."""
    if isinstance(value, bytes | memoryview | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(float(value))
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _sample_text(value: Any) -> str:
    text = as_text(value).replace("\n", " ")
    return text if len(text) <= _SAMPLE_CHARS else text[: _SAMPLE_CHARS - 1] + "…"


def _to_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).strip())
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _to_pg(value: Any, loader_type: str) -> Any:
    """A value converted by the SQLite loader's rules, then to its PostgreSQL type."""
    if value is None:
        return None
    if loader_type == "DATE":
        return date.fromisoformat(str(value).strip())
    if loader_type == "DATETIME":
        return _to_datetime(value)
    return value


# -- describing tables ----------------------------------------------------------------------------


def _qualified(name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(TABLES_SCHEMA), sql.Identifier(name))


def describe_pg_table(conn: Connection, name: str, *, samples: int = _SAMPLE_COUNT) -> TableSchema:
    """Columns (reported types, up to `samples` distinct non-NULL values in order of first
    appearance, listed text values) and the row count of table `name` in TABLES_SCHEMA."""
    table = _qualified(name)
    info = conn.execute(
        "SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        (TABLES_SCHEMA, name),
    ).fetchall()
    columns: list[TableColumn] = []
    cursor = conn.cursor(row_factory=tuple_row)
    for row in info:
        column = sql.Identifier(row["name"])
        reported = _REPORTED_TYPES.get(row["type"], str(row["type"]).upper())
        # Distinct values in the order they first appear (a fresh table's physical order).
        first_seen = sql.SQL(
            "SELECT v FROM (SELECT {c} AS v, row_number() OVER () AS n FROM {t} "
            "WHERE {c} IS NOT NULL) s GROUP BY v ORDER BY min(n) LIMIT %s"
        ).format(c=column, t=table)
        values = cursor.execute(first_seen, (samples,)).fetchall()
        listed: list[tuple[Any, ...]] = []
        if reported in _LISTED_TYPES:
            listed = cursor.execute(
                sql.SQL(
                    "SELECT v FROM (SELECT {c} AS v, row_number() OVER () AS n FROM {t} "
                    "WHERE {c} IS NOT NULL) s WHERE length(v::text) <= %s "
                    "GROUP BY v ORDER BY min(n) LIMIT %s"
                ).format(c=column, t=table),
                (_SAMPLE_CHARS, MAX_COLUMN_VALUES + 1),
            ).fetchall()
        columns.append(
            TableColumn(
                name=row["name"],
                type=reported,
                samples=tuple(_sample_text(v[0]) for v in values),
                values=tuple(as_text(v[0]) for v in listed)
                if len(listed) <= MAX_COLUMN_VALUES
                else (),
            )
        )
    counted = cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
    return TableSchema(
        name=name, columns=tuple(columns), row_count=int(counted[0]) if counted else 0
    )


def pg_user_table_names(conn: Connection) -> list[str]:
    """Names of the tables users loaded in TABLES_SCHEMA (not Almanac's bookkeeping), sorted."""
    rows = conn.execute(
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') "
        "AND NOT starts_with(lower(c.relname), %s) "
        "ORDER BY lower(c.relname), c.relname",
        (TABLES_SCHEMA, INTERNAL_PREFIX),
    ).fetchall()
    return [row["name"] for row in rows]


# -- the loader -----------------------------------------------------------------------------------


class PgTableLoader:
    """Creates, replaces, lists and drops the user tables in PostgreSQL's TABLES_SCHEMA.

    Safe to share between threads and processes: every call borrows a pooled connection, and
    loads and drops of any table serialise on one transaction advisory lock (the later wins).
    """

    SUFFIXES: ClassVar[dict[str, str]] = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
    JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})

    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        apply_migrations(db, MIGRATIONS)

    def close(self) -> None:
        """Nothing to release: the pool is shared and closed by its owner."""

    def load(self, file: Path, name: str) -> TableSchema:
        """Load `file` as table `name`, choosing the format by the file's extension."""
        file = Path(file)
        suffix = file.suffix.lower()
        if suffix in self.SUFFIXES:
            return self.load_csv(file, name, delimiter=self.SUFFIXES[suffix])
        if suffix in self.JSONL_SUFFIXES:
            return self.load_jsonl(file, name)
        supported = ", ".join(sorted([*self.SUFFIXES, *self.JSONL_SUFFIXES]))
        raise UnsupportedDocument(
            f"Cannot load {file.name} as a table: supported files are {supported}."
        )

    def load_csv(self, file: Path, name: str, *, delimiter: str = ",") -> TableSchema:
        """Create or atomically replace table `name` from a CSV file with a header line."""
        validate_table_name(name)
        return self._write(name, _read_csv(Path(file), delimiter))

    def load_jsonl(self, file: Path, name: str) -> TableSchema:
        """Create or atomically replace table `name` from JSON Lines (one object per line);
        nested arrays and objects are stored as JSON text (query with `::jsonb ->>`)."""
        validate_table_name(name)
        return self._write(name, _read_jsonl(Path(file)))

    def list_tables(self) -> list[TableSchema]:
        """Every user table with its columns, samples and row count, sorted by name."""
        with self._db.transaction() as conn:  # one snapshot for the names and the counts
            return [describe_pg_table(conn, table) for table in pg_user_table_names(conn)]

    def column_mapping(self, name: str) -> dict[str, str]:
        """Column name in the table -> the header (or JSON key) it was loaded from."""
        validate_table_name(name)
        with self._db.connection() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT name, source_name FROM {} WHERE table_name = %s ORDER BY position"
                ).format(_qualified(_META_TABLE)),
                (name.lower(),),
            ).fetchall()
        return {row["name"]: row["source_name"] for row in rows}

    def drop(self, name: str) -> bool:
        """Drop table `name`; False if there was no such table."""
        validate_table_name(name)
        table = name.lower()
        with self._db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK,))
            if table not in pg_user_table_names(conn):
                return False
            conn.execute(sql.SQL("DROP TABLE {}").format(_qualified(table)))
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE table_name = %s").format(_qualified(_META_TABLE)),
                (table,),
            )
        return True

    # -- internals ----------------------------------------------------------------------------

    def _write(self, name: str, source: _Source) -> TableSchema:
        if not source.headers:
            raise InvalidRequest(
                f"Table {name!r} would have no columns: the objects in the file have no keys."
            )
        if len(source.headers) > MAX_COLUMNS:
            raise InvalidRequest(
                f"Table {name!r} would have {len(source.headers)} columns; SQLite allows at "
                f"most {MAX_COLUMNS}."
            )
        table = name.lower()
        columns = sanitise_column_names(source.headers)
        loader_types = [column.sql_type for column in source.types]
        digest = hashlib.sha256(table.encode()).hexdigest()[:16]
        scratch = _qualified(f"{_SCRATCH_PREFIX}{digest}")
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(PG_TYPES[t]))
            for c, t in zip(columns, loader_types, strict=True)
        )

        def converted() -> Iterator[tuple[Any, ...]]:
            convert = source.convert
            for number, row in enumerate(source.rows(), start=1):
                try:
                    yield tuple(
                        _to_pg(convert(cell, loader_type), loader_type)
                        for cell, loader_type in zip(row, loader_types, strict=True)
                    )
                except ValueError:  # only if the file changed between the two passes
                    raise InvalidRequest(
                        f"Row {number} of the file changed while it was being loaded into "
                        f"{name!r}; nothing was written. Load it again."
                    ) from None

        try:
            with self._db.transaction() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK,))
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))
                conn.execute(sql.SQL("CREATE TABLE {} ({})").format(scratch, definition))
                with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(scratch)) as copy:
                    for row in converted():
                        copy.write_row(row)
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_qualified(table)))
                conn.execute(
                    sql.SQL("ALTER TABLE {} RENAME TO {}").format(scratch, sql.Identifier(table))
                )
                conn.execute(
                    sql.SQL("GRANT SELECT ON {} TO {}").format(
                        _qualified(table), sql.Identifier(READER_ROLE)
                    )
                )
                meta = _qualified(_META_TABLE)
                conn.execute(sql.SQL("DELETE FROM {} WHERE table_name = %s").format(meta), (table,))
                conn.cursor().executemany(
                    sql.SQL(
                        "INSERT INTO {} (table_name, position, name, source_name, type) "
                        "VALUES (%s, %s, %s, %s, %s)"
                    ).format(meta),
                    [
                        (table, position, column, original, loader_type)
                        for position, (column, original, loader_type) in enumerate(
                            zip(columns, source.headers, loader_types, strict=True)
                        )
                    ],
                )
                return describe_pg_table(conn, table)
        except psycopg.errors.DataError as exc:  # e.g. a NUL character inside a JSON string
            raise InvalidRequest(
                f"{name!r} cannot be stored in PostgreSQL: {exc.diag.message_primary}; "
                "nothing was written."
            ) from None


__all__ = [
    "MIGRATIONS",
    "READER_ROLE",
    "TABLES_SCHEMA",
    "PgTableLoader",
    "as_text",
    "describe_pg_table",
    "pg_user_table_names",
]
