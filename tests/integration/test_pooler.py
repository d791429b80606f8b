"""Almanac's PostgreSQL access behind a transaction-mode pooler (Debian's PgBouncer,
tests/pgbouncer.py): with DATABASE_POOLED's settings, many statements over several pooled
connections never meet a prepared statement another server connection holds; the advisory
lock (`PgDatabase.advisory_lock`, the sample load's) excludes a second holder though each
transaction may land on any server connection; and two processes migrating at once apply each
migration once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from services.postgres import PgDatabase
from services.postgres.migrations import Migration, apply_migrations
from tests.pgbouncer import pgbouncer


@pytest.fixture
def pooled(pg_url: str) -> Iterator[str]:
    with pgbouncer(pg_url, pool_size=4) as url:
        yield url


def test_statements_repeated_over_pooled_connections_all_succeed(pooled: str) -> None:
    db = PgDatabase(pooled, max_size=4, prepared=False)
    errors: list[BaseException] = []

    def work() -> None:
        for number in range(40):  # past psycopg's prepare threshold (5) on each connection
            try:
                with db.connection() as conn:
                    row = conn.execute("SELECT %s::int + 1 AS n", (number,)).fetchone()
                    assert row is not None and row["n"] == number + 1
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        db.close()
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert errors == []


def test_the_advisory_lock_excludes_a_second_holder_through_the_pooler(pooled: str) -> None:
    db = PgDatabase(pooled, max_size=4, prepared=False)
    inside: list[int] = []
    overlaps: list[int] = []
    entered: list[int] = []

    def hold(number: int) -> None:
        with db.advisory_lock(0x5E57):
            if inside:
                overlaps.append(number)
            inside.append(number)
            entered.append(number)
            time.sleep(0.2)
            inside.remove(number)

    threads = [threading.Thread(target=hold, args=(n,)) for n in range(3)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        db.close()
    assert not any(thread.is_alive() for thread in threads), "a holder never got the lock"
    assert sorted(entered) == [0, 1, 2] and overlaps == []


def test_two_processes_migrating_at_once_apply_each_migration_once(pooled: str) -> None:
    steps = [
        Migration(f"pooler_test_{n}", f"CREATE TABLE pooler_test_{n} (id int)") for n in range(5)
    ]
    databases = [PgDatabase(pooled, max_size=2, prepared=False) for _ in range(2)]
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def migrate(db: PgDatabase) -> None:
        try:
            applied.append(apply_migrations(db, steps))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(db,)) for db in databases]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for db in databases:
            db.close()
    assert not any(thread.is_alive() for thread in threads), "a migrator hung"
    assert errors == [] and len(applied) == 2
    assert sorted(name for names in applied for name in names) == [m.name for m in steps]
