"""One store, written once, on SQLite or PostgreSQL.

The app stores (API keys, audit log, prompt versions, ...) keep the same rules on both
databases, so each is one class written against `SqlDb`, which hides what only the dialect
decides:

* placeholders: statements are written with `?`; on PostgreSQL they become `%s` (and a
  literal `%` is doubled), so a statement must hold no `?` of its own;
* connections: `read()` lends a connection in autocommit mode, for single statements;
  `write()` lends one inside a transaction, committed when the block ends and rolled back if
  it raises (any exception). On SQLite that is `BEGIN IMMEDIATE`, which takes the write lock
  up front (a deferred `BEGIN` that reads then writes fails at once under concurrent
  writers); on PostgreSQL a plain transaction, whose read-then-write paths lock the rows
  they read with `db.for_update` (empty on SQLite, where the write lock is already held);
* rows: read by column name (`row["id"]`) on both;
* times: ISO text on SQLite, `timestamptz` on PostgreSQL (`db.put_time` / `db.get_time`);
* JSON values: text on SQLite, `json`/`jsonb` on PostgreSQL, read with `db.get_json` (each
  store writes its own JSON text, the format its existing rows hold);
* schemas: the DDL does differ (types, identity columns, triggers), so a store keeps one
  list of migrations per dialect and `db.migrate(sqlite=..., postgres=...)` applies this
  database's (`services/sqlite/migrations.py`, `services/postgres/migrations.py`).

A statement that only one dialect can say is chosen with `db.dialect` in the store itself,
beside its twin, so what differs is seen in one place.

Connections: a `SqliteSqlDb` keeps one connection per thread to its file
(`ThreadConnections`) and closes them with the store; a `PgSqlDb` borrows from the process's
shared pool, which its owner closes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from services.postgres import migrations as pg_migrations
from services.postgres.database import PgDatabase
from services.sqlite import migrations as sqlite_migrations
from services.sqlite.connection import Row as SqliteRow
from services.sqlite.connection import immediate_transaction
from services.sqlite.thread_connections import ThreadConnections

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "Dialect",
    "PgSqlDb",
    "Session",
    "SqlDb",
    "SqliteSqlDb",
    "StoreTarget",
    "sql_db",
]

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any] | Mapping[str, Any]


class Cursor(Protocol):
    """What a statement returns on either driver."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Session(Protocol):
    """One lent connection: statements written with `?` placeholders."""

    def execute(self, sql: str, params: Params = ()) -> Cursor: ...


class SqlDb(Protocol):
    """A store's database, whichever it is (see the module docstring)."""

    dialect: Dialect
    #: Appended to a `SELECT` that reads rows a transaction then writes.
    for_update: str

    def read(self) -> Any:
        """A context manager lending a `Session` in autocommit mode."""
        ...

    def write(self) -> Any:
        """A context manager lending a `Session` inside one transaction."""
        ...

    def migrate(
        self,
        *,
        sqlite: Sequence[sqlite_migrations.Migration | tuple[str, str]],
        postgres: Sequence[pg_migrations.Migration],
    ) -> list[str]: ...

    def put_time(self, moment: datetime) -> Any: ...

    def get_time(self, value: Any) -> datetime: ...

    def get_json(self, value: Any) -> Any: ...

    def close(self) -> None: ...


class SqliteSqlDb:
    """`SqlDb` on a SQLite file: one connection per thread, rows by name."""

    dialect: Dialect = "sqlite"
    for_update = ""

    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path, row_factory=SqliteRow)

    @property
    def path(self) -> Path:
        return self._connections.path

    @contextmanager
    def read(self) -> Iterator[Session]:
        yield self._connections.get()

    @contextmanager
    def write(self) -> Iterator[Session]:
        with immediate_transaction(self._connections.get()) as conn:
            yield conn

    def migrate(
        self,
        *,
        sqlite: Sequence[sqlite_migrations.Migration | tuple[str, str]],
        postgres: Sequence[pg_migrations.Migration],
    ) -> list[str]:
        return sqlite_migrations.apply_migrations(self._connections.get(), sqlite)

    def put_time(self, moment: datetime) -> str:
        return moment.isoformat(timespec="microseconds")

    def get_time(self, value: Any) -> datetime:
        return datetime.fromisoformat(str(value))

    def get_json(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str | bytes) else value

    def close(self) -> None:
        self._connections.close()


class _PgSession:
    """A pooled psycopg connection taking statements written with `?`."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        # Without parameters psycopg reads no placeholders, so a `%` is left as it is.
        if not params:
            return self._conn.execute(sql)
        return self._conn.execute(_pg_sql(sql), params)


class PgSqlDb:
    """`SqlDb` on the shared PostgreSQL pool (which its owner closes), rows as dicts."""

    dialect: Dialect = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.db.connection() as conn:
            yield _PgSession(conn)

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self.db.transaction() as conn:
            yield _PgSession(conn)

    def migrate(
        self,
        *,
        sqlite: Sequence[sqlite_migrations.Migration | tuple[str, str]],
        postgres: Sequence[pg_migrations.Migration],
    ) -> list[str]:
        return pg_migrations.apply_migrations(self.db, postgres)

    def put_time(self, moment: datetime) -> datetime:
        """A naive time is taken to be UTC (as the use cases' `utc` does)."""
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    def get_time(self, value: Any) -> datetime:
        return value.astimezone(UTC)

    def get_json(self, value: Any) -> Any:
        """A `json`/`jsonb` column's value: the driver has decoded it already (a JSON string
        comes back as a `str`, which must not be parsed again)."""
        return value

    def close(self) -> None:
        """Nothing to release: the pool is shared and closed by its owner."""


#: Where a store lives: the shared PostgreSQL pool, or a SQLite file.
StoreTarget = str | Path | PgDatabase


def sql_db(target: StoreTarget) -> SqliteSqlDb | PgSqlDb:
    """The `SqlDb` of a store: on the shared pool `target`, or on the SQLite file `target`
    (connections of its own, closed with the store)."""
    return PgSqlDb(target) if isinstance(target, PgDatabase) else SqliteSqlDb(target)


@lru_cache(maxsize=1024)
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")
