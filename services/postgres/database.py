"""PostgreSQL connections: one psycopg 3 pool per process, shared by every store.

Rules for the stores built on it (`services/*/pg_*.py`):
- SQL is written once, with parameters (`%s`, or `psycopg.sql` for identifiers): never
  string-built from values.
- Connections are in autocommit mode. A write that touches more than one row, or reads and
  then writes, runs inside `db.transaction()`, which commits on success and rolls back on any
  exception, so a failure never leaves a store half-written.
- Rows come back as dicts (`dict_row`) unless a store asks for another row factory.
- Nothing here logs the connection string: it may hold a password (`redacted_url`).
- No session state: a transaction-mode pooler (PgBouncer) hands each transaction to any
  server connection, where a session lock or setting is not held. Locks are
  transaction-scoped (`advisory_lock`), settings `SET LOCAL`/`set_config(..., true)`.
- Server-side prepared statements (psycopg prepares a statement run 5 times) only with
  `prepared=True`: a statement prepared on one server connection does not exist on another,
  so behind a transaction-mode pooler (DATABASE_POOLED=true) they are off. Measured here,
  preparing saved ~0.1-0.3 ms a statement on small queries (docs/deployment.md#connections).
- psycopg is the `postgres` extra: this module imports it only when a pool is opened or a
  PostgreSQL URL is read, so the SQLite backend runs (and imports this module's names for
  its type hints and dispatch) without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from use_cases.shared.errors import ConfigurationError, UpstreamUnavailable

if TYPE_CHECKING:
    import psycopg

    Connection: TypeAlias = psycopg.Connection[dict[str, Any]]

#: Seconds a request waits for a free pooled connection before giving up with a clear error.
POOL_TIMEOUT_S = 30.0


def redacted_url(url: str) -> str:
    """`url` with any password replaced by `***`, fit for logs and error messages."""
    import psycopg

    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparseable)"
    host = info.get("host", "")
    port = info.get("port", "")
    user = info.get("user", "")
    name = info.get("dbname", "")
    credentials = f"{user}:***@" if info.get("password") else (f"{user}@" if user else "")
    location = f"{host}:{port}" if port else str(host)
    if location.startswith("/"):  # a Unix socket directory
        return f"postgresql://{credentials}/{name}?host={location}"
    return f"postgresql://{credentials}{location}/{name}"


def with_database(url: str, name: str) -> str:
    """`url` naming database `name` instead, kept in URL form (`postgresql://...`), since
    DATABASE_URL must be a URL; a key=value connection string becomes one too."""
    if not url.startswith(("postgresql://", "postgres://")):
        import psycopg

        params = psycopg.conninfo.conninfo_to_dict(url)
        host = str(params.pop("host", "") or "")
        port = str(params.pop("port", "") or "")
        user = str(params.pop("user", "") or "")
        password = str(params.pop("password", "") or "")
        params.pop("dbname", None)
        credentials = f"{quote(user)}:{quote(password)}@" if user else ""
        netloc = "" if host.startswith("/") else host + (f":{port}" if port else "")
        if host.startswith("/"):
            params["host"] = host
            if port:
                params["port"] = port
        url = urlunsplit(("postgresql", credentials + netloc, "/", urlencode(params), ""))
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(name), parts.query, ""))


class PgDatabase:
    """A pool of autocommit connections to one PostgreSQL database.

    `connection()` lends one connection; `transaction()` lends one inside a transaction.
    The pool opens lazily-checked connections (`check=ConnectionPool.check_connection`) so a
    server restart or a dropped connection is replaced instead of failing a request.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        application_name: str = "almanac",
        timeout_s: float = POOL_TIMEOUT_S,
        prepared: bool = True,
    ) -> None:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool, PoolTimeout

        self._url = url
        self._application_name = application_name
        self._timeout = timeout_s
        self._pool_timeout = PoolTimeout
        try:
            psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigurationError(f"DATABASE_URL is not a valid PostgreSQL URL: {exc}") from exc
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=min(min_size, max_size),
            max_size=max_size,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "application_name": application_name,
                **({} if prepared else {"prepare_threshold": None}),
            },
            check=ConnectionPool.check_connection,
            open=False,
            name="almanac",
        )
        try:
            self._pool.open(wait=True, timeout=timeout_s)
        except PoolTimeout as exc:
            self._pool.close()
            raise ConfigurationError(
                f"Cannot connect to PostgreSQL at {redacted_url(url)} within {timeout_s:g} s: "
                "is the server running and DATABASE_URL right?"
            ) from exc

    @property
    def url(self) -> str:
        """The connection string (with its password: never log it; see `redacted_url`)."""
        return self._url

    @property
    def application_name(self) -> str:
        """What this pool's sessions show in `pg_stat_activity`."""
        return self._application_name

    @property
    def display_url(self) -> str:
        return redacted_url(self._url)

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """One pooled connection in autocommit mode, returned to the pool afterwards."""
        try:
            with self._pool.connection(timeout=self._timeout) as conn:
                yield conn
        except self._pool_timeout as exc:
            raise UpstreamUnavailable(
                "The database is busy: no connection was free in time. Try again shortly."
            ) from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One pooled connection inside a transaction: committed when the block ends, rolled
        back if it raises (any exception, KeyboardInterrupt included)."""
        with self.connection() as conn, conn.transaction():
            yield conn

    @contextlib.contextmanager
    def advisory_lock(self, key: int) -> Iterator[None]:
        """Hold the advisory lock `key` for the block: another process (a replica) asking for
        the same key waits until it is released (or this process dies). The lock is the
        transaction-scoped kind, held by a transaction left open on a connection of its own
        for the block: a session lock would stay on whichever server connection a pooler
        lent, and its unlock could run on another one."""
        with self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
            yield

    def server_version(self) -> str:
        with self.connection() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row["server_version"]) if row else "unknown"

    def close(self) -> None:
        self._pool.close()
