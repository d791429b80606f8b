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
- An outage is an error of its own: a pool timeout, or a connection refused, lost or shut
  down by the server or the pooler (`is_outage`), raises `DatabaseUnavailable` (503
  `database_unavailable`, transient: a job waits it out); any other database error is
  raised as it is.
- Reconnection is prompt: each connection is checked when it is lent (a broken one is
  dropped and replaced), a connection attempt gives up after `CONNECT_TIMEOUT_S`, and the
  pool's attempts to reconnect back off to at most `RECONNECT_MAX_DELAY_S` apart (psycopg's
  own doubling would wait ~30 s past a 45 s outage, and minutes past longer ones).
- psycopg is the `postgres` extra: this module imports it only when a pool is opened or a
  PostgreSQL URL is read, so the SQLite backend runs (and imports this module's names for
  its type hints and dispatch) without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from loguru import logger

from use_cases.shared.errors import ConfigurationError, DatabaseUnavailable

if TYPE_CHECKING:
    import psycopg

    Connection: TypeAlias = psycopg.Connection[dict[str, Any]]

#: Seconds a request waits for a free pooled connection before giving up with a clear error.
POOL_TIMEOUT_S = 30.0
#: Seconds one connection attempt may take (a pooler or server that accepts and hangs).
CONNECT_TIMEOUT_S = 5
#: The longest wait between two of the pool's attempts to reconnect during an outage.
RECONNECT_MAX_DELAY_S = 2.0
#: How long the pool keeps trying to reconnect before giving a connection up (it grows
#: again on demand afterwards).
RECONNECT_TIMEOUT_S = 3600.0
#: SQLSTATEs of an outage: the connection failed or was lost (class 08), the server is
#: shutting down or starting (57P01-57P03), or it has no connection slot left (53300).
_OUTAGE_STATES = ("57P01", "57P02", "57P03", "53300")


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database or its pooler cannot be reached now (module
    docstring), as opposed to an error in what was asked of it."""
    import psycopg

    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    if state is None:  # raised by the client: refused, timed out, connection lost
        return True
    return state.startswith("08") or state in _OUTAGE_STATES


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
        from psycopg_pool import PoolTimeout

        self._url = url
        self._application_name = application_name
        self._timeout = timeout_s
        self._pool_timeout = PoolTimeout
        try:
            psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigurationError(f"DATABASE_URL is not a valid PostgreSQL URL: {exc}") from exc
        pool_class = _reconnecting_pool_class()
        self._pool: Any = pool_class(
            url,
            min_size=min(min_size, max_size),
            max_size=max_size,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "application_name": application_name,
                "connect_timeout": CONNECT_TIMEOUT_S,
                **({} if prepared else {"prepare_threshold": None}),
            },
            check=pool_class.check_connection,
            open=False,
            name="almanac",
            reconnect_timeout=RECONNECT_TIMEOUT_S,
        )
        opening_s = max(timeout_s, POOL_TIMEOUT_S)
        try:
            self._pool.open(wait=True, timeout=opening_s)
        except PoolTimeout as exc:
            self._pool.close()
            raise ConfigurationError(
                f"Cannot connect to PostgreSQL at {redacted_url(url)} within {opening_s:g} s: "
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
    def connection(self, *, timeout_s: float | None = None) -> Iterator[Connection]:
        """One pooled connection in autocommit mode, returned to the pool afterwards; waits
        at most `timeout_s` (default: the pool's) for one. An outage raises
        `DatabaseUnavailable` (module docstring)."""
        try:
            with self._pool.connection(timeout=timeout_s or self._timeout) as conn:
                yield conn
        except self._pool_timeout as exc:
            raise DatabaseUnavailable(
                "The database is unreachable or busy: no connection was free in time. "
                "Try again shortly."
            ) from exc
        except Exception as exc:
            if is_outage(exc):
                # The driver's words name hosts and ports: logged, not shown to clients.
                logger.warning("The database is unreachable: {}", _first_line(exc))
                raise DatabaseUnavailable(
                    "The database is unreachable (the connection was refused, lost or shut "
                    "down). Try again shortly."
                ) from exc
            raise

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

    def ping(self, timeout_s: float) -> None:
        """Raise `DatabaseUnavailable` unless the database answers within about `timeout_s`."""
        with self.connection(timeout_s=timeout_s) as conn:
            conn.execute("SELECT 1")

    def server_version(self) -> str:
        with self.connection() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row["server_version"]) if row else "unknown"

    def close(self) -> None:
        self._pool.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _reconnecting_pool_class() -> Any:
    """psycopg_pool's `ConnectionPool` whose reconnection attempts back off to at most
    `RECONNECT_MAX_DELAY_S` apart (module docstring). It hooks psycopg_pool's own attempt
    (3.2 and later, checked on 3.3); a version without it gets the plain pool."""
    from psycopg_pool import ConnectionPool

    try:
        from psycopg_pool.base import AttemptWithBackoff
    except ImportError:  # pragma: no cover - an older psycopg_pool
        return ConnectionPool
    if not hasattr(ConnectionPool, "_add_connection"):  # pragma: no cover
        return ConnectionPool

    class _CappedAttempt(AttemptWithBackoff):
        def update_delay(self, now: float) -> None:
            super().update_delay(now)
            self.delay = min(self.delay, RECONNECT_MAX_DELAY_S)

    class _Pool(ConnectionPool):
        def _add_connection(self, attempt: Any, growing: bool = False) -> None:
            super()._add_connection(
                attempt or _CappedAttempt(timeout=self.reconnect_timeout), growing
            )

    return _Pool
