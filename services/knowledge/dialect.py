"""The knowledge store's SQL, written once for SQLite and PostgreSQL: one open connection
as the shared statements need it (`Session`), and the read-side normalisers.

The documents, sections, chunks, staging, versions, listings and counters are the same SQL
on both databases (services/knowledge/sql_store.py, document_writes.py, search_catalog.py).
What only the dialect decides is hidden here:

* placeholders: statements are written with `?`; on PostgreSQL they become `%s` (a literal
  `%` is doubled), so a statement must hold no `?` of its own;
* rows come back as tuples on both (PostgreSQL's pool hands out `dict_row` connections; a
  session reads through a `tuple_row` cursor), so results are unpacked by position;
* a list parameter: `col IN (?, ?, ...)` on SQLite, `col = ANY(?)` (one array) on PostgreSQL;
* values the two schemas store differently: JSON (text on SQLite, `jsonb`), times (ISO text
  to the second, `timestamptz`), dates (ISO text, `date`) and vectors (float32 bytes for
  sqlite-vec, a NumPy array for pgvector's adapter). Writes convert with `put_*`; reads
  normalise with `as_date`, `as_time` and `as_path`;
* a refused unique key: `IntegrityError` on SQLite, `UniqueViolation` on PostgreSQL, and a
  failed statement inside a transaction: harmless on SQLite (the statement alone is undone),
  fatal to the whole transaction on PostgreSQL unless it ran in a `savepoint()`.

The PostgreSQL session is `services/knowledge/pg_session.py`'s `PgSession` (psycopg is the
`postgres` extra: nothing here imports it).

A statement that only one dialect can say (FTS5 rows, `INDEXED BY`, `substr` from the end
against `right`, `json_extract` against `->>`) is chosen with `session.dialect` beside its
twin, where it is used.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from contextlib import nullcontext
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import numpy as np

from services.sqlite.connection import IntegrityError as SqliteIntegrityError

if TYPE_CHECKING:
    from services.sqlite.connection import Connection as SqliteConnection

__all__ = [
    "Dialect",
    "Session",
    "SqliteSession",
    "as_date",
    "as_path",
    "as_time",
]

Dialect = Literal["sqlite", "postgresql"]
Row = tuple[Any, ...]


class Session(Protocol):
    """One open connection (see the module docstring for what it hides)."""

    dialect: Dialect
    #: The error a refused unique key raises.
    unique_violation: type[Exception]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """The rows of `sql` (written with `?` placeholders) as tuples."""
        ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of `sql`, or None."""
        ...

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute `sql`; returns the number of rows it changed."""
        ...

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def any_of(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        """(`column` is one of `values` as SQL, its parameters)."""
        ...

    def savepoint(self) -> Any:
        """A context manager inside which a failing statement spares the transaction."""
        ...

    def put_json(self, value: Any) -> Any: ...

    def put_time(self, moment: datetime) -> Any: ...

    def put_date(self, day: date | None) -> Any: ...

    def put_vector(self, vector: np.ndarray) -> Any: ...


class SqliteSession:
    """A SQLite connection (autocommit, or inside the caller's `BEGIN IMMEDIATE`)."""

    dialect: Dialect = "sqlite"
    unique_violation: type[Exception] = SqliteIntegrityError

    def __init__(self, conn: SqliteConnection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self.conn.execute(sql, list(params)).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return self.conn.execute(sql, list(params)).fetchone()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self.conn.execute(sql, list(params)).rowcount)

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def any_of(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def savepoint(self) -> Any:
        return nullcontext()

    def put_json(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def put_time(self, moment: datetime) -> str:
        return moment.isoformat(timespec="seconds")

    def put_date(self, day: date | None) -> str | None:
        return day.isoformat() if day else None

    def put_vector(self, vector: np.ndarray) -> bytes:
        return vector.tobytes()


def as_date(value: object) -> date | None:
    """A `DATE` (PostgreSQL) or its ISO text (SQLite; '' or NULL for none)."""
    if isinstance(value, str):
        return date.fromisoformat(value) if value else None
    return value if isinstance(value, date) else None


def as_time(value: object) -> datetime:
    """A `timestamptz` (PostgreSQL) or its ISO text (SQLite; taken as UTC without a zone)."""
    if isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def as_path(value: object) -> tuple[str, ...]:
    """A heading path: `jsonb` array (PostgreSQL) or JSON text (SQLite)."""
    if isinstance(value, str):
        return tuple(json.loads(value or "[]"))
    return tuple(
        cast("Iterable[str]", value or ())
    )  # a jsonb array of strings, as psycopg reads it
