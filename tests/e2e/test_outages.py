"""Riding out an outage of the database or of its pooler, with real processes: an API replica
(`almanac serve --no-jobs`) and two workers (`almanac worker`) behind a transaction-mode
PgBouncer (tests/pgbouncer.py), and again connected to PostgreSQL directly, on a PostgreSQL
server of the test's own (restarting it must not disturb other tests).

Each worker holds an upload job, held at its embeddings request by the fake provider
(`bench/fake_openai.py`, STALL_WORD). Then, once with the pooler stopped and once with
PostgreSQL itself stopped, each for longer than the heartbeat timeout (JOB_LEASE_SECONDS,
PROCESS_TIMEOUT_SECONDS), the held requests are let go: the jobs' next database write fails,
and they wait the outage out. Once it is over:

- every job ends `done`, once (one attempt: neither failed, nor taken over by the other
  worker, whose own outage makes it wait before judging anyone dead), its document stored
  once, and the workers logged that they waited;
- `/health` said `unavailable` (503) during the outage, and requests succeed again soon
  after it (within STEP_S, a bound, not a measurement).

Short settings keep it quick: leases of 3 s, a pool wait of 2 s, outages of OUTAGE_S.
bench/bench_outage.py measures longer outages.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_replicas import (
    STALL_WORD,
    STEP_S,
    Cluster,
    Worker,
    _control,
    _document,
    _documents_titled,
    _finished,
    _holder,
    _ready,
    _sql,
    _until,
    _upload,
    cluster_env,
)
from tests.fake_openai_server import fake_openai
from tests.pgbouncer import PgBouncer, pgbouncer_process

#: How long each outage lasts: past the lease (3 s) and the process timeout (2.5 s).
OUTAGE_S = 6.0


class Postgres:
    """The test's own PostgreSQL server (`private_pg_url`), stopped and started again with
    the options it was started with."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        # `postmaster.opts`: the postgres binary and its arguments, shell-quoted.
        words = shlex.split((pgdata / "postmaster.opts").read_text())
        self._binary = Path(words[0])
        options = words[1:]
        at = options.index("-D")
        del options[at : at + 2]
        self._options = " ".join(shlex.quote(word) for word in options)
        self.restarted = False

    def _pg_ctl(self, *args: str) -> None:
        """pg_ctl, as the data directory's owner when run as root (as pgserver does)."""
        owner = pwd.getpwuid(self.pgdata.stat().st_uid).pw_name
        user = owner if os.geteuid() == 0 and owner != "root" else None
        subprocess.run(
            [str(self._binary.parent / "pg_ctl"), "-D", str(self.pgdata), *args],
            check=True,
            capture_output=True,
            timeout=60,
            user=user,
        )

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        log = self.pgdata / "restarted.log"
        self._pg_ctl("-w", "-l", str(log), "-o", self._options, "start")
        self.restarted = True

    def close(self) -> None:
        """Stop the server this started (pgserver stops only the one it started)."""
        if self.restarted:
            with contextlib.suppress(subprocess.SubprocessError):
                self.stop()


@pytest.fixture
def outage_cluster(
    tmp_path: Path, private_pg_url: str
) -> Iterator[tuple[Cluster, PgBouncer, str, Postgres]]:
    postgres = Postgres(_pgdata(tmp_path))
    with contextlib.ExitStack() as stack:
        stack.callback(postgres.close)  # the last to go
        pooler = stack.enter_context(pgbouncer_process(private_pg_url))
        stalling = stack.enter_context(fake_openai("--stall-embeddings", STALL_WORD))
        made = Cluster(tmp_path, cluster_env(pooler.url, DATABASE_POOL_TIMEOUT_SECONDS="2"))
        stack.callback(made.close)
        yield made, pooler, stalling, postgres


@pytest.fixture
def direct_cluster(tmp_path: Path, private_pg_url: str) -> Iterator[tuple[Cluster, str, Postgres]]:
    """The same processes on PostgreSQL directly: no pooler between them and the server."""
    postgres = Postgres(_pgdata(tmp_path))
    with contextlib.ExitStack() as stack:
        stack.callback(postgres.close)
        stalling = stack.enter_context(fake_openai("--stall-embeddings", STALL_WORD))
        env = cluster_env(
            private_pg_url, DATABASE_POOL_TIMEOUT_SECONDS="2", DATABASE_POOLED="false"
        )
        made = Cluster(tmp_path, env)
        stack.callback(made.close)
        yield made, stalling, postgres


def _pgdata(tmp_path: Path) -> Path:
    """The data directory of `private_pg_url`'s server (tests/postgres.py puts it there)."""
    pgdata = tmp_path / "pgdata"
    if not (pgdata / "postmaster.opts").exists():
        pytest.skip("needs the test's own PostgreSQL server (not TEST_DATABASE_URL)")
    return pgdata


def _outage(
    http: httpx.Client,
    url: str,
    database: str,
    stalling: str,
    workers: list[Worker],
    name: str,
    stop: Callable[[], None],
    start: Callable[[], None],
) -> None:
    """Two uploads, one held on each worker; `stop()` the database's path for OUTAGE_S while
    they go on; `start()` it; each finishes once."""
    _control(stalling, "stall")
    titles = [f"{name} handbook {n}" for n in (1, 2)]
    job_ids = [
        _upload(http, url, f"{name}-{n}.md", _document(title, f"{name}word{n}", stall=True))
        for n, title in enumerate(titles, 1)
    ]
    _until("both workers hold a job", lambda: _control(stalling, "stalled") >= 2)
    holders = {_holder(database, job_id)[0] for job_id in job_ids}
    assert len(holders) == 2 and None not in holders, "one job on each worker"
    stop()
    stopped_at = time.monotonic()
    _control(stalling, "release")  # the jobs go on to write, and meet the outage
    health = http.get(f"{url}/health", timeout=STEP_S)
    assert health.status_code == 503, health.text
    assert health.json()["status"] == "unavailable"
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
    start()

    def documents_answer() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return http.get(f"{url}/api/documents", timeout=STEP_S).status_code == 200
        return False

    _until("requests succeed again", documents_answer)
    assert http.get(f"{url}/health").status_code == 200
    for job_id, title in zip(job_ids, titles, strict=True):
        _finished(http, url, job_id)  # done, not failed
        assert _documents_titled(database, title) == 1
        _, _, attempts, _ = _holder(database, job_id)
        assert attempts == 1, "run once: not taken over"
    logs = "".join(w.output() for w in workers)
    assert "waits for the database" in logs
    assert "Took job" not in logs


def _started(made: Cluster, stalling: str) -> tuple[str, list[Worker]]:
    """An API replica and two ready workers: the replica's URL and the workers."""
    started: dict[str, Any] = {}

    def start_replica() -> None:
        started["a"] = made.replica("a", stalling)

    replica = threading.Thread(target=start_replica)
    replica.start()
    workers = [made.worker(name, stalling) for name in ("w1", "w2")]
    replica.join()
    for worker in workers:
        _ready(worker)
    return started["a"].url, workers


@pytest.mark.slow
def test_jobs_ride_out_a_pooler_outage_and_a_postgres_restart(
    outage_cluster: tuple[Cluster, PgBouncer, str, Postgres], private_pg_url: str
) -> None:
    made, pooler, stalling, postgres = outage_cluster
    url, workers = _started(made, stalling)
    with httpx.Client(timeout=STEP_S) as http:
        _outage(http, url, private_pg_url, stalling, workers, "pooler", pooler.stop, pooler.start)
        _outage(
            http, url, private_pg_url, stalling, workers, "postgres", postgres.stop, postgres.start
        )
    assert _sql(private_pg_url, "SELECT count(*) FROM jobs WHERE status <> 'done'")[0][0] == 0


@pytest.mark.slow
def test_jobs_ride_out_a_postgres_restart_without_a_pooler(
    direct_cluster: tuple[Cluster, str, Postgres], private_pg_url: str
) -> None:
    made, stalling, postgres = direct_cluster
    url, workers = _started(made, stalling)
    with httpx.Client(timeout=STEP_S) as http:
        _outage(
            http, url, private_pg_url, stalling, workers, "direct", postgres.stop, postgres.start
        )
    assert _sql(private_pg_url, "SELECT count(*) FROM jobs WHERE status <> 'done'")[0][0] == 0
