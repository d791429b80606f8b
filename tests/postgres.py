"""A real PostgreSQL + pgvector for the tests, on any machine with only Python.

- `TEST_DATABASE_URL` set: that server is used (it must allow `CREATE DATABASE` and have the
  pgvector extension available).
- Otherwise a throw-away PostgreSQL 16 with pgvector is started from the `pgserver` package
  (a dev dependency: it ships the server binaries) in the run's temporary directory, once per
  test run (its pytest-xdist workers share it), and stopped when the last of them ends. It
  listens on a Unix socket only.

Each test that asks for `pg_url` gets a fresh database cloned from a template that already has
the `vector` extension, dropped afterwards, so tests never see each other's rows. A test that
starts where Almanac first starts (the sample loaded) clones `SAMPLE_TEMPLATE_DB` instead,
built once per run (`pg_sample_template`), with a copy of the data directory that goes with it.

`backend` is the parametrized fixture for backend-contract tests: the same test body runs on
"sqlite" and on "postgresql" (`store_settings(tmp_path, backend, pg_url)` gives matching
settings).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from services.postgres.database import with_database

TEMPLATE_DB = "almanac_test_template"
#: The bundled sample loaded, as Almanac first starts on PostgreSQL (`pg_sample_template`).
SAMPLE_TEMPLATE_DB = "almanac_test_sample"
START_ATTEMPTS = 6
BACKENDS = ("sqlite", "postgresql")


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def _start_pgserver(pgdata: Path) -> Any:
    """pgserver's PostgreSQL in `pgdata`. pgserver gives `pg_ctl start` 10 s, which a loaded
    2-core machine can exceed while the server is still coming up: then ask again (the same
    data directory, so the server already starting is picked up once it is ready)."""
    import pgserver  # a dev dependency: missing means a broken install, not a skip

    failure: BaseException | None = None
    for _ in range(START_ATTEMPTS):
        try:
            return pgserver.get_server(pgdata, cleanup_mode="stop")
        except (subprocess.TimeoutExpired, AssertionError) as exc:
            failure = exc
            time.sleep(2)
    raise RuntimeError(f"The test PostgreSQL did not start in {pgdata}: {failure}")


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A connection string for a server where the tests may create databases."""
    from tests.conftest import run_lock

    external = os.environ.get("TEST_DATABASE_URL", "").strip()
    server = None
    with run_lock(tmp_path_factory, "pgserver") as root:
        if external:
            url = external
        else:
            # One server for the run's workers (pgserver counts the processes using a data
            # directory and stops the server when the last one lets go).
            server = _start_pgserver(root / "pgdata")
            url = server.get_uri()
        with _admin(url) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE_DB,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
        with _admin(with_database(url, TEMPLATE_DB)) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    try:
        yield url
    finally:
        if server is not None:
            server.cleanup()


@contextmanager
def fresh_database(server_url: str, template: str = TEMPLATE_DB) -> Iterator[str]:
    """A new database on the server, dropped afterwards: empty (with pgvector), or a copy of
    `template` (`SAMPLE_TEMPLATE_DB`: the sample loaded)."""
    name = f"almanac_t_{uuid.uuid4().hex[:12]}"
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield with_database(server_url, name)
    finally:
        with _admin(server_url) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def pg_sample_template(
    pg_server_url: str, sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """`SAMPLE_TEMPLATE_DB` on the run's server: Almanac as it first starts on PostgreSQL
    (the bundled sample loaded), built once per run; returns the data directory that goes
    with it, which a test copies (`fresh_database(url, SAMPLE_TEMPLATE_DB)` copies the
    database)."""
    from backend.bootstrap import bootstrap, load_sample_data_if_empty
    from tests.conftest import FixedClock, make_settings, run_lock, with_sample_vectors

    with run_lock(tmp_path_factory, "pg-sample") as root:
        data_dir = root / "pg-sample-data"
        with _admin(pg_server_url) as conn:
            built = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (SAMPLE_TEMPLATE_DB,)
            ).fetchone()
        if built and data_dir.is_dir():
            return data_dir
        shutil.rmtree(data_dir, ignore_errors=True)
        building = f"{SAMPLE_TEMPLATE_DB}_{uuid.uuid4().hex[:8]}"
        with _admin(pg_server_url) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(
                sql.Identifier(SAMPLE_TEMPLATE_DB)))  # fmt: skip
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(building), sql.Identifier(TEMPLATE_DB)
                )
            )
        settings = make_settings(
            with_sample_vectors(sample_data_dir, data_dir),
            database_url=with_database(pg_server_url, building),
        )
        container = bootstrap(settings, clock=FixedClock())
        try:
            load_sample_data_if_empty(container)
        finally:
            container.close()
        with _admin(pg_server_url) as conn:  # published whole, under its name, at once
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(building), sql.Identifier(SAMPLE_TEMPLATE_DB)
                )
            )
        return data_dir


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database (with pgvector) for one test, dropped afterwards."""
    with fresh_database(pg_server_url) as url:
        yield url


@pytest.fixture
def private_pg_url(tmp_path: Path) -> Iterator[str]:
    """A database on a PostgreSQL server of the test's own, for a test that changes what a
    whole server shares (a role's attributes): the run's workers share `pg_server_url`, and
    would see the change. With `TEST_DATABASE_URL`, a fresh database on that server."""
    external = os.environ.get("TEST_DATABASE_URL", "").strip()
    if external:
        with fresh_database(external) as url:
            yield url
        return
    server = _start_pgserver(tmp_path / "pgdata")
    try:
        with _admin(server.get_uri()) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgresql": a test using it runs once on each storage backend."""
    return str(request.param)


@pytest.fixture
def backend_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The DATABASE_URL of the `backend` under test: a fresh PostgreSQL database, or a
    `sqlite:///` URL naming this test's own directory."""
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'sqlite'}"
