"""Past one machine: two API replicas (`almanac serve --no-jobs`) and job workers
(`almanac worker`), every one of them connected through PgBouncer in transaction mode
(tests/pgbouncer.py), on one PostgreSQL database. Real processes, real sockets, loopback only.

- The two replicas start at the same moment through the pooler: the migrations run once
  (transaction-scoped advisory locks; no server-side prepared statements).
- An upload through replica A is a job a worker runs; once it is `done` it is found by a
  search on replica B.
- A worker stopped with SIGSTOP past its lease loses its job to the other worker; resumed, it
  stops the job without storing it (the job's lease fences its write), and the document is
  stored once.
- `pg_terminate_backend` on a worker's sessions (behind the pooler: each server session
  while it carries the worker's name) while it is mid-ingest takes nothing from it: its
  liveness is a heartbeat row, not a session; the job is not taken over nor run twice.
- A worker killed with -9 mid-ingest has its job taken over and finished by the other.
- The per-user attachment cap holds across the replicas: a file in flight on A counts
  against one sent to B.
- The conflict scan asked for on both replicas is one job, run by a worker; both replicas
  then answer its stored report.

The ingests stop at a known place, whatever the machine's speed: the workers' and replicas'
embeddings come from `bench/fake_openai.py`, which holds any embeddings request for a text with
STALL_WORD until the test releases it (`/control/release`). Worker W2 has a fake of its own
that never stalls. Short leases and heartbeats (JOB_LEASE_SECONDS, PROCESS_*_SECONDS) keep
the take-overs within seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.almanac_serve import ServeChild, start_almanac_serve
from tests.fake_openai_server import fake_openai
from tests.pgbouncer import pgbouncer

ALMANAC = str(Path(sys.executable).parent / "almanac")
STALL_WORD = "stallingword"
MODEL = "openai:fake-model"
START_S = 120.0
STEP_S = 60.0
#: The attachment cap per user (bytes in flight, summed over the replicas).
USER_BYTES = 3000


def _until(what: str, check: Callable[[], Any], within_s: float = STEP_S) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within_s:.0f} s")
        time.sleep(0.05)


def _document(title: str, word: str, *, stall: bool = False) -> bytes:
    """A small Markdown document whose one paragraph holds `word` (and STALL_WORD)."""
    body = f"The {word} procedure is reviewed every quarter by the records office."
    if stall:
        body += f" {STALL_WORD}."
    return f"# {title}\n\n{body}\n".encode()


@dataclass
class Worker:
    """`almanac worker` as a child process, its output in `log`."""

    process: subprocess.Popen[Any]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


class Cluster:
    """The processes of one test, each with its own data directory (as on other machines)."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.workers: list[Worker] = []
        self.replicas: list[ServeChild] = []

    def _env(self, name: str, fake: str) -> dict[str, str]:
        data_dir = self.tmp_path / name
        data_dir.mkdir()
        return {**self.env, "DATA_DIR": str(data_dir), "OPENAI_BASE_URL": fake}

    def replica(self, name: str, fake: str) -> ServeChild:
        child = start_almanac_serve(
            [ALMANAC, "serve", "--no-jobs"],
            env=self._env(name, fake),
            cwd=self.tmp_path,
            log=self.tmp_path / f"{name}.log",
            within_s=START_S,
        )
        self.replicas.append(child)
        return child

    def worker(self, name: str, fake: str) -> Worker:
        log = self.tmp_path / f"{name}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [ALMANAC, "worker"],
                cwd=self.tmp_path,
                env=self._env(name, fake),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        made = Worker(process, log)
        self.workers.append(made)
        return made

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        for replica in self.replicas:
            replica.stop()


def _ready(worker: Worker) -> None:
    def ready() -> bool:
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited:\n{worker.output()[-3000:]}")
        return "worker ready" in worker.output()

    _until("the worker is ready", ready, START_S)


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str) -> Iterator[tuple[Cluster, str, str]]:
    with contextlib.ExitStack() as stack:
        pooled = stack.enter_context(pgbouncer(pg_url))
        stalling = stack.enter_context(fake_openai("--stall-embeddings", STALL_WORD))
        plain = stack.enter_context(fake_openai())
        made = Cluster(tmp_path, cluster_env(pooled))
        stack.callback(made.close)
        yield made, stalling, plain


def cluster_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a cluster's processes on `database_url` (through PgBouncer):
    short leases and heartbeats, fake model and embeddings, every upload a job."""
    return {
        **{k: v for k, v in os.environ.items() if k != "SENTENCE_VECTORS_DB"},
        "HOST": "127.0.0.1",
        "DATABASE_URL": database_url,
        "DATABASE_POOL_SIZE": "4",
        "DATABASE_POOLED": "true",
        "LOAD_SAMPLE_DATA": "false",
        "LOG_LEVEL": "INFO",
        "OPENAI_API_KEY": "sk-test",
        "DEFAULT_MODEL": MODEL,
        "ALLOWED_MODELS": MODEL,
        "PROVIDER_MAX_RETRIES": "0",
        "PROVIDER_TIMEOUT": "600",  # a held embeddings request waits for the test
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_MODEL": "fake-embedding",
        "RERANKER_ENABLED": "false",
        "ANSWER_PROCESSES": "false",
        "UPLOAD_JOB_BYTES": "10",  # every upload is a job
        "JOB_LEASE_SECONDS": "3",
        "PROCESS_HEARTBEAT_SECONDS": "0.5",
        "PROCESS_TIMEOUT_SECONDS": "2.5",
        "CHAT_FILE_USER_IN_FLIGHT_BYTES": str(USER_BYTES),
        "CHAT_FILE_USER_CONCURRENCY": "4",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def _control(fake: str, action: str) -> Any:
    base = fake.removesuffix("/v1")
    if action == "stalled":
        return httpx.get(f"{base}/control/stalled", timeout=10).json()["stalled"]
    return httpx.post(f"{base}/control/{action}", timeout=10).json()


def _sql(pg_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _job(http: httpx.Client, url: str, job_id: str) -> dict[str, Any]:
    response = http.get(f"{url}/api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _finished(http: httpx.Client, url: str, job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job = _job(http, url, job_id)
        return job if job["status"] in ("done", "failed") else None

    job = _until(f"job {job_id} ends", ended)
    assert job["status"] == "done", job
    return job


def _upload(http: httpx.Client, url: str, name: str, data: bytes) -> str:
    response = http.post(f"{url}/api/documents", files={"file": (name, data, "text/markdown")})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _note(size: int, *, stall: bool = False) -> bytes:
    """A Markdown note of `size` bytes (held in its embedding with `stall`)."""
    text = "# Notes\n\nThe beehives are inspected on Thursdays"
    text += f" {STALL_WORD}.\n" if stall else ".\n"
    return (text + "x" * (size - len(text) - 1) + "\n").encode()


def _chat(pg_url: str, user_id: str) -> str:
    """A chat of `user_id`'s, made in the database as the replicas would."""
    from services.chat.history_store import HistoryStore
    from services.postgres import PgDatabase

    database = PgDatabase(pg_url, max_size=1)
    try:
        store = HistoryStore(database)
        store.ensure_user(user_id)
        return store.get_or_create_chat(None, user_id, "Notes").id
    finally:
        database.close()


def _holder(pg_url: str, job_id: str) -> tuple[str | None, int, int, str]:
    rows = _sql(pg_url, "SELECT worker, lease, attempts, status FROM jobs WHERE id = %s", job_id)
    assert rows, job_id
    worker, lease, attempts, status = rows[0]
    return worker, int(lease), int(attempts), str(status)


def _documents_titled(pg_url: str, title: str) -> int:
    return int(_sql(pg_url, "SELECT count(*) FROM documents WHERE title = %s", title)[0][0])


def _stalled_on(fake: str) -> None:
    _until("an embeddings request is held by the fake", lambda: _control(fake, "stalled") >= 1)


@pytest.mark.slow
def test_api_replicas_and_workers_behind_a_transaction_pooler(
    cluster: tuple[Cluster, str, str], pg_url: str
) -> None:
    made, stalling, plain = cluster
    started: dict[str, ServeChild] = {}

    def start(name: str) -> None:
        started[name] = made.replica(name, stalling)

    # Both replicas at the same moment, through the pooler: the migrations run once.
    threads = [threading.Thread(target=start, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    w1 = made.worker("w1", stalling)
    w2 = made.worker("w2", plain)
    for thread in threads:
        thread.join()
    assert set(started) == {"a", "b"}, "both replicas serve"
    a, b = started["a"].url, started["b"].url
    _ready(w1)
    _ready(w2)
    names = [row[0] for row in _sql(pg_url, "SELECT name FROM schema_migrations")]
    assert len(names) == len(set(names)) > 0

    with httpx.Client(timeout=30) as http:
        # 1. An upload through A, run by a worker, is searchable on B once it is done.
        job_id = _upload(http, a, "first.md", _document("First handbook", "zebracrossing"))
        _finished(http, a, job_id)
        hits = http.get(f"{b}/api/search", params={"q": "zebracrossing procedure"}).json()
        assert [hit["source"] for hit in hits["hits"]][:1] == ["first.md"], hits

        # 2. W1 holds a job (W2 frozen meanwhile), then is frozen past its lease: W2 takes
        # the job over and stores the document; W1, resumed, stores nothing.
        w2.signal(signal.SIGSTOP)
        job_id = _upload(
            http, a, "second.md", _document("Second handbook", "quartermaster", stall=True)
        )
        _stalled_on(stalling)
        first_holder, first_lease, _, _ = _holder(pg_url, job_id)
        w1.signal(signal.SIGSTOP)
        w2.signal(signal.SIGCONT)
        job = _finished(http, b, job_id)
        holder = _holder(pg_url, job_id)
        assert holder[2] == 2, "taken over once"
        w1.signal(signal.SIGCONT)
        _control(stalling, "release")  # W1's held embeddings come back now
        _until(
            "W1 stops the job it lost",
            lambda: f"Job {job_id} was taken over" in w1.output(),
        )
        assert w1.process.poll() is None, w1.output()[-3000:]
        assert first_holder is not None and first_lease == 1
        assert _documents_titled(pg_url, "Second handbook") == 1
        assert job["result"]["status"] == "added", job

        # 3. Every session of W1 terminated mid-ingest: nothing is taken from it.
        _control(stalling, "stall")
        w2.signal(signal.SIGSTOP)
        job_id = _upload(http, a, "third.md", _document("Third handbook", "lighthouse", stall=True))
        _stalled_on(stalling)
        w2.signal(signal.SIGCONT)
        w1_id, _, _, _ = _holder(pg_url, job_id)
        assert w1_id is not None
        # Behind the pooler a server session carries the name of the client it last served:
        # W1's are terminated as they show up, for a few of its heartbeats.
        terminated = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            terminated += len(
                _sql(
                    pg_url,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND pid <> pg_backend_pid()",
                    w1_id,
                )
            )
            time.sleep(0.1)
        assert terminated, "W1's sessions were terminated"
        time.sleep(3 * 2.5)  # several times what it takes to see a dead process
        assert _holder(pg_url, job_id)[:3] == (w1_id, 1, 1), "still W1's, never taken over"
        _control(stalling, "release")
        job = _finished(http, a, job_id)
        assert _holder(pg_url, job_id)[2] == 1
        assert _documents_titled(pg_url, "Third handbook") == 1

        # 4. W1 killed with -9 mid-ingest: W2 takes its job over and finishes it.
        _control(stalling, "stall")
        w2.signal(signal.SIGSTOP)
        job_id = _upload(http, a, "fourth.md", _document("Fourth handbook", "windmill", stall=True))
        _stalled_on(stalling)
        w1.signal(signal.SIGKILL)
        w1.process.wait(timeout=30)
        w2.signal(signal.SIGCONT)
        job = _finished(http, b, job_id)
        assert _holder(pg_url, job_id)[2] == 2
        assert _documents_titled(pg_url, "Fourth handbook") == 1
        _control(stalling, "release")

        # Nothing of the stopped runs is left staged.
        assert _sql(pg_url, "SELECT count(*) FROM documents")[0][0] == 4
        assert _sql(pg_url, "SELECT count(*) FROM staged_sections")[0][0] == 0
        hits = http.get(f"{a}/api/search", params={"q": "windmill procedure"}).json()
        assert [hit["source"] for hit in hits["hits"]][:1] == ["fourth.md"], hits

        # 5. The attachment cap per user holds in total: a file held on A counts on B.
        chat_id = _chat(pg_url, "default")  # AUTH_ENABLED=false: everyone is `default`
        _control(stalling, "stall")
        files = f"/api/conversations/{chat_id}/files"
        held: dict[str, httpx.Response] = {}

        def attach_held() -> None:
            with httpx.Client(timeout=STEP_S) as other:
                held["a"] = other.post(
                    f"{a}{files}", files={"file": ("held.md", _note(2000, stall=True))}
                )

        attaching = threading.Thread(target=attach_held)
        attaching.start()
        _stalled_on(stalling)
        refused = http.post(f"{b}{files}", files={"file": ("big.md", _note(1500))})
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "too_much_in_flight"
        assert "CHAT_FILE_USER_IN_FLIGHT_BYTES" in refused.json()["detail"]
        fits = http.post(f"{b}{files}", files={"file": ("small.md", _note(500))})
        assert fits.status_code == 201, fits.text
        _control(stalling, "release")
        attaching.join(STEP_S)
        assert held["a"].status_code == 201, held["a"].text

        # 6. The conflict scan is one job for the cluster, its report the same on A and B.
        asked = [http.get(f"{url}/api/documents/conflicts").json() for url in (a, b)]
        assert [listing["status"] for listing in asked] == ["scanning", "scanning"]

        def current(url: str) -> dict[str, Any] | None:
            listing = http.get(f"{url}/api/documents/conflicts").json()
            return listing if listing["status"] == "current" else None

        on_a = _until("the scan's report is current on A", lambda: current(a))
        assert current(b) == on_a
        scans = "SELECT count(*) FROM jobs WHERE kind = 'conflict_scan'"
        assert _sql(pg_url, scans)[0][0] == 1
