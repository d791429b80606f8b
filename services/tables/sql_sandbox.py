"""Read-only SQL over the user tables, for the model's SQL tool (`SqlRunner`).

The SQL comes from a language model that may have been steered by a prompt injection, so the
boundary is enforced by the SQLite engine, not by parsing the text. Layers, outermost first:

1. **Text checks** (friendlier messages only, not a boundary): length, no NUL, starts with
   SELECT / WITH / VALUES. The tests run every hostile statement with them switched off too.
2. **A read-only connection** (`file:...?mode=ro`) opened for this one query: SQLite refuses
   every write to the file whatever the SQL says (`PRAGMA query_only` would not do: the SQL
   could switch it off).
3. **An authorizer allow-list**, consulted by SQLite while it compiles the statement: SELECT,
   reading the listed user tables (and the `json_each` / `json_tree` table functions), calling
   the functions in `SAFE_FUNCTIONS`, and recursive CTEs. Everything else is denied, including
   `sqlite_master`, PRAGMAs and pragma table functions, ATTACH / DETACH, writes, temp objects,
   transactions, `load_extension` and any function an extension registered (sqlean.py bundles
   `readfile`, `writefile`, `fsdir`, `eval`, ... when `SQLEAN_ENABLE` is set in the process).
   Gotcha: in SQLite 3.50 reads inside a CTE carry the CTE's name in the "view" argument, and a
   read that uses no column (`SELECT count(*) FROM t`) arrives with no schema name and an empty
   column, naming a CTE just like a table. So the view argument is not used as a signal, and a
   column-less read is allowed only for a name that is no table, view or virtual-table module.
4. **A compiled-statement check**, apsw's exec tracer, called once the first statement is
   compiled and before it runs: it must be the only statement (the rest of the text must
   compile to nothing: comments, spaces and semicolons), must have authorised a SELECT and
   must be read-only by SQLite's own `sqlite3_stmt_readonly()` (`Cursor.is_readonly`). This
   catches statements that compile with no authorizer call at all (`VACUUM`, `REINDEX` with no
   argument).
5. **Engine limits** via `sqlite3_limit` (`Connection.limit`): no attached databases, a cap on
   SQL length, and a cap on the size of any string or blob (stops `printf('%.*c', 1e9, 'x')`
   and doubling recursive CTEs before they allocate gigabytes).
6. **A deadline** enforced by a progress handler (interrupts runaway joins and recursion), and
   at most `max_rows + 1` rows read, so a huge result is never materialised.

The sandbox connection is apsw's (its own SQLite build, pinned to the version sqlean.py
bundles so that both give the same results): apsw exposes every engine hook the layers need
(`limit`, the authorizer, the progress handler, the exec tracer, `Cursor.is_readonly`). It loads
no extension and registers no extension functions; the stores, and our own catalog reads
here, stay on sqlean.py. Text that is not valid UTF-8 is refused with a hint (apsw decodes
strictly; the table loader only ever writes valid UTF-8).

Concurrency: `run` opens a fresh connection per call (about 0.2 ms here) instead of sharing one
behind a lock. Calls from several worker threads then run in parallel (WAL readers do not
block each other), and no state (authorizer verdicts, deadline, interrupt) can leak from one
query into another. Only the small catalog cache is shared, under a lock.

What is SQLite's own here, and why: every layer from 2 on, since SQLite has no users or
privileges (a read-only file handle, the authorizer and the compiled statement are what it
offers; see
`pg_sql_sandbox` for PostgreSQL's role-based boundary); the catalog's version is the file's
`PRAGMA schema_version`; errors are told apart by the authorizer's verdicts and SQLite's
messages. The options, the text checks, the catalog cache, the result and the wording of the
refusals are `sql_runner.ReadOnlySqlRunner`'s, shared with `PgSqlRunner`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Unpack, cast

import apsw
import sqlean as sqlite3
from loguru import logger

from services.tables.loader import SQLITE_TABLES
from services.tables.sql_runner import Catalog, ReadOnlySqlRunner, RunnerOptions
from use_cases.shared.errors import ToolRejected
from use_cases.tables.domain import QueryResult, TableCollections, TableSchema
from use_cases.tables.markdown import render_markdown

#: Scalar, aggregate and window functions the model may call. Anything not listed is denied,
#: so a function added by an extension or a newer SQLite is refused until reviewed here.
#: Not listed on purpose: `randomblob` / `zeroblob` (memory bombs), `load_extension`,
#: `sqlite_*` (build details), `changes` / `last_insert_rowid` (meaningless here).
SAFE_FUNCTIONS: frozenset[str] = frozenset(
    {
        # core scalar
        "abs", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex", "if",
        "ifnull", "iif", "instr", "length", "like", "likelihood", "likely", "lower", "ltrim",
        "max", "min", "nullif", "octet_length", "printf", "quote", "random", "replace",
        "round", "rtrim", "sign", "substr", "substring", "trim", "typeof", "unhex", "unicode",
        "unistr", "unlikely", "upper",
        # aggregate
        "avg", "count", "group_concat", "string_agg", "sum", "total",
        "median", "percentile", "percentile_cont", "percentile_disc",
        # window
        "cume_dist", "dense_rank", "first_value", "lag", "last_value", "lead", "nth_value",
        "ntile", "percent_rank", "rank", "row_number",
        # date and time
        "current_date", "current_time", "current_timestamp", "date", "datetime", "julianday",
        "strftime", "time", "timediff", "unixepoch",
        # math
        "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos",
        "cosh", "degrees", "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow",
        "power", "radians", "sin", "sinh", "sqrt", "tan", "tanh", "trunc",
        # JSON (text in, text out; `->` and `->>` are functions to the authorizer)
        "json", "json_array", "json_array_length", "json_error_position", "json_extract",
        "json_group_array", "json_group_object", "json_insert", "json_object", "json_patch",
        "json_pretty", "json_quote", "json_remove", "json_replace", "json_set", "json_type",
        "json_valid", "->", "->>",
    }
)  # fmt: skip

#: Eponymous virtual tables (table-valued functions) that only compute from their arguments.
SAFE_TABLE_FUNCTIONS: frozenset[str] = frozenset({"json_each", "json_tree"})

#: Largest string or blob any expression may produce (SQLITE_LIMIT_LENGTH). Default is 1 GB.
MAX_VALUE_BYTES = 10_000_000
#: VM instructions between deadline checks; a Python call every 1000 steps costs little.
PROGRESS_STEPS = 1_000

_ACTION_NAMES: dict[int, str] = {
    getattr(apsw, f"SQLITE_{name}"): label
    for name, label in {
        "CREATE_INDEX": "CREATE INDEX",
        "CREATE_TABLE": "CREATE TABLE",
        "CREATE_TEMP_INDEX": "CREATE TEMP INDEX",
        "CREATE_TEMP_TABLE": "CREATE TEMP TABLE",
        "CREATE_TEMP_TRIGGER": "CREATE TEMP TRIGGER",
        "CREATE_TEMP_VIEW": "CREATE TEMP VIEW",
        "CREATE_TRIGGER": "CREATE TRIGGER",
        "CREATE_VIEW": "CREATE VIEW",
        "CREATE_VTABLE": "CREATE VIRTUAL TABLE",
        "DELETE": "DELETE",
        "DROP_INDEX": "DROP INDEX",
        "DROP_TABLE": "DROP TABLE",
        "DROP_TEMP_INDEX": "DROP INDEX",
        "DROP_TEMP_TABLE": "DROP TABLE",
        "DROP_TEMP_TRIGGER": "DROP TRIGGER",
        "DROP_TEMP_VIEW": "DROP VIEW",
        "DROP_TRIGGER": "DROP TRIGGER",
        "DROP_VIEW": "DROP VIEW",
        "DROP_VTABLE": "DROP VIRTUAL TABLE",
        "INSERT": "INSERT",
        "PRAGMA": "PRAGMA",
        "TRANSACTION": "transaction control (BEGIN / COMMIT / ROLLBACK)",
        "UPDATE": "UPDATE",
        "ATTACH": "ATTACH",
        "DETACH": "DETACH",
        "ALTER_TABLE": "ALTER TABLE",
        "REINDEX": "REINDEX",
        "ANALYZE": "ANALYZE",
        "SAVEPOINT": "SAVEPOINT / RELEASE",
    }.items()
    if hasattr(apsw, f"SQLITE_{name}")
}

#: Names the schema table answers to; never listed in sqlite_schema itself.
_SCHEMA_TABLES = frozenset(
    {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}
)
#: Every name a FROM clause could resolve to other than a CTE: tables, views, indexes, triggers
#: and virtual-table modules (eponymous ones such as `fsdir`, `dbstat`, `sqlite_dbpage`).
_OBJECT_NAMES_SQL = (
    "SELECT lower(name) FROM sqlite_schema UNION SELECT lower(name) FROM pragma_module_list"
)

_WRITE_ACTIONS = frozenset({apsw.SQLITE_INSERT, apsw.SQLITE_UPDATE, apsw.SQLITE_DELETE})


# -- the sandbox connection ---------------------------------------------------------------------


def open_sandbox_connection(path: Path, *, sql_bytes: int, timeout_s: float) -> apsw.Connection:
    """A read-only apsw connection to `path` with the engine limits applied (no authorizer
    yet). Limits only ever lower the compiled-in maximums."""
    conn = apsw.Connection(
        f"{path.as_uri()}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )
    conn.set_busy_timeout(int(timeout_s * 1000))
    for limit, value in _engine_limits(sql_bytes).items():
        conn.limit(limit, value)
    return conn


def _engine_limits(sql_bytes: int) -> dict[int, int]:
    return {
        apsw.SQLITE_LIMIT_LENGTH: MAX_VALUE_BYTES,
        apsw.SQLITE_LIMIT_SQL_LENGTH: sql_bytes,
        apsw.SQLITE_LIMIT_ATTACHED: 0,
    }


def _limits_in_force(conn: apsw.Connection, sql_bytes: int) -> bool:
    """Whether the engine reports every limit at the value set (`limit(id)` reads it back)."""
    return all(conn.limit(key) == value for key, value in _engine_limits(sql_bytes).items())


def holds_a_statement(sql: str) -> bool:
    """Whether `sql` holds any statement, not only comments, spaces and semicolons.

    SQLite's own tokenizer decides: the text is compiled (never run: the tracer stops each
    statement before its first step) on an empty in-memory database. A compile error also
    means there is SQL there.
    """
    if not sql.strip(" \t\r\n\f;"):
        return False
    probe = apsw.Connection(":memory:")
    cursor = probe.cursor()
    cursor.exec_trace = lambda compiled, _sql, _bindings: not compiled.has_vdbe
    try:
        for _ in cursor.execute(sql):
            pass
    except apsw.Error:
        return True
    finally:
        probe.close()
    return False


# -- one query's guard ----------------------------------------------------------------------------


@dataclass
class _Guard:
    """Authorizer and progress handler for one query, with what they saw."""

    sql: str
    allowed: frozenset[str]
    objects: frozenset[str]
    deadline: float
    denied: list[str] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    saw_select: bool = False
    timed_out: bool = False
    more_statements: bool = False
    not_a_read: str | None = None
    columns: tuple[str, ...] | None = None

    def authorize(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        db_name: str | None,
        _inner: str | None,  # trigger, view or CTE name: not a trust signal
    ) -> int:
        if action == apsw.SQLITE_SELECT:
            self.saw_select = True
            return apsw.SQLITE_OK
        if action == apsw.SQLITE_RECURSIVE:
            return apsw.SQLITE_OK
        if action == apsw.SQLITE_READ:
            table = (arg1 or "").lower()
            if table in self.allowed or table in SAFE_TABLE_FUNCTIONS:
                if db_name in ("main", None):
                    return apsw.SQLITE_OK
            elif not arg2 and db_name is None and not self._is_database_object(table):
                # A read that uses no column (`count(*) FROM c`) names its source without a
                # schema; for a CTE that is the CTE's name. Real tables, schema tables and
                # virtual-table modules are excluded, so this never opens a hidden table.
                return apsw.SQLITE_OK
            if (arg1 or "") not in self.missing_tables:
                self.missing_tables.append(arg1 or "")
            return self._deny(f"no such table: {arg1}")
        if action == apsw.SQLITE_FUNCTION:
            if (arg2 or "").lower() in SAFE_FUNCTIONS:
                return apsw.SQLITE_OK
            return self._deny(f"the function {arg2}() is not allowed")
        if action in _WRITE_ACTIONS and (arg1 or "").lower() in _SCHEMA_TABLES:
            # CREATE / DROP / ALTER / ANALYZE first show up as writes to the schema table.
            return self._deny("changing the database schema (CREATE / DROP / ALTER) is not allowed")
        label = _ACTION_NAMES.get(action, f"this kind of statement (SQLite action {action})")
        return self._deny(f"{label} is not allowed")

    def _is_database_object(self, name: str) -> bool:
        return name in self.objects or name in _SCHEMA_TABLES or name.startswith("pragma_")

    def _deny(self, reason: str) -> int:
        if reason not in self.denied:
            self.denied.append(reason)
        return apsw.SQLITE_DENY

    def progress(self) -> bool:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return True
        return False

    def check_statement(self, cursor: apsw.Cursor, statement: str, _bindings: Any) -> bool:
        """apsw's exec tracer: called for each statement once compiled, before it runs; False
        stops it (`ExecTraceAbort`). Only the first statement may do anything."""
        if self.columns is not None:
            self.more_statements = self.more_statements or cursor.has_vdbe
            return not cursor.has_vdbe
        self.columns = tuple(name for name, _ in cursor.get_description())
        if holds_a_statement(self.sql.removeprefix(statement)):
            self.more_statements = True
        elif not cursor.is_readonly:
            self.not_a_read = "write or change the database"
        elif not self.saw_select:
            self.not_a_read = "not be a SELECT"
        return not (self.more_statements or self.not_a_read)


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class SqliteSqlRunner(ReadOnlySqlRunner):
    """Runs one read-only SELECT at a time over the user tables in a SQLite file.

    `tables` restricts the model to those tables (case-insensitive); by default it sees every
    user table (not `sqlite_*`, not Almanac's `_almanac*` bookkeeping). The list of available
    tables is re-read when the file's schema version changes, so a table loaded or dropped
    after start-up appears or disappears without a restart; `refresh()` also recomputes the
    row counts and samples that `schemas()` caches.
    """

    #: The SQL dialect the model must write (PgSqlRunner: "PostgreSQL").
    dialect = "SQLite"
    error_label = "SQLite error"

    def __init__(self, path: str | Path, **options: Unpack[RunnerOptions]) -> None:
        super().__init__(**options)
        self._path = Path(path).resolve()
        self.engine_limits_applied: bool | None = None
        """Whether the engine reported every limit in force for the last query (None before
        any query)."""

    # -- SqlRunner ------------------------------------------------------------------------------

    def schemas(self, collections: TableCollections = None) -> list[TableSchema]:
        """The available tables of `collections` (None: all) with column types, up to 3
        sample values and row counts."""
        try:
            version = self._schema_version()
        except sqlite3.Error as exc:
            logger.warning("SQL sandbox: cannot read the tables database: {}", exc)
            return []
        return self._current_catalog(version, want_schemas=True).readable_schemas(collections)

    def run(self, sql: str, collections: TableCollections = None) -> QueryResult:
        """Run one read-only SELECT over the tables of `collections` (None: all); any other
        table is "no such table" to the authorizer. `ToolRejected` with a retry hint for
        anything else."""
        sql = self._check_text(sql)
        sql_bytes = 4 * self._max_sql_length + 64
        conn = self._open_sandbox(sql_bytes)
        guard: _Guard | None = None
        catalog: Catalog | None = None
        try:
            self.engine_limits_applied = _limits_in_force(conn, sql_bytes)
            # Still trusted here: this is our SQL, and the authorizer is not installed yet.
            # PRAGMA schema_version always answers one row
            (version,) = cast("tuple[int]", conn.execute("PRAGMA schema_version").fetchone())
            whole = self._current_catalog(version)
            catalog = whole.within(collections)
            self._refuse_hidden(sql, whole, catalog)
            objects = frozenset(row[0] for row in conn.execute(_OBJECT_NAMES_SQL))
            guard = _Guard(
                sql=sql,
                allowed=frozenset(t.lower() for t in catalog.tables),
                objects=objects,
                deadline=time.monotonic() + self._timeout_s,
            )
            conn.authorizer = guard.authorize
            conn.set_progress_handler(guard.progress, PROGRESS_STEPS)
            cursor = conn.cursor()
            cursor.exec_trace = guard.check_statement
            fetched = list(islice(cursor.execute(sql), self._max_rows + 1))
        except apsw.Error as exc:
            raise self._rejection(exc, guard, catalog) from None
        except UnicodeDecodeError:
            raise ToolRejected(
                "The result holds text that is not valid UTF-8; select hex(column) or "
                "CAST(column AS BLOB) for that column instead."
            ) from None
        finally:
            conn.close()
        if not guard.columns:
            raise ToolRejected("The statement returned no result set. Send one SELECT statement.")
        return self._result(guard.columns, fetched)

    # -- the engine boundary --------------------------------------------------------------------

    def _open_sandbox(self, sql_bytes: int) -> apsw.Connection:
        if not self._path.exists():
            raise ToolRejected(self._NOTHING_LOADED)
        try:
            return open_sandbox_connection(
                self._path, sql_bytes=sql_bytes, timeout_s=self._timeout_s
            )
        except apsw.Error as exc:
            raise ToolRejected(f"The tables database cannot be opened: {exc}.") from None

    def _open_trusted(self) -> sqlite3.Connection | None:
        """A read-only connection without the authorizer, for our own catalog queries."""
        if not self._path.exists():
            return None
        conn = sqlite3.connect(
            f"{self._path.as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=5.0
        )
        conn.text_factory = _decode_text
        return conn

    def _current_catalog(self, schema_version: int, *, want_schemas: bool = False) -> Catalog:
        """The cached catalog if it matches `schema_version` (and has schemas if wanted)."""
        return self._cached_catalog(
            schema_version, lambda: self._build_catalog(want_schemas), want_schemas=want_schemas
        )

    def _schema_version(self) -> int:
        """The file's schema version (bumped by every CREATE / DROP / RENAME), -1 if absent."""
        conn = self._open_trusted()
        if conn is None:
            return -1
        try:
            (version,) = conn.execute("PRAGMA schema_version").fetchone()
            return int(version)
        finally:
            conn.close()

    def _build_catalog(self, want_schemas: bool) -> Catalog:
        try:
            conn = self._open_trusted()
        except sqlite3.Error as exc:
            logger.warning("SQL sandbox: cannot read the tables database: {}", exc)
            return Catalog(version=-1, tables=(), schemas=())
        if conn is None:
            return Catalog(version=-1, tables=(), schemas=())
        try:
            conn.execute("BEGIN")  # one snapshot for the version, the names and the counts
            (version,) = conn.execute("PRAGMA schema_version").fetchone()
            names = self._visible(SQLITE_TABLES.table_names(conn))
            schemas = (
                tuple(SQLITE_TABLES.describe(conn, name) for name in names)
                if want_schemas
                else None
            )
            placed = SQLITE_TABLES.collections(conn)
            conn.execute("COMMIT")
            return Catalog(version=version, tables=names, schemas=schemas, collections=placed)
        finally:
            conn.close()

    # -- errors ---------------------------------------------------------------------------------

    def _rejection(
        self, exc: Exception, guard: _Guard | None, catalog: Catalog | None
    ) -> ToolRejected:
        """Turn an SQLite error into a message the model can act on in its next attempt."""
        message = str(exc)
        hint = self._tables_hint(catalog)
        if guard is not None and guard.timed_out:
            return self._timed_out()
        if guard is not None and guard.more_statements:
            return ToolRejected(self._ONE_STATEMENT)
        if guard is not None and guard.not_a_read:
            return self._not_a_read(hint, guard.not_a_read)
        if guard is not None and guard.denied and len(guard.missing_tables) == len(guard.denied):
            # An unlisted table gets the answer a missing one gets.
            return self._no_such_table(guard.missing_tables[0], hint)
        if message.startswith("no such table:"):
            return self._no_such_table(message.removeprefix("no such table:").strip(), hint)
        if guard is not None and guard.denied:
            return self._refused(guard.denied, hint)
        if "too big" in message or "too long" in message:
            return self._too_big(message)
        return self._engine_error(message, hint)


__all__ = ["SAFE_FUNCTIONS", "SqliteSqlRunner", "open_sandbox_connection", "render_markdown"]
