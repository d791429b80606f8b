"""Riding out a database pooler outage: jobs finished, retried, taken over, and how soon
requests succeed again once the pooler is back.

    .venv/bin/python -m bench.bench_outage                      # outages of 10 s and 45 s
    .venv/bin/python -m bench.bench_outage --outages 10,45,180  # and 3 minutes
    .venv/bin/python -m bench.bench_outage --json

Starts what tests/e2e/test_outages.py starts, with the production defaults for leases and
timeouts (JOB_LEASE_SECONDS=30, PROCESS_HEARTBEAT_SECONDS=5, PROCESS_TIMEOUT_SECONDS=30,
DATABASE_POOL_TIMEOUT_SECONDS=30, JOB_OUTAGE_BUDGET_SECONDS=600): a throw-away PostgreSQL
(pgserver), a transaction-mode PgBouncer (the system's `pgbouncer`), the fake
OpenAI-compatible provider (bench/fake_openai.py), one `almanac serve --no-jobs` and two
`almanac worker` processes. For each outage length: `--jobs` uploads, the first two held at
their embeddings request (one on each worker); PgBouncer is stopped, the held requests let
go (the jobs go on to write and meet the outage), PgBouncer is started again after the
outage; then it reports

- `first_ok_s`: seconds from the pooler's return to the first `GET /api/documents` that
  answers 200 (polled every 0.2 s);
- `finished`, `failed`: the jobs' end states; `retried`: jobs that logged waiting for the
  database; `taken_over`: jobs claimed more than once (`attempts > 1`);
- `stored_once`: every job's document is stored exactly once.

Loopback only; each process's log stays in the work directory printed at the start.
Exit code 0 when every job finished once, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_replicas import (
    STALL_WORD,
    Cluster,
    _control,
    _document,
    _documents_titled,
    _holder,
    _ready,
    _upload,
    cluster_env,
)
from tests.fake_openai_server import fake_openai
from tests.pgbouncer import pgbouncer_process

#: The production defaults, written out so that the cluster's short test settings are undone.
PRODUCTION = {
    "JOB_LEASE_SECONDS": "30",
    "PROCESS_HEARTBEAT_SECONDS": "5",
    "PROCESS_TIMEOUT_SECONDS": "30",
    "DATABASE_POOL_TIMEOUT_SECONDS": "30",
    "JOB_OUTAGE_BUDGET_SECONDS": "600",
}
#: The most a run waits for its jobs to end after the outage.
SETTLE_S = 900.0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _wait(what: str, check: Any, within_s: float) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"{what}: not within {within_s:.0f} s")


def _status(http: httpx.Client, url: str, job_id: str) -> str | None:
    with contextlib.suppress(httpx.HTTPError):
        response = http.get(f"{url}/api/jobs/{job_id}")
        if response.status_code == 200:
            return str(response.json()["status"])
    return None


def one_outage(
    http: httpx.Client,
    url: str,
    database: str,
    stalling: str,
    cluster: Cluster,
    pooler: Any,
    outage_s: float,
    jobs: int,
) -> dict[str, Any]:
    name = f"out{int(outage_s)}"
    _control(stalling, "stall")
    titles = [f"{name} handbook {n}" for n in range(jobs)]
    job_ids = [
        _upload(http, url, f"{name}-{n}.md", _document(title, f"{name}w{n}", stall=True))
        for n, title in enumerate(titles)
    ]
    _wait("both workers hold a job", lambda: _control(stalling, "stalled") >= 2, 120)
    logs_before = [len(w.output()) for w in cluster.workers]
    _log(f"{outage_s:g} s outage: stopping PgBouncer")
    pooler.stop()
    stopped_at = time.monotonic()
    _control(stalling, "release")
    time.sleep(max(0.0, outage_s - (time.monotonic() - stopped_at)))
    pooler.start()
    back_at = time.monotonic()
    _log("PgBouncer is back")

    def answers() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return http.get(f"{url}/api/documents", timeout=60).status_code == 200
        return False

    _wait("a request succeeds", answers, SETTLE_S)
    first_ok_s = time.monotonic() - back_at
    _wait(
        "every job ends",
        lambda: all(_status(http, url, j) in ("done", "failed") for j in job_ids),
        SETTLE_S,
    )
    ended_s = time.monotonic() - back_at
    statuses = [_status(http, url, j) for j in job_ids]
    attempts = [_holder(database, j)[2] for j in job_ids]
    logs = "".join(
        w.output()[start:] for w, start in zip(cluster.workers, logs_before, strict=True)
    )
    retried = sum(1 for j in job_ids if f"Job {j} (ingest_upload) waits for the database" in logs)
    return {
        "outage_s": outage_s,
        "jobs": jobs,
        "finished": statuses.count("done"),
        "failed": statuses.count("failed"),
        "retried": retried,
        "taken_over": sum(1 for a in attempts if a > 1),
        "stored_once": all(_documents_titled(database, t) == 1 for t in titles),
        "first_ok_s": round(first_ok_s, 1),
        "jobs_ended_s": round(ended_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outages", default="10,45", help="outage lengths, seconds")
    parser.add_argument("--jobs", type=int, default=4, help="uploads per outage (at least 2)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    outages = [float(part) for part in args.outages.split(",") if part.strip()]
    import pgserver  # a dev dependency, as for the tests

    results = []
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-outage-")))
        _log(f"work directory: {work}")
        server = pgserver.get_server(work / "pgdata", cleanup_mode="stop")
        stack.callback(server.cleanup)
        database = server.get_uri()
        import psycopg

        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        pooler = stack.enter_context(pgbouncer_process(database))
        stalling = stack.enter_context(fake_openai("--stall-embeddings", STALL_WORD))
        cluster = Cluster(work, cluster_env(pooler.url, **PRODUCTION))
        stack.callback(cluster.close)
        started: dict[str, Any] = {}
        replica = threading.Thread(
            target=lambda: started.setdefault("a", cluster.replica("a", stalling))
        )
        replica.start()
        workers = [cluster.worker(name, stalling) for name in ("w1", "w2")]
        replica.join()
        for worker in workers:
            _ready(worker)
        with httpx.Client(timeout=60) as http:
            for outage_s in outages:
                result = one_outage(
                    http, started["a"].url, database, stalling, cluster, pooler, outage_s, args.jobs
                )
                results.append(result)
                _log(json.dumps(result))
    if args.json:
        print(json.dumps({"outages": results}))
    else:
        print("outage_s  jobs  finished  failed  retried  taken_over  stored_once  first_ok_s")
        for r in results:
            print(
                f"{r['outage_s']:>8g}  {r['jobs']:>4}  {r['finished']:>8}  {r['failed']:>6}  "
                f"{r['retried']:>7}  {r['taken_over']:>10}  {r['stored_once']!s:>11}  "
                f"{r['first_ok_s']:>10}"
            )
    good = all(
        r["finished"] == r["jobs"] and r["taken_over"] == 0 and r["stored_once"] for r in results
    )
    return 0 if good else 1


if __name__ == "__main__":
    raise SystemExit(main())
