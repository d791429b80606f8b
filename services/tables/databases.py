"""How each database stores, lists and describes the user tables: `SqliteTables` and
`PgTables` side by side (services/tables/loader.py's docstring says what differs and why),
PostgreSQL's reader role and schema (`PG_MIGRATIONS`), and the bookkeeping tables beside the
users' own (`_almanac_columns`: the headers the columns were loaded from; `_almanac_tables`:
each table's collection). Stateless: the loader and the SQL sandboxes describe tables with
the same code."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from services.postgres import Migration
from services.sqlite.connection import Connection
from services.tables.columns import quote_identifier
from use_cases.shared.errors import ConfigurationError
from use_cases.tables.domain import KEEP, Placement, TableColumn, TableSchema
from use_cases.tables.tables import INTERNAL_PREFIX

if TYPE_CHECKING:
    from psycopg import sql

    from services.postgres.database import Connection as PgConnection

_META_TABLE = "_almanac_columns"
_CATALOGUE_TABLE = "_almanac_tables"
_SCRATCH_PREFIX = "_almanac_load_"

#: SQLite's compile-time default SQLITE_MAX_COLUMN.
MAX_COLUMNS = 2000
_SAMPLE_COUNT = 3
_SAMPLE_CHARS = 60
#: A text column's distinct values are all listed (for matching questions) up to this many.
MAX_COLUMN_VALUES = 200

#: PostgreSQL: the schema holding the user tables, and the role the model's SQL runs as.
TABLES_SCHEMA = "almanac_tables"
READER_ROLE = "almanac_reader"
#: PostgreSQL: transaction advisory lock serialising loads and drops (any constant unique to
#: this use).
LOAD_LOCK = 0x41_6C_54_61_62_6C_65  # "AlTable"

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
#: Reported types whose values PostgreSQL lists as text for matching questions (as SQLite
#: lists its text values, which include the ISO dates it stores as text).
_LISTED_TYPES = frozenset({"TEXT", "DATE", "DATETIME"})


# -- PostgreSQL: the reader role and the schema -------------------------------------------------


def _create_reader_role(conn: PgConnection) -> None:
    """Create READER_ROLE if missing and let the current user SET ROLE to it; a refusal is a
    ConfigurationError saying what an administrator must grant."""
    from psycopg import errors, sql

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
        except errors.DuplicateObject:
            pass
        except errors.InsufficientPrivilege as exc:
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
        except errors.InsufficientPrivilege as exc:
            raise ConfigurationError(
                f"Cannot grant the role {READER_ROLE} to Almanac's database user "
                f"({exc.diag.message_primary}). " + what_to_grant
            ) from exc


#: The PostgreSQL schema of the tables (SQLite needs none: `_CREATE_META` on each load).
PG_MIGRATIONS: list[Migration] = [
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
    Migration(
        "tables_pg_0003_collections",
        sql=f"""
CREATE TABLE IF NOT EXISTS {TABLES_SCHEMA}.{_CATALOGUE_TABLE} (
    table_name TEXT PRIMARY KEY,
    collection_id BIGINT NOT NULL
);
REVOKE ALL ON {TABLES_SCHEMA}.{_CATALOGUE_TABLE} FROM {READER_ROLE};
""",
    ),
]

_CREATE_META = f"""
CREATE TABLE IF NOT EXISTS {_META_TABLE} (
    table_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    source_name TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (table_name, position)
)
"""
_CREATE_CATALOGUE = f"""
CREATE TABLE IF NOT EXISTS {_CATALOGUE_TABLE} (
    table_name TEXT PRIMARY KEY,
    collection_id INTEGER NOT NULL
)
"""


# -- values -------------------------------------------------------------------------------------


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


# -- the two databases --------------------------------------------------------------------------

Conn = TypeVar("Conn")
#: A table's `_almanac_columns` rows: (table key, position, column, source name, loader type).
MappingRow = tuple[str, int, str, str, str]
#: A new table's columns: (name, loader type), and its rows.
Columns = Sequence[tuple[str, str]]
Rows = Iterator[tuple[Any, ...]]


class TableStorage(ABC, Generic[Conn]):
    """How one database stores, lists and describes the user tables (the module docstring
    says what differs and why). Stateless: every method works on the connection it is given,
    so the SQL sandboxes describe their tables with the same code as the loader."""

    #: PostgreSQL stores a table's name folded to lowercase and compares names exactly;
    #: SQLite keeps the name as loaded and compares names case-insensitively.
    folds_names: ClassVar[bool]

    def table(self, name: str) -> str:
        """The name the user's table `name` is stored under."""
        return name.lower() if self.folds_names else name

    def holds(self, conn: Conn, name: str) -> bool:
        """Whether the user's table `name` exists."""
        names = self.table_names(conn)
        if self.folds_names:
            return name.lower() in names
        return name.lower() in {t.lower() for t in names}

    def describe(self, conn: Conn, name: str, *, samples: int = _SAMPLE_COUNT) -> TableSchema:
        """Columns (reported types, up to `samples` distinct non-NULL values, the listed
        values if there are at most MAX_COLUMN_VALUES) and the row count of table `name`.

        Shared with the SQL sandboxes so the loader's answer and the model's view agree. `conn`
        must be trusted (no SQLite authorizer, not the reader role); `name` must exist."""
        columns: list[TableColumn] = []
        for column, reported in self._columns(conn, name):
            values = self._distinct(conn, name, column, samples)
            listed = self._listed(conn, name, column, reported, MAX_COLUMN_VALUES + 1)
            columns.append(
                TableColumn(
                    name=column,
                    type=reported,
                    samples=tuple(_sample_text(value) for value in values),
                    values=tuple(as_text(value) for value in listed)
                    if len(listed) <= MAX_COLUMN_VALUES
                    else (),
                )
            )
        return TableSchema(
            name=name,
            columns=tuple(columns),
            row_count=self._count(conn, name),
            collection_id=self.collections(conn).get(name.lower()),
        )

    def place(self, conn: Conn, key: str, collection: Placement) -> None:
        """Record the collection of the table whose lowercased name is `key` (`KEEP`: leave
        what is recorded; a new table then stays in the default collection)."""
        if collection == KEEP:
            return
        self._set_collection(conn, key, collection)

    def refused_values(self) -> tuple[type[Exception], ...]:
        """The errors of a value this database cannot store (`describe_refusal` words them)."""
        return ()

    def describe_refusal(self, exc: Exception) -> str:
        return str(exc)

    @abstractmethod
    def table_names(self, conn: Conn) -> list[str]:
        """Names of the tables users loaded (not Almanac's bookkeeping), sorted."""

    @abstractmethod
    def _columns(self, conn: Conn, table: str) -> list[tuple[str, str]]:
        """(name, reported type) of each column, in order."""

    @abstractmethod
    def _distinct(self, conn: Conn, table: str, column: str, limit: int) -> list[Any]:
        """Up to `limit` distinct non-NULL values of `column`."""

    @abstractmethod
    def _listed(self, conn: Conn, table: str, column: str, reported: str, limit: int) -> list[Any]:
        """Up to `limit` distinct values of `column` to list for matching questions."""

    @abstractmethod
    def _count(self, conn: Conn, table: str) -> int: ...

    @abstractmethod
    def to_column(self, value: Any, loader_type: str) -> Any:
        """A value converted by the loader's rules, as this database stores that type."""

    @abstractmethod
    def replace(self, conn: Conn, table: str, columns: Columns, rows: Rows) -> None:
        """Build table `table` from `rows` in a scratch table, then put it in the place of
        the old one (inside the caller's transaction)."""

    @abstractmethod
    def drop(self, conn: Conn, table: str) -> None:
        """Drop the existing table `table` and its column mapping."""

    @abstractmethod
    def mapping(self, conn: Conn, key: str) -> dict[str, str]:
        """Column -> source name of the table whose lowercased name is `key`."""

    @abstractmethod
    def set_mapping(self, conn: Conn, key: str, rows: Sequence[MappingRow]) -> None: ...

    @abstractmethod
    def collections(self, conn: Conn) -> dict[str, int]:
        """Lowercased table name -> its collection's id, for the tables placed in one (the
        others are in the default collection)."""

    @abstractmethod
    def _set_collection(self, conn: Conn, key: str, collection_id: int | None) -> None: ...


class SqliteTables(TableStorage[Connection]):
    """The user tables in a SQLite file, beside SQLite's own and Almanac's bookkeeping."""

    folds_names = False

    def table_names(self, conn: Connection) -> list[str]:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "AND lower(name) NOT LIKE ? ESCAPE '\\' ORDER BY name COLLATE NOCASE",
            (INTERNAL_PREFIX.replace("_", "\\_") + "%",),
        ).fetchall()
        return [row[0] for row in rows]

    def _columns(self, conn: Connection, table: str) -> list[tuple[str, str]]:
        info = conn.execute("SELECT name, type FROM pragma_table_info(?)", (table,)).fetchall()
        return [(name, (declared or "ANY").upper()) for name, declared in info]

    def _distinct(self, conn: Connection, table: str, column: str, limit: int) -> list[Any]:
        quoted, cell = quote_identifier(table), quote_identifier(column)
        rows = conn.execute(
            f"SELECT DISTINCT {cell} FROM {quoted} WHERE {cell} IS NOT NULL LIMIT ?", (limit,)
        ).fetchall()
        return [row[0] for row in rows]

    def _listed(
        self, conn: Connection, table: str, column: str, reported: str, limit: int
    ) -> list[Any]:
        quoted, cell = quote_identifier(table), quote_identifier(column)
        rows = conn.execute(
            f"SELECT DISTINCT {cell} FROM {quoted} WHERE typeof({cell}) = 'text' "
            f"AND length({cell}) <= ? LIMIT ?",
            (_SAMPLE_CHARS, limit),
        ).fetchall()
        return [row[0] for row in rows]

    def _count(self, conn: Connection, table: str) -> int:
        (count,) = conn.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()
        return int(count)

    def to_column(self, value: Any, loader_type: str) -> Any:
        return value  # DATE / DATETIME stay ISO text

    def replace(self, conn: Connection, table: str, columns: Columns, rows: Rows) -> None:
        scratch = quote_identifier(f"{_SCRATCH_PREFIX}{table.lower()}")
        definition = ", ".join(f"{quote_identifier(c)} {t}" for c, t in columns)
        conn.execute(f"DROP TABLE IF EXISTS {scratch}")
        conn.execute(f"CREATE TABLE {scratch} ({definition})")
        conn.executemany(f"INSERT INTO {scratch} VALUES ({', '.join('?' for _ in columns)})", rows)
        conn.execute(f"DROP TABLE IF EXISTS {quote_identifier(table)}")
        conn.execute(f"ALTER TABLE {scratch} RENAME TO {quote_identifier(table)}")

    def drop(self, conn: Connection, table: str) -> None:
        conn.execute(f"DROP TABLE {quote_identifier(table)}")
        if self._has_meta(conn):
            conn.execute(f"DELETE FROM {_META_TABLE} WHERE table_name = ?", (table.lower(),))
        if self._has_meta(conn, _CATALOGUE_TABLE):
            conn.execute(f"DELETE FROM {_CATALOGUE_TABLE} WHERE table_name = ?", (table.lower(),))

    def collections(self, conn: Connection) -> dict[str, int]:
        if not self._has_meta(conn, _CATALOGUE_TABLE):
            return {}
        rows = conn.execute(f"SELECT table_name, collection_id FROM {_CATALOGUE_TABLE}")
        return {str(row[0]): int(row[1]) for row in rows.fetchall()}

    def _set_collection(self, conn: Connection, key: str, collection_id: int | None) -> None:
        conn.execute(_CREATE_CATALOGUE)
        conn.execute(f"DELETE FROM {_CATALOGUE_TABLE} WHERE table_name = ?", (key,))
        if collection_id is not None:
            conn.execute(
                f"INSERT INTO {_CATALOGUE_TABLE} (table_name, collection_id) VALUES (?, ?)",
                (key, collection_id),
            )

    def mapping(self, conn: Connection, key: str) -> dict[str, str]:
        if not self._has_meta(conn):
            return {}
        rows = conn.execute(
            f"SELECT name, source_name FROM {_META_TABLE} WHERE table_name = ? ORDER BY position",
            (key,),
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def set_mapping(self, conn: Connection, key: str, rows: Sequence[MappingRow]) -> None:
        conn.execute(_CREATE_META)
        conn.execute(f"DELETE FROM {_META_TABLE} WHERE table_name = ?", (key,))
        conn.executemany(
            f"INSERT INTO {_META_TABLE} (table_name, position, name, source_name, type) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    @staticmethod
    def _has_meta(conn: Connection, table: str = _META_TABLE) -> bool:
        """False for a file whose tables were all loaded before `table` existed."""
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        return row is not None


def _qualified(name: str) -> sql.Composed:
    from psycopg import sql

    return sql.SQL("{}.{}").format(sql.Identifier(TABLES_SCHEMA), sql.Identifier(name))


class PgTables(TableStorage["PgConnection"]):
    """The user tables in PostgreSQL's TABLES_SCHEMA, readable by READER_ROLE."""

    folds_names = True

    def refused_values(self) -> tuple[type[Exception], ...]:
        from psycopg.errors import DataError  # e.g. a NUL inside a JSON string

        return (DataError,)

    def describe_refusal(self, exc: Exception) -> str:
        return str(exc.diag.message_primary)  # type: ignore[attr-defined]  # a psycopg Error

    def table_names(self, conn: PgConnection) -> list[str]:
        rows = conn.execute(
            "SELECT c.relname AS name FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') "
            "AND NOT starts_with(lower(c.relname), %s) "
            "ORDER BY lower(c.relname), c.relname",
            (TABLES_SCHEMA, INTERNAL_PREFIX),
        ).fetchall()
        return [row["name"] for row in rows]

    def _columns(self, conn: PgConnection, table: str) -> list[tuple[str, str]]:
        info = conn.execute(
            "SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (TABLES_SCHEMA, table),
        ).fetchall()
        return [
            (row["name"], _REPORTED_TYPES.get(row["type"], str(row["type"]).upper()))
            for row in info
        ]

    def _distinct(self, conn: PgConnection, table: str, column: str, limit: int) -> list[Any]:
        from psycopg import sql
        from psycopg.rows import tuple_row

        # Distinct values in the order they first appear (a fresh table's physical order).
        first_seen = sql.SQL(
            "SELECT v FROM (SELECT {c} AS v, row_number() OVER () AS n FROM {t} "
            "WHERE {c} IS NOT NULL) s GROUP BY v ORDER BY min(n) LIMIT %s"
        ).format(c=sql.Identifier(column), t=_qualified(table))
        rows = conn.cursor(row_factory=tuple_row).execute(first_seen, (limit,)).fetchall()
        return [row[0] for row in rows]

    def _listed(
        self, conn: PgConnection, table: str, column: str, reported: str, limit: int
    ) -> list[Any]:
        from psycopg import sql
        from psycopg.rows import tuple_row

        if reported not in _LISTED_TYPES:
            return []
        listed = sql.SQL(
            "SELECT v FROM (SELECT {c} AS v, row_number() OVER () AS n FROM {t} "
            "WHERE {c} IS NOT NULL) s WHERE length(v::text) <= %s "
            "GROUP BY v ORDER BY min(n) LIMIT %s"
        ).format(c=sql.Identifier(column), t=_qualified(table))
        cursor = conn.cursor(row_factory=tuple_row)
        return [row[0] for row in cursor.execute(listed, (_SAMPLE_CHARS, limit)).fetchall()]

    def _count(self, conn: PgConnection, table: str) -> int:
        from psycopg import sql
        from psycopg.rows import tuple_row

        cursor = conn.cursor(row_factory=tuple_row)
        counted = cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(_qualified(table)))
        row = counted.fetchone()
        return int(row[0]) if row else 0

    def to_column(self, value: Any, loader_type: str) -> Any:
        if value is None:
            return None
        if loader_type == "DATE":
            return date.fromisoformat(str(value).strip())
        if loader_type == "DATETIME":
            return _to_datetime(value)
        return value

    def replace(self, conn: PgConnection, table: str, columns: Columns, rows: Rows) -> None:
        from psycopg import sql

        digest = hashlib.sha256(table.encode()).hexdigest()[:16]
        scratch = _qualified(f"{_SCRATCH_PREFIX}{digest}")
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(PG_TYPES[t])) for c, t in columns
        )
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(scratch, definition))
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(scratch)) as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_qualified(table)))
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(scratch, sql.Identifier(table)))
        conn.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(
                _qualified(table), sql.Identifier(READER_ROLE)
            )
        )

    def drop(self, conn: PgConnection, table: str) -> None:
        from psycopg import sql

        conn.execute(sql.SQL("DROP TABLE {}").format(_qualified(table)))
        for bookkeeping in (_META_TABLE, _CATALOGUE_TABLE):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE table_name = %s").format(_qualified(bookkeeping)),
                (table,),
            )

    def collections(self, conn: PgConnection) -> dict[str, int]:
        from psycopg import sql

        rows = conn.execute(
            sql.SQL("SELECT table_name, collection_id FROM {}").format(_qualified(_CATALOGUE_TABLE))
        ).fetchall()
        return {str(row["table_name"]): int(row["collection_id"]) for row in rows}

    def _set_collection(self, conn: PgConnection, key: str, collection_id: int | None) -> None:
        from psycopg import sql

        catalogue = _qualified(_CATALOGUE_TABLE)
        conn.execute(sql.SQL("DELETE FROM {} WHERE table_name = %s").format(catalogue), (key,))
        if collection_id is not None:
            conn.execute(
                sql.SQL("INSERT INTO {} (table_name, collection_id) VALUES (%s, %s)").format(
                    catalogue
                ),
                (key, collection_id),
            )

    def mapping(self, conn: PgConnection, key: str) -> dict[str, str]:
        from psycopg import sql

        rows = conn.execute(
            sql.SQL(
                "SELECT name, source_name FROM {} WHERE table_name = %s ORDER BY position"
            ).format(_qualified(_META_TABLE)),
            (key,),
        ).fetchall()
        return {row["name"]: row["source_name"] for row in rows}

    def set_mapping(self, conn: PgConnection, key: str, rows: Sequence[MappingRow]) -> None:
        from psycopg import sql

        meta = _qualified(_META_TABLE)
        conn.execute(sql.SQL("DELETE FROM {} WHERE table_name = %s").format(meta), (key,))
        conn.cursor().executemany(
            sql.SQL(
                "INSERT INTO {} (table_name, position, name, source_name, type) "
                "VALUES (%s, %s, %s, %s, %s)"
            ).format(meta),
            rows,
        )


SQLITE_TABLES = SqliteTables()
PG_TABLES = PgTables()
#: SQLite's answers under the names `services/database_copy` reads a tables file with.
describe_table = SQLITE_TABLES.describe
user_table_names = SQLITE_TABLES.table_names
