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

A statement that only one dialect can say (FTS5 rows, `INDEXED BY`, `substr` from the end
against `right`, `json_extract` against `->>`) is chosen with `session.dialect` beside its
twin, where it is used.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from services.postgres.database import UniqueViolation
from services.sqlite.connection import IntegrityError as SqliteIntegrityError

if TYPE_CHECKING:
    from services.postgres.database import Connection as PgConnection
    from services.sqlite.connection import Connection as SqliteConnection

__all__ = [
    "Dialect",
    "PgSession",
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
        return self.conn.execute(sql, list(params)).fetchone()  # type: ignore[no-any-return]

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


class PgSession:
    """A pooled PostgreSQL connection (autocommit, or inside the caller's transaction);
    vectors need pgvector's types registered on it (`PgKnowledgeStore.transaction`)."""

    dialect: Dialect = "postgresql"
    unique_violation: type[Exception] = UniqueViolation

    def __init__(self, conn: PgConnection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(_pg_sql(sql), list(params))  # type: ignore[arg-type]
            return list(cursor.fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self.conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(_pg_sql(sql), list(params))  # type: ignore[arg-type]
            return cursor.fetchone()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(_pg_sql(sql), list(params)).rowcount  # type: ignore[arg-type]

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(_pg_sql(sql), rows)  # type: ignore[arg-type]

    def any_of(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def put_json(self, value: Any) -> Jsonb:
        return Jsonb(value)

    def put_time(self, moment: datetime) -> datetime:
        return moment

    def put_date(self, day: date | None) -> date | None:
        return day

    def put_vector(self, vector: np.ndarray) -> np.ndarray:
        return vector


@lru_cache(maxsize=256)
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


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
    return tuple(value or ())  # type: ignore[call-overload]
