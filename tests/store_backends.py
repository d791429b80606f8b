"""One application database on either backend, for the backend-contract tests of the app
stores: the SQLite file `app.db` or a fresh PostgreSQL database (`tests/postgres.py`).

A test module declares
    @pytest.fixture
    def app_db(backend, tmp_path, request):
        yield from open_app_db(backend, tmp_path, request)
and builds its store with `app_db.open(Store)` (a store written once for both databases, on
`services/sql`) or `app_db.open(SqliteX, PgX)` (a pair), so the same test body runs on both.
`raw` looks at the stored rows directly, bypassing the store, with `?` placeholders on both.

A module whose tests also run on the in-memory fakes the unit tests use (`tests/fakes/`)
declares its `backend` fixture over `WITH_MEMORY`, opens its database with
`open_app_db_or_memory` (None on `MEMORY`) and each store with `open_store(app_db, Fake,
Store)`; `real_backends` marks a test that needs a real database (rows read directly,
connections raced).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg
import pytest
import sqlean as sqlite3

from services.postgres import PgDatabase
from tests.postgres import BACKENDS


class _Closes(Protocol):
    def close(self) -> None: ...


#: The in-memory fakes, as a third backend beside the real ones.
MEMORY = "memory"
WITH_MEMORY = (*BACKENDS, MEMORY)
#: For a test that needs a real database of its own (rows read directly, connections raced).
real_backends = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@dataclass
class AppDb:
    backend: str
    path: Path
    url: str | None = None
    db: PgDatabase | None = None
    _extra: list[PgDatabase] = field(default_factory=list)

    @property
    def is_postgres(self) -> bool:
        return self.db is not None

    @property
    def integrity_error(self) -> tuple[type[Exception], ...]:
        """What a refused write raises on this backend (the driver's IntegrityError)."""
        return (psycopg.IntegrityError,) if self.is_postgres else (sqlite3.IntegrityError,)

    def open(self, sqlite_cls: Callable[..., Any], pg_cls: Callable[..., Any] | None = None) -> Any:
        """A store on this database (sharing the test's pool on PostgreSQL); `pg_cls`
        defaults to `sqlite_cls`, a store written once for both."""
        if self.db is not None:
            return (pg_cls or sqlite_cls)(self.db)
        return sqlite_cls(self.path)

    def open_apart(
        self, sqlite_cls: Callable[..., Any], pg_cls: Callable[..., Any] | None = None
    ) -> Any:
        """A store with connections of its own, as another process (replica) would have."""
        if self.url is None:
            return sqlite_cls(self.path)
        other = PgDatabase(self.url, max_size=2)
        self._extra.append(other)
        return (pg_cls or sqlite_cls)(other)

    def raw(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Run one statement directly (committed) and return its rows as tuples."""
        if self.url is None:
            lite = sqlite3.connect(str(self.path))
            try:
                with lite:
                    return lite.execute(sql, params).fetchall()
            finally:
                lite.close()
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        for database in [*self._extra, *([self.db] if self.db else [])]:
            database.close()


def open_app_db(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Generator[AppDb, None, None]:
    if backend == "postgresql":
        url = str(request.getfixturevalue("pg_url"))
        app_db = AppDb(backend, tmp_path / "app.db", url, PgDatabase(url, max_size=8))
    else:
        app_db = AppDb(backend, tmp_path / "app.db")
    try:
        yield app_db
    finally:
        app_db.close()


def open_app_db_or_memory(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Generator[AppDb | None, None, None]:
    """`open_app_db`, or None on `MEMORY`: the test's stores are then the fakes."""
    if backend == MEMORY:
        yield None
        return
    yield from open_app_db(backend, tmp_path, request)


def open_store(
    app_db: AppDb | None, fake: Callable[[], object], store: Callable[..., _Closes]
) -> Generator[Any, None, None]:
    """The store under test: `fake()` without a database, else `store` on it, closed after."""
    if app_db is None:
        yield fake()
        return
    opened = app_db.open(store)
    yield opened
    opened.close()
