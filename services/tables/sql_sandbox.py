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
   The binding executes exactly one statement and raises if any SQL follows it.
4. **A compiled-program check**: the statement is first compiled with `EXPLAIN` (compiled, not
   run) under the same authorizer; it must have authorised a SELECT and its bytecode must not
   start a write transaction or contain VACUUM / journal-mode / checkpoint / transaction
   control opcodes. This is `sqlite3_stmt_readonly()` done from Python, and catches statements
   that compile with no authorizer call at all (`VACUUM`, `REINDEX` with no argument).
5. **Engine limits** via `sqlite3_limit`: no attached databases, a cap on SQL length, and a
   cap on the size of any string or blob (stops `printf('%.*c', 1e9, 'x')` and doubling
   recursive CTEs before they allocate gigabytes). sqlean.py's `Connection` has no `setlimit`,
   so the limit is set through ctypes on the connection's `sqlite3*` handle, which is verified
   with `sqlite3_db_filename` before use (see `_apply_engine_limits`).
6. **A deadline** enforced by a progress handler (interrupts runaway joins and recursion), and
   `fetchmany(max_rows + 1)` so a huge result is never materialised.

Concurrency: `run` opens a fresh connection per call (about 0.2 ms here) instead of sharing one
behind a lock. Calls from several worker threads then run in parallel (WAL readers do not
block each other), and no state (authorizer verdicts, deadline, interrupt) can leak from one
query into another. Only the small catalog cache is shared, under a lock.

What is SQLite's own here, and why: every layer from 2 on, since SQLite has no users or
privileges (a read-only file handle, the authorizer and the bytecode are what it offers; see
`pg_sql_sandbox` for PostgreSQL's role-based boundary); the catalog's version is the file's
`PRAGMA schema_version`; errors are told apart by the authorizer's verdicts and SQLite's
messages. The options, the text checks, the catalog cache, the result and the wording of the
refusals are `sql_runner.ReadOnlySqlRunner`'s, shared with `PgSqlRunner`.
"""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Unpack

import sqlean as sqlite3
from loguru import logger

from services.tables.loader import SQLITE_TABLES
from services.tables.sql_runner import Catalog, ReadOnlySqlRunner, RunnerOptions
from use_cases.shared.errors import ToolRejected
from use_cases.tables.domain import QueryResult, TableSchema
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

_SQLITE_LIMIT_LENGTH = 0
_SQLITE_LIMIT_SQL_LENGTH = 1
_SQLITE_LIMIT_ATTACHED = 7

#: Opcodes that make `sqlite3_stmt_readonly()` false, plus transaction control and schema or
#: virtual-table changes. Any of them in a compiled statement means it is not a plain read.
_FORBIDDEN_OPCODES = frozenset(
    {
        "AutoCommit", "Checkpoint", "Clear", "CreateBtree", "Destroy", "DropIndex",
        "DropTable", "DropTrigger", "JournalMode", "LoadAnalysis", "ParseSchema", "Savepoint",
        "SqlExec", "Vacuum", "VCreate", "VDestroy", "VUpdate",
    }
)  # fmt: skip

_ACTION_NAMES: dict[int, str] = {
    getattr(sqlite3, f"SQLITE_{name}"): label
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
    if hasattr(sqlite3, f"SQLITE_{name}")
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

_WRITE_ACTIONS = frozenset({sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE})


# -- engine limits through ctypes ---------------------------------------------------------------


@cache
def _sqlite_library() -> Any | None:
    """The SQLite C library that sqlean.py's module is linked with, or None if unreachable.

    `ctypes.CDLL` on the already-loaded extension module returns the same mapping, so the
    functions operate on the very `sqlite3*` objects the module created.
    """
    try:
        from sqlean import _sqlite3 as module

        library = ctypes.CDLL(module.__file__)
        library.sqlite3_limit.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        library.sqlite3_limit.restype = ctypes.c_int
        library.sqlite3_db_filename.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        library.sqlite3_db_filename.restype = ctypes.c_char_p
    except (ImportError, OSError, AttributeError, TypeError) as exc:
        logger.warning("SQL sandbox: cannot reach sqlite3_limit through ctypes: {}", exc)
        return None
    return library


def _apply_engine_limits(conn: sqlite3.Connection, path: Path, *, sql_bytes: int) -> bool:
    """Set SQLITE_LIMIT_LENGTH / SQL_LENGTH / ATTACHED on `conn`; False if it cannot be done.

    pysqlite-derived `Connection` objects (sqlean.py included) keep the `sqlite3*` handle as
    the first field after the object header. The handle is only used after
    `sqlite3_db_filename(handle, "main")` returns the file this connection opened, which a
    wrong pointer would not. Limits only ever lower the compiled-in maximums.
    """
    library = _sqlite_library()
    if library is None:
        return False
    try:
        handle = ctypes.c_void_p.from_address(id(conn) + object.__basicsize__).value
        if not handle:
            return False
        opened = library.sqlite3_db_filename(handle, b"main")
        if opened is None or Path(opened.decode()).resolve() != path:
            return False
        wanted = {
            _SQLITE_LIMIT_LENGTH: MAX_VALUE_BYTES,
            _SQLITE_LIMIT_SQL_LENGTH: sql_bytes,
            _SQLITE_LIMIT_ATTACHED: 0,
        }
        for limit, value in wanted.items():
            library.sqlite3_limit(handle, limit, value)
        return all(library.sqlite3_limit(handle, k, -1) == v for k, v in wanted.items())
    except (OSError, ValueError, UnicodeDecodeError, ctypes.ArgumentError):
        return False


@cache
def _warn_once_about_limits() -> None:
    logger.warning(
        "SQL sandbox: could not set SQLite limits (sqlite3_limit); relying on the authorizer, "
        "the read-only connection and the deadline alone"
    )


# -- one query's guard ----------------------------------------------------------------------------


@dataclass
class _Guard:
    """Authorizer and progress handler for one query, with what they saw."""

    allowed: frozenset[str]
    objects: frozenset[str]
    deadline: float
    denied: list[str] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    saw_select: bool = False
    timed_out: bool = False

    def authorize(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        db_name: str | None,
        _inner: str | None,  # trigger, view or CTE name: not a trust signal
    ) -> int:
        if action == sqlite3.SQLITE_SELECT:
            self.saw_select = True
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_RECURSIVE:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            table = (arg1 or "").lower()
            if table in self.allowed or table in SAFE_TABLE_FUNCTIONS:
                if db_name in ("main", None):
                    return sqlite3.SQLITE_OK
            elif not arg2 and db_name is None and not self._is_database_object(table):
                # A read that uses no column (`count(*) FROM c`) names its source without a
                # schema; for a CTE that is the CTE's name. Real tables, schema tables and
                # virtual-table modules are excluded, so this never opens a hidden table.
                return sqlite3.SQLITE_OK
            if (arg1 or "") not in self.missing_tables:
                self.missing_tables.append(arg1 or "")
            return self._deny(f"no such table: {arg1}")
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() in SAFE_FUNCTIONS:
                return sqlite3.SQLITE_OK
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
        return sqlite3.SQLITE_DENY

    def progress(self) -> int:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0


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
        """Whether the last query ran with `sqlite3_limit` applied (None before any query)."""

    # -- SqlRunner ------------------------------------------------------------------------------

    def schemas(self) -> list[TableSchema]:
        """The available tables with column types, up to 3 sample values and row counts."""
        try:
            version = self._schema_version()
        except sqlite3.Error as exc:
            logger.warning("SQL sandbox: cannot read the tables database: {}", exc)
            return []
        return list(self._current_catalog(version, want_schemas=True).schemas or ())

    def run(self, sql: str) -> QueryResult:
        """Run one read-only SELECT; `ToolRejected` with a retry hint for anything else."""
        sql = self._check_text(sql)
        conn = self._open_sandbox()
        guard: _Guard | None = None
        catalog: Catalog | None = None
        try:
            limited = _apply_engine_limits(
                conn, self._path, sql_bytes=4 * self._max_sql_length + 64
            )
            if not limited:
                _warn_once_about_limits()
            self.engine_limits_applied = limited
            # Still trusted here: this is our SQL, and the authorizer is not installed yet.
            (version,) = conn.execute("PRAGMA schema_version").fetchone()
            catalog = self._current_catalog(version)
            objects = frozenset(row[0] for row in conn.execute(_OBJECT_NAMES_SQL))
            guard = _Guard(
                allowed=frozenset(t.lower() for t in catalog.tables),
                objects=objects,
                deadline=time.monotonic() + self._timeout_s,
            )
            conn.set_authorizer(guard.authorize)
            conn.set_progress_handler(guard.progress, PROGRESS_STEPS)
            self._check_compiled(conn, sql, guard, catalog)
            cursor = conn.execute(sql)
            if cursor.description is None:
                raise ToolRejected(
                    "The statement returned no result set. Send one SELECT statement."
                )
            columns = tuple(str(d[0]) for d in cursor.description)
            fetched = cursor.fetchmany(self._max_rows + 1)
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise self._rejection(exc, guard, catalog) from None
        finally:
            conn.close()
        return self._result(columns, fetched)

    # -- the engine boundary --------------------------------------------------------------------

    def _open_sandbox(self) -> sqlite3.Connection:
        if not self._path.exists():
            raise ToolRejected(self._NOTHING_LOADED)
        try:
            conn = sqlite3.connect(
                f"{self._path.as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                timeout=self._timeout_s,
            )
        except sqlite3.Error as exc:
            raise ToolRejected(f"The tables database cannot be opened: {exc}.") from None
        conn.text_factory = _decode_text
        return conn

    def _check_compiled(
        self, conn: sqlite3.Connection, sql: str, guard: _Guard, catalog: Catalog
    ) -> None:
        """Compile `sql` with EXPLAIN (nothing runs) and refuse anything but a plain read."""
        program = conn.execute("EXPLAIN\n" + sql).fetchall()
        writes = sorted(
            {
                str(op[1])
                for op in program
                if op[1] in _FORBIDDEN_OPCODES or (op[1] == "Transaction" and op[3] != 0)
            }
        )
        if writes or not guard.saw_select:
            raise self._not_a_read(
                self._tables_hint(catalog),
                "write or change the database" if writes else "not be a SELECT",
            )

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
            conn.execute("COMMIT")
            return Catalog(version=version, tables=names, schemas=schemas)
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
        if "one statement at a time" in message:
            return ToolRejected(self._ONE_STATEMENT)
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


__all__ = ["SAFE_FUNCTIONS", "SqliteSqlRunner", "render_markdown"]
