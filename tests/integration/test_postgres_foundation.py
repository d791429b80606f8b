"""The PostgreSQL plumbing every PostgreSQL store builds on: pool, transactions, migrations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import Connection, Cursor

from backend.config import Settings, StorageSettings
from services.knowledge.index_backends import backend_for
from services.postgres import Migration, PgDatabase, apply_migrations, pending_migrations
from services.postgres.database import redacted_url
from services.postgres.migrations import applied_migrations
from use_cases.shared.errors import ConfigurationError


def _seed(conn: Connection[dict[str, Any]]) -> None:
    conn.execute("INSERT INTO items(name) VALUES (%s)", ("seed",))


def _one(cursor: Cursor[dict[str, Any]]) -> dict[str, Any]:
    """The one row a query the test wrote returns."""
    row = cursor.fetchone()
    assert row is not None
    return row


STEPS = [
    Migration(
        "test_0001_items", "CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)"
    ),
    Migration(
        "test_0002_seed",
        function=_seed,
    ),
]


@pytest.fixture
def db(pg_url: str) -> Iterator[PgDatabase]:
    database = PgDatabase(pg_url, max_size=4)
    yield database
    database.close()


def test_migrations_apply_once_and_in_order(db: PgDatabase) -> None:
    assert pending_migrations(db, STEPS) == ["test_0001_items", "test_0002_seed"]
    assert apply_migrations(db, STEPS) == ["test_0001_items", "test_0002_seed"]
    assert apply_migrations(db, STEPS) == []
    assert applied_migrations(db) == ["test_0001_items", "test_0002_seed"]
    with db.connection() as conn:
        assert _one(conn.execute("SELECT count(*) AS n FROM items"))["n"] == 1


def test_replicas_starting_together_apply_each_migration_once(pg_url: str) -> None:
    """Four processes' worth of pools race; the advisory lock lets one apply each step."""
    databases = [PgDatabase(pg_url, max_size=2) for _ in range(4)]
    results: list[list[str]] = []
    barrier = threading.Barrier(len(databases))

    def start(database: PgDatabase) -> None:
        barrier.wait()
        results.append(apply_migrations(database, STEPS))

    threads = [threading.Thread(target=start, args=(d,)) for d in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(name for result in results for name in result) == [
            "test_0001_items",
            "test_0002_seed",
        ]
        with databases[0].connection() as conn:
            assert _one(conn.execute("SELECT count(*) AS n FROM items"))["n"] == 1
    finally:
        for database in databases:
            database.close()


def test_a_failing_migration_leaves_nothing_behind(db: PgDatabase) -> None:
    broken = [
        *STEPS,
        Migration("test_0003_broken", "CREATE TABLE half (id INT); SELECT no_such_function()"),
    ]
    with pytest.raises(Exception, match="no_such_function"):
        apply_migrations(db, broken)
    assert applied_migrations(db) == ["test_0001_items", "test_0002_seed"]
    with db.connection() as conn:
        assert _one(conn.execute("SELECT to_regclass('half') AS t"))["t"] is None


def test_transaction_rolls_back_on_error(db: PgDatabase) -> None:
    apply_migrations(db, STEPS)
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO items(name) VALUES (%s)", ("lost",))
        raise RuntimeError("boom")
    with db.connection() as conn:
        names = [r["name"] for r in conn.execute("SELECT name FROM items ORDER BY id")]
    assert names == ["seed"]


def test_unreachable_server_is_a_configuration_error_without_the_password() -> None:
    url = "postgresql://almanac:s3cret@127.0.0.1:1/almanac?connect_timeout=1"
    with pytest.raises(ConfigurationError) as caught:
        PgDatabase(url, timeout_s=1.5)
    assert "s3cret" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)
    assert redacted_url(url) == "postgresql://almanac:***@127.0.0.1:1/almanac"


def test_database_url_selects_the_backend(tmp_path) -> None:
    def settings(url: str | None) -> StorageSettings:
        return Settings(_env_file=None, data_dir=tmp_path / "d", database_url=url).storage

    assert settings(None).database_backend == "sqlite"
    assert settings(None).app_db_path == tmp_path / "d" / "app.db"
    assert settings(f"sqlite:///{tmp_path}/s").app_db_path == tmp_path / "s" / "app.db"
    pg = settings("postgresql://u:p@db.example:5432/almanac")
    assert pg.database_backend == "postgresql"
    assert pg.postgres_url.endswith("/almanac")
    assert "p@db" not in repr(pg)
    with pytest.raises(ValueError, match="DATABASE_URL must start with a scheme"):
        settings("/srv/almanac")
    # Any other scheme is an index backend's, refused at start-up when none is installed.
    assert settings("mysql://x").database_backend == "sqlite"
    with pytest.raises(ConfigurationError, match="mysql:// names no installed index backend"):
        backend_for("mysql://x")


def test_the_test_database_is_a_url_that_settings_accept(pg_url: str, tmp_path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=pg_url)
    assert settings.storage.database_backend == "postgresql"
    db = PgDatabase(settings.storage.postgres_url, max_size=1)
    try:
        with db.connection() as conn:
            name = _one(conn.execute("SELECT current_database() AS d"))["d"]
        assert name.startswith("almanac_t_")
    finally:
        db.close()
