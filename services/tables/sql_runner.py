"""What the two SQL sandboxes share: the part of a `SqlRunner` that does not depend on the
database engine, written once.

The boundary itself differs by engine and stays in each runner's module, because each engine
offers a different mechanism to enforce it: `sql_sandbox.SqliteSqlRunner` opens a read-only
connection with an authorizer allow-list, checks the compiled program and sets engine limits;
`pg_sql_sandbox.PgSqlRunner` runs a READ ONLY, rolled-back transaction as a reader role and
checks the planned query. What each engine reports differs too (an authorizer's verdicts, a
PostgreSQL error code), so each turns its own errors into refusals, but with the wording from
here, so the model gets the same advice on both. Shared here:

* the options (`tables`, `timeout_s`, `max_rows`, `max_sql_length`, `max_cell_chars`) and
  their validation;
* the text checks (friendlier messages only, not a boundary): length, no NUL, starts with
  SELECT / WITH / VALUES;
* the catalog cache: the available tables (and, once asked for, their schemas) are kept until
  the database's version changes (SQLite: its schema version; PostgreSQL: the oids, names and
  privileges of the schema's tables) or `refresh()` is called, under one lock;
* which of them a reader may see: those of the reader's collections (`TableCollections`; a
  table's collection is in the catalog), the only tables a query of theirs may name and the
  only ones its schemas, hints and refusals mention;
* the result: at most `max_rows` rows (`truncated` beyond), each value as SQLite would show it
  (binary as `<N bytes>`, PostgreSQL's dates, decimals, JSON, ... as text or numbers), long
  text cut at `max_cell_chars`;
* the wording of the refusals.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypedDict

from use_cases.shared.errors import ToolRejected
from use_cases.tables.domain import QueryResult, TableCollections, TableSchema

_LEADING_NOISE = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z)|\()*", re.S)
_FIRST_WORD = re.compile(r"[A-Za-z_]+")
_READ_KEYWORDS = frozenset({"select", "with", "values"})
#: Identifiers of a statement: bare words and the quoted forms both engines read ("x", `x`,
#: [x]); string literals are skipped, comments are not (a name there is refused too).
_IDENTIFIERS = re.compile(
    r"""'(?:[^']|'')*'|"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|\[([^\]]*)\]|([A-Za-z_][A-Za-z0-9_$]*)""",
    re.S,
)


class RunnerOptions(TypedDict, total=False):
    """The options both runners take (see `ReadOnlySqlRunner.__init__`)."""

    tables: Sequence[str] | None
    timeout_s: float
    max_rows: int
    max_sql_length: int
    max_cell_chars: int


@dataclass(frozen=True)
class Catalog:
    """The available tables as of `version` (whatever identifies the database's tables)."""

    version: Any
    tables: tuple[str, ...]
    schemas: tuple[TableSchema, ...] | None = None
    collections: dict[str, int] | None = None
    """Lowercased table name -> its collection's id (a table not here: the default one)."""

    def readable(self, collections: TableCollections) -> tuple[str, ...]:
        """The available tables a reader of `collections` may see (None: all of them)."""
        if collections is None:
            return self.tables
        placed = self.collections or {}
        return tuple(t for t in self.tables if placed.get(t.lower()) in collections)

    def readable_schemas(self, collections: TableCollections) -> list[TableSchema]:
        names = {t.lower() for t in self.readable(collections)}
        return [s for s in self.schemas or () if s.name.lower() in names]

    def within(self, collections: TableCollections) -> Catalog:
        """This catalog as a reader of `collections` sees it."""
        if collections is None:
            return self
        return Catalog(self.version, self.readable(collections), None, self.collections)


class ReadOnlySqlRunner:
    """The engine-independent half of a `SqlRunner`; a subclass adds `schemas` and `run`.

    `tables` restricts the model to those tables (case-insensitive); by default it sees every
    user table (not Almanac's `_almanac*` bookkeeping).
    """

    #: The SQL dialect the model must write ("SQLite", "PostgreSQL").
    dialect: ClassVar[str]
    #: How an engine's own error message is introduced to the model.
    error_label: ClassVar[str]

    _NOTHING_LOADED = "No tables have been loaded yet, so there is nothing to query."
    _ONE_STATEMENT = (
        "Send exactly one SQL statement: there is more SQL after the first `;`. "
        "Remove the extra statements (only a single SELECT is allowed)."
    )

    def __init__(
        self,
        *,
        tables: Sequence[str] | None = None,
        timeout_s: float = 1.0,
        max_rows: int = 200,
        max_sql_length: int = 4000,
        max_cell_chars: int = 500,
    ) -> None:
        if timeout_s <= 0 or max_rows < 1 or max_sql_length < 1 or max_cell_chars < 1:
            raise ValueError("timeout_s, max_rows, max_sql_length and max_cell_chars must be > 0")
        self._only = None if tables is None else frozenset(t.lower() for t in tables)
        self._timeout_s = float(timeout_s)
        self._max_rows = max_rows
        self._max_sql_length = max_sql_length
        self._max_cell_chars = max_cell_chars
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None

    def close(self) -> None:
        """Nothing to release: every query opens (SQLite) or borrows (PostgreSQL) its own
        connection."""

    def refresh(self) -> None:
        """Forget cached schemas; the next call re-reads tables, row counts and samples."""
        with self._lock:
            self._catalog = None

    # -- text checks (usability, not the boundary) ----------------------------------------------

    def _check_text(self, sql: str) -> str:
        if not isinstance(sql, str):
            raise ToolRejected("The SQL must be a string containing one SELECT statement.")
        sql = sql.strip()
        self._check_length(sql)
        if "\x00" in sql:
            raise ToolRejected("The SQL contains a NUL character; remove it.")
        body = _LEADING_NOISE.sub("", sql, count=1)
        word = _FIRST_WORD.match(body)
        if not body or word is None:
            raise ToolRejected(
                "No SQL statement found. Send one SELECT statement, e.g. "
                f"`SELECT * FROM {self._example_table()} LIMIT 10`."
            )
        if word.group(0).lower() not in _READ_KEYWORDS:
            raise ToolRejected(
                f"Only read-only SELECT queries are allowed; {word.group(0).upper()} statements "
                "are refused. Rewrite it as one SELECT (a WITH ... SELECT is fine)."
            )
        return sql

    def _check_length(self, sql: str) -> None:
        if len(sql) > self._max_sql_length:
            raise ToolRejected(
                f"The SQL is {len(sql)} characters long; the limit is {self._max_sql_length}. "
                "Write a shorter query."
            )

    # -- the catalog ----------------------------------------------------------------------------

    def _cached_catalog(
        self, version: Any, build: Callable[[], Catalog], *, want_schemas: bool
    ) -> Catalog:
        """The cached catalog if it is of `version` (and has schemas if wanted), else a new
        one from `build`, cached."""
        with self._lock:
            catalog = self._catalog
            if (
                catalog is None
                or catalog.version != version
                or (want_schemas and catalog.schemas is None)
            ):
                catalog = build()
                self._catalog = catalog
            return catalog

    def _refuse_hidden(self, sql: str, whole: Catalog, readable: Catalog) -> None:
        """ "No such table" for a query that names a table of another collection anywhere,
        before the engine sees it: the engine's own errors (an unknown column, a type
        mismatch) would otherwise tell such a table from a missing one. A word that only
        looks like such a table (an alias, a word in a comment) is refused too: on purpose,
        the boundary errs on the side of refusing."""
        if readable.tables == whole.tables:
            return
        hidden = {t.lower() for t in whole.tables} - {t.lower() for t in readable.tables}
        for match in _IDENTIFIERS.finditer(sql):
            name = next((g for g in match.groups() if g is not None), None)
            if name is not None and name.lower() in hidden:
                raise self._no_such_table(name, self._tables_hint(readable))

    def _visible(self, names: Iterable[str]) -> tuple[str, ...]:
        """`names` restricted to the `tables` option, in order."""
        return tuple(name for name in names if self._only is None or name.lower() in self._only)

    # -- results and refusals -------------------------------------------------------------------

    def _result(self, columns: tuple[str, ...], fetched: Sequence[Sequence[Any]]) -> QueryResult:
        """`fetched` holds up to `max_rows + 1` rows: one more means there were more."""
        rows = tuple(tuple(self._cell(v) for v in row) for row in fetched[: self._max_rows])
        return QueryResult(columns=columns, rows=rows, truncated=len(fetched) > self._max_rows)

    def _cell(self, value: Any) -> Any:
        if isinstance(value, bytes | memoryview | bytearray):
            return f"<{len(value)} bytes>"
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        elif isinstance(value, datetime | date | time):
            value = value.isoformat()
        elif isinstance(value, timedelta | uuid.UUID):
            value = str(value)
        elif isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        elif value is not None and not isinstance(value, int | float | str):
            value = str(value)
        if isinstance(value, str) and len(value) > self._max_cell_chars:
            return value[: self._max_cell_chars] + "…"
        return value

    def _example_table(self) -> str:
        catalog = self._catalog
        return catalog.tables[0] if catalog and catalog.tables else "my_table"

    @staticmethod
    def _tables_hint(catalog: Catalog | None) -> str:
        names = catalog.tables if catalog else ()
        if not names:
            return "No tables are available."
        return "Available tables: " + ", ".join(names) + "."

    def _no_such_table(self, name: str, hint: str) -> ToolRejected:
        """The answer for a missing table and for a hidden one alike, so that the text cannot
        be used to probe which hidden tables exist."""
        return ToolRejected(
            f"{self.error_label}: no such table: {name}. Only the available tables can be "
            f"queried. {hint}"
        )

    @staticmethod
    def _refused(reasons: Sequence[str], hint: str = "") -> ToolRejected:
        """A statement the boundary refused, with why."""
        text = (
            f"Refused: {'; '.join(reasons)}. Only one read-only SELECT over the available "
            "tables, using ordinary SQL functions, is allowed."
        )
        return ToolRejected(f"{text} {hint}" if hint else text)

    @staticmethod
    def _not_a_read(hint: str, would: str = "write or change the database") -> ToolRejected:
        """A statement that is not one plain read."""
        return ToolRejected(
            f"Only one read-only SELECT is allowed; this statement would {would}. {hint}"
        )

    def _timed_out(self) -> ToolRejected:
        return ToolRejected(
            f"The query took longer than {self._timeout_s} s and was stopped; "
            "add a WHERE clause or LIMIT"
        )

    def _too_big(self, message: str) -> ToolRejected:
        return ToolRejected(
            f"{self.error_label}: {message}. A value or the statement exceeded the size limit; "
            "return less data per row."
        )

    def _engine_error(self, message: str, hint: str) -> ToolRejected:
        return ToolRejected(f"{self.error_label}: {message}. {hint}")
