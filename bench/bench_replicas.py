"""API replicas and job workers on one PostgreSQL: turns per second, how fast a worker picks a
job up, what the idle processes cost the database, and what a `kill -9` loses.

    .venv/bin/python -m bench.bench_replicas                        # pgserver, 4 replicas
    .venv/bin/python -m bench.bench_replicas --replicas 2 --workers 2   # 2 API x 2 workers
    .venv/bin/python -m bench.bench_replicas --database-url postgresql://... --json

Starts a throw-away PostgreSQL (the `pgserver` package, as the tests do; or uses
`--database-url`, in which a fresh database is created and dropped), the fake OpenAI-compatible
model of `bench/bench_chat.py` (`--tokens` chunks `--interval-ms` apart, so a turn lasts about
a second whatever the CPU does) and `--replicas` `almanac serve` processes on free loopback
ports, all with the same DATABASE_URL; with `--workers M` (M > 0) the replicas are API-only
(`almanac serve --no-jobs`) and M `almanac worker` processes run the jobs. Then:

0. Idle: the database's committed transactions per second (`pg_stat_database.xact_commit`)
   over `--idle-s` seconds with nothing to do: what the workers' polling and every process's
   heartbeat cost (each statement is a transaction of its own).

1. Throughput: `--turns` chat turns (`POST /chat`, each on a new chat) by `--concurrency`
   concurrent clients spread round-robin over the first 1, 2 and 4 replicas: turns per second,
   and each turn's latency (p50, p95).
1b. Pick-up: `--pickups` small uploads, one after another, each a job: the time from its
   submission to a worker's claim (`started_at - created_at`, the database's clock).
2. Kill (unless `--no-kill`): an upload large enough to become a background ingestion job
   (sent to replica 0), and `--turns` concurrent turns over all replicas; `--kill-after`
   seconds in, the process that runs the job (a replica, or with workers a worker, when
   another worker can take the job over), else replica 1, is killed with SIGKILL. A turn
   refused at connect time went nowhere and is retried on the next live replica; a turn cut
   mid-way is counted as cut.
   Afterwards the benchmark waits for the job to finish on a surviving replica and for the
   abandoned turns to be marked `interrupted`, then checks the database: one user message and
   one assistant message per chat (no duplicates), every turn answered to the client stored
   `complete`, every cut turn either stored `interrupted` or not stored at all (the replica
   died before writing it), none left `streaming`, and the document visible once.

Progress goes to stderr; `--json` prints one JSON object. Exit code 0 when nothing was lost or
duplicated and the job finished, 1 otherwise, 2 when a server did not start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_chat import (  # noqa: E402
    Child,
    almanac_executable,
    fake_openai_command,
    free_port,
    log,
    spawn,
    wait_ready,
)
from services.postgres.database import with_database  # noqa: E402

MODEL = "openai:fake-model"
USER = "bench-replicas"
QUESTION = "How often do we have to rotate passwords?"
AGENT_TIMEOUT_S = 20


@contextlib.contextmanager
def database(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    """A fresh database on the given server or on a throw-away pgserver; dropped afterwards."""
    server = None
    if args.database_url:
        base = args.database_url
    else:
        import pgserver

        server = pgserver.get_server(workdir / "pgdata", cleanup_mode="stop")
        base = server.get_uri()
    name = f"almanac_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(base, name)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if server is not None:
            server.cleanup()


@contextlib.contextmanager
def processes(args: argparse.Namespace, workdir: Path, url: str) -> Iterator[list[Child]]:
    """The fake model first, then the replicas (children[1:]); all stopped on every way out."""
    children: list[Child] = []

    def start(name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = spawn(name, argv, env, workdir, workdir / f"{name}.log")
        child.url = ""  # type: ignore[attr-defined]  # set on the child after it starts
        children.append(child)
        return child

    try:
        fake_port = free_port()
        fake = start(
            "fake_openai",
            fake_openai_command(fake_port, args.tokens, args.interval_ms),
            {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
        )
        fake.url = f"http://127.0.0.1:{fake_port}"  # type: ignore[attr-defined]  # set on the child after it starts
        for index in range(args.replicas):
            port = free_port()
            env = {
                **os.environ,
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "DATABASE_URL": url,
                "DATA_DIR": str(workdir / f"data-{index}"),
                "LOAD_SAMPLE_DATA": "true",
                "OPENAI_API_KEY": "sk-bench",
                "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
                "DEFAULT_MODEL": MODEL,
                "ALLOWED_MODELS": MODEL,
                "LOG_LEVEL": "WARNING",
                "PROVIDER_MAX_RETRIES": "0",
                "AGENT_TIMEOUT": str(AGENT_TIMEOUT_S),
                "RATE_LIMIT_PER_MINUTE": "0",
                "UPLOAD_JOB_BYTES": "20000",
                "DATABASE_POOL_SIZE": "20",
                "DEFAULT_USER_ID": USER,
                "PYTHONUNBUFFERED": "1",
            }
            serve = ["serve", "--no-jobs"] if args.workers else ["serve"]
            child = start(f"replica-{index}", [*almanac_executable(), *serve], env)
            child.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]  # set on the child after it starts
        for index in range(args.workers):
            env = {**env, "DATA_DIR": str(workdir / f"worker-{index}"), "LOG_LEVEL": "INFO"}
            start(f"worker-{index}", [*almanac_executable(), "worker"], env)
        yield children
    finally:
        for child in reversed(children):
            child.stop()


async def turn(client: httpx.AsyncClient, replicas: list[Child], start: int) -> tuple[str, str]:
    """One turn on a new chat: ("ok", chat id), or ("cut", "") when the replica died mid-turn.
    A refused connection stored nothing, so the turn moves on to the next replica."""
    for offset in range(len(replicas)):
        child = replicas[(start + offset) % len(replicas)]
        try:
            response = await client.post(
                f"{child.url}/chat",  # type: ignore[attr-defined]  # set on the child after it starts
                json={"message": QUESTION},
                timeout=AGENT_TIMEOUT_S * 3,
            )
        except httpx.ConnectError:
            continue
        except httpx.TransportError as exc:  # the kind says why (a dead replica: ReadError)
            return f"cut:{type(exc).__name__}", ""
        if response.status_code != 200:
            return f"http_{response.status_code}", ""
        return "ok", str(response.json()["chat_id"])
    return "no_replica", ""


async def load(
    client: httpx.AsyncClient, replicas: list[Child], turns: int, concurrency: int
) -> dict[str, Any]:
    outcomes: list[str] = []
    answered: list[str] = []
    latencies: list[float] = []
    next_turn = 0

    async def worker() -> None:
        nonlocal next_turn
        while next_turn < turns:
            index = next_turn
            next_turn += 1
            began = time.perf_counter()
            outcome, chat_id = await turn(client, replicas, index)
            if outcome == "ok":
                latencies.append(time.perf_counter() - began)
            outcomes.append(outcome)
            if chat_id:
                answered.append(chat_id)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return {
        "turns": turns,
        "wall_s": round(wall, 2),
        "turns_per_s": round(turns / wall, 2),
        "p50_s": round(_percentile(latencies, 50), 3),
        "p95_s": round(_percentile(latencies, 95), 3),
        "outcomes": counts,
        "_answered": answered,
    }


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def idle_transactions_per_s(url: str, seconds: float) -> float:
    """Committed transactions per second in the database while nothing is asked of it (the
    counter is read from a session of its own, whose own reads are subtracted)."""
    query = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        before = conn.execute(query).fetchone()
        time.sleep(seconds)
        conn.execute("SELECT pg_stat_clear_snapshot()")
        after = conn.execute(query).fetchone()
    assert before is not None and after is not None
    return round((int(after[0]) - int(before[0]) - 2) / seconds, 1)


async def pickups(client: httpx.AsyncClient, replica: Any, url: str, count: int) -> dict[str, Any]:
    """Submit-to-claim times of `count` small upload jobs, one after another."""
    waits = []
    for number in range(count):
        body = f"# Pick-up note {number}\n\n" + f"Pick-up drill {number} notes. " * 1500
        response = await client.post(
            f"{replica.url}/api/documents",
            files={"file": (f"pickup-{number}.md", body.encode(), "text/markdown")},
            timeout=60,
        )
        if response.status_code != 202:
            raise RuntimeError(f"The pick-up upload was no job: {response.status_code}")
        job_id = response.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with psycopg.connect(url) as conn:
                row = conn.execute(
                    "SELECT extract(epoch FROM started_at - created_at), status FROM jobs "
                    "WHERE id = %s",
                    (job_id,),
                ).fetchone()
            if row is not None and row[0] is not None and row[1] in ("done", "failed"):
                waits.append(float(row[0]))
                break
            await asyncio.sleep(0.2)
    return {
        "jobs": count,
        "p50_s": round(_percentile(waits, 50), 3),
        "max_s": round(max(waits), 3) if waits else None,
    }


def big_document(sections: int) -> bytes:
    lines = ["# Replica benchmark handbook", "", "Updated: 2026-01-05", ""]
    for number in range(sections):
        lines += [
            f"## Procedure {number}",
            "",
            f"Step {number} of the replica drill: the on-call engineer checks dashboard "
            f"{number}, writes the result in ticket RB-{number:05d} and hands over to the next "
            "shift before the end of the working day. " * 3,
            "",
        ]
    return "\n".join(lines).encode()


def job_worker(url: str, job_id: str) -> str | None:
    """The worker (`host:pid:...`) running the job now, if any."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT worker, status FROM jobs WHERE id = %s", (job_id,)).fetchone()
    return row[0] if row is not None and row[1] == "running" else None


def job_attempts(url: str, job_id: str) -> int:
    """How many times a worker claimed the job (2 or more: it was taken over)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT attempts FROM jobs WHERE id = %s", (job_id,)).fetchone()
    return int(row[0]) if row else 0


def count_rows(url: str, answered: list[str]) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        by_status: dict[str, int] = dict(
            conn.execute(
                "SELECT m.role || '/' || m.status, count(*) FROM messages m "
                "JOIN chats c ON c.id = m.chat_id WHERE c.user_id = %s GROUP BY 1",
                (USER,),
            ).fetchall()
        )
        chats = conn.execute("SELECT count(*) FROM chats WHERE user_id = %s", (USER,)).fetchone()
        malformed = conn.execute(
            "SELECT count(*) FROM (SELECT c.id FROM chats c JOIN messages m ON m.chat_id = c.id "
            "WHERE c.user_id = %s GROUP BY c.id HAVING count(*) FILTER (WHERE m.role = 'user') "
            "<> 1 OR count(*) FILTER (WHERE m.role = 'assistant') <> 1) AS bad",
            (USER,),
        ).fetchone()
        answered_complete = conn.execute(
            "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'complete' "
            "AND chat_id = ANY(%s)",
            (answered,),
        ).fetchone()
        documents = conn.execute(
            "SELECT count(*) FROM documents WHERE title = %s", ("Replica benchmark handbook",)
        ).fetchone()
    return {
        "by_role_status": by_status,
        "chats": chats[0] if chats else 0,
        "chats_not_one_question_one_answer": malformed[0] if malformed else 0,
        "benchmark_documents": documents[0] if documents else 0,
        "answered_turns_stored_complete": answered_complete[0] if answered_complete else 0,
    }


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "replicas": args.replicas,
        "workers": args.workers,
        "turns": args.turns,
    }
    with database(args, workdir) as url, processes(args, workdir, url) as children:
        fake = children[0]
        replicas = [c for c in children[1:] if c.name.startswith("replica-")]
        workers = [c for c in children[1:] if c.name.startswith("worker-")]
        # Idle connections are dropped after 1 s, before uvicorn's 5 s keep-alive timeout: a
        # connection the server closes just as the client reuses it would count as a cut turn
        # that no kill caused.
        limits = httpx.Limits(max_connections=args.concurrency + 20, keepalive_expiry=1.0)
        async with httpx.AsyncClient(limits=limits) as client:
            await wait_ready(client, fake, f"{fake.url}/v1/models", 30)  # type: ignore[attr-defined]  # set on the child after it starts
            for child in replicas:
                await wait_ready(client, child, f"{child.url}/health", 180)  # type: ignore[attr-defined]  # set on the child after it starts
            for child in workers:
                while "worker ready" not in child.log_path.read_text(errors="replace"):
                    if child.process.poll() is not None:
                        raise RuntimeError(f"{child.name} exited: {child.tail()}")
                    await asyncio.sleep(0.2)
            log(f"{len(replicas)} replicas and {len(workers)} workers up on one PostgreSQL")
            await asyncio.sleep(3)  # the first start's work (sample load, warm-up) settles
            report["idle_transactions_per_s"] = await asyncio.to_thread(
                idle_transactions_per_s, url, args.idle_s
            )
            log(f"idle: {report['idle_transactions_per_s']} transactions/s")
            report["throughput"] = {}
            for workers in sorted({1, 2, args.replicas} & set(range(1, args.replicas + 1))):
                result = await load(client, replicas[:workers], args.turns, args.concurrency)
                result.pop("_answered")
                report["throughput"][str(workers)] = result
                log(f"{workers} replica(s): {result['turns_per_s']} turns/s {result['outcomes']}")
            if args.pickups:
                report["pickup"] = await pickups(client, replicas[0], url, args.pickups)
                log(f"submit to claim: {report['pickup']}")
            if args.no_kill:
                report["ok"] = True
                return report
            with psycopg.connect(url, autocommit=True) as conn:  # phase 2 counts from zero
                conn.execute("DELETE FROM chats WHERE user_id = %s", (USER,))

            upload = await client.post(
                f"{replicas[0].url}/api/documents",  # type: ignore[attr-defined]  # set on the child after it starts
                files={"file": ("replica-drill.md", big_document(args.sections), "text/markdown")},
                timeout=60,
            )
            job = upload.json()
            if upload.status_code != 202:
                raise RuntimeError(f"The upload did not become a job: {upload.status_code} {job}")
            log(f"ingestion job {job['id']} queued")
            chosen: list[tuple[Child, bool]] = []

            async def killer() -> None:
                """Kill the replica running the ingestion job (so the job must be taken over),
                `--kill-after` seconds into the turns; replica 1 if none has claimed it."""
                started = time.monotonic()
                victim, owner = replicas[1 % len(replicas)], []
                # With workers, killing the job's one worker would leave it to nobody.
                runners = workers if len(workers) > 1 else ([] if workers else replicas)
                while runners and time.monotonic() - started < args.kill_after + 20:
                    worker = job_worker(url, job["id"])
                    owner = [c for c in runners if worker and f":{c.process.pid}:" in worker]
                    if owner:
                        victim = owner[0]
                        break
                    await asyncio.sleep(0.2)
                await asyncio.sleep(max(0.0, args.kill_after - (time.monotonic() - started)))
                victim.process.send_signal(signal.SIGKILL)
                chosen.append((victim, bool(owner)))
                log(f"killed {victim.name} (pid {victim.process.pid}) with SIGKILL")

            kill_task = asyncio.create_task(killer())
            outcome = await load(client, replicas, args.turns, args.concurrency)
            await kill_task
            victim, ran_the_job = chosen[0]
            answered = outcome.pop("_answered")
            report["kill"] = {"victim": victim.name, "victim_ran_the_job": ran_the_job, **outcome}
            survivors = [c for c in replicas if c is not victim]
            deadline = time.monotonic() + args.job_timeout
            status = None
            while time.monotonic() < deadline:
                response = await client.get(f"{survivors[0].url}/api/jobs/{job['id']}", timeout=10)  # type: ignore[attr-defined]  # set on the child after it starts
                status = response.json().get("status")
                if status in ("done", "failed"):
                    break
                await asyncio.sleep(1)
            report["kill"]["job_status"] = status
            report["kill"]["job_attempts"] = job_attempts(url, job["id"])
            log(f"job {status}; waiting for abandoned turns to be marked interrupted")
            await asyncio.sleep(AGENT_TIMEOUT_S + args.sweep_wait)
            rows = count_rows(url, answered)
            report["kill"]["database"] = rows
    kill = report["kill"]
    ok_turns = kill["outcomes"].get("ok", 0)
    cut = sum(n for name, n in kill["outcomes"].items() if name.startswith("cut"))
    db = kill["database"]
    statuses = db["by_role_status"]
    # A cut turn is either stored and then marked interrupted, or was never stored (the replica
    # died before it wrote anything); a turn answered to the client must be stored complete.
    report["ok"] = (
        kill["job_status"] == "done"
        and db["benchmark_documents"] == 1
        and db["chats_not_one_question_one_answer"] == 0
        and db["answered_turns_stored_complete"] == ok_turns
        and statuses.get("assistant/streaming", 0) == 0
        and ok_turns <= db["chats"] <= ok_turns + cut
        and ok_turns + cut == args.turns
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="Job workers (`almanac worker`); with any, the replicas are `serve --no-jobs`.",
    )
    parser.add_argument("--idle-s", type=float, default=10.0, help="Idle measurement length.")
    parser.add_argument("--pickups", type=int, default=5, help="Jobs timed submit to claim.")
    parser.add_argument("--no-kill", action="store_true", help="Skip the kill phase.")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--interval-ms", type=int, default=50)
    parser.add_argument("--sections", type=int, default=1500, help="Size of the uploaded document.")
    parser.add_argument("--kill-after", type=float, default=1.5)
    parser.add_argument("--job-timeout", type=float, default=300)
    parser.add_argument(
        "--sweep-wait",
        type=float,
        default=100,
        help="Seconds past AGENT_TIMEOUT to wait for the sweep: its 60 s margin plus one "
        "30 s interval, and some slack.",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="almanac-replicas-") as tmp:
        try:
            report = asyncio.run(run(args, Path(tmp)))
        except RuntimeError as exc:
            log(str(exc))
            return 2
    print(json.dumps(report, indent=None if args.json else 2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
