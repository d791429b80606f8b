"""docs/deployment.md's connection count per process, held on a real PostgreSQL: a process
with its pool saturated and its rate limiter open holds no more sessions than
DATABASE_POOL_SIZE + 1 (its heartbeat) + 4 (the limiter's pool), the terms the page adds up."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from backend.api.rate_limit import PgTokenBucketLimiter, build_rate_limiter
from backend.bootstrap import bootstrap
from services.clock import SystemClock
from tests.conftest import FixedClock, make_settings

DEPLOYMENT = (Path(__file__).resolve().parents[2] / "docs" / "deployment.md").read_text()
POOL = 3
LIMITER = 4
HEARTBEAT = 1


def _sessions(pg_url: str) -> int:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_process_holds_no_more_sessions_than_the_documented_sum(
    data_dir: Path, pg_url: str
) -> None:
    formula = "replicas x (`DATABASE_POOL_SIZE` + 1 + 4 +\n2 x `ANSWER_WORKERS`)"
    assert formula in DEPLOYMENT, "the page's formula changed: change this test with it"
    assert re.search(r"its heartbeat \(`processes` row\) \| 1 \|", DEPLOYMENT)
    assert re.search(r"the rate limiter's pool \| 4 \|", DEPLOYMENT)
    settings = make_settings(
        data_dir,
        database_url=pg_url,
        database_pool_size=POOL,
        rate_limit_per_minute=60,
        answer_processes=False,
        load_sample_data=False,
    )
    container = bootstrap(settings, clock=FixedClock())
    limiter = build_rate_limiter(settings, SystemClock())
    assert isinstance(limiter, PgTokenBucketLimiter) and limiter.POOL_SIZE == LIMITER
    database = container.adapters.database
    assert database is not None
    held, release = threading.Barrier(POOL + 1), threading.Event()

    def hold() -> None:
        with database.connection() as conn:
            conn.execute("SELECT 1")
            held.wait(30)
            release.wait(30)

    threads = [threading.Thread(target=hold) for _ in range(POOL)]
    try:
        for thread in threads:
            thread.start()
        held.wait(30)  # the pool is saturated
        limited = [threading.Thread(target=limiter.acquire, args=(f"k{i}",)) for i in range(8)]
        for thread in limited:
            thread.start()
        for thread in limited:
            thread.join(30)
        sessions = _sessions(pg_url)
        assert POOL + HEARTBEAT <= sessions <= POOL + HEARTBEAT + LIMITER, sessions
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
        limiter.close()
        container.close()
