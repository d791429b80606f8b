"""A connection flood: can a client with a key still get in?

    .venv/bin/python -m bench.bench_conn_flood                  # defaults below, a table
    .venv/bin/python -m bench.bench_conn_flood --seconds 10 --json

Starts `almanac serve` (authentication on, no sample, the default connection caps unless
`--max-connections` / `--per-client` say otherwise) on a free loopback port, creates a key,
then for `--seconds`:

- a flood process holds `--per-address` idle sockets from each of `--addresses` loopback
  addresses (127.0.0.2 ...; 11 x 100 = 1,100 against the default caps of 1,000 in all and
  100 per address), sending nothing, and reopens each one the moment the server closes it or
  answers it (a 503), from the same address: the probe's flood, at the fastest rate this
  machine can churn;
- a client with the key asks `GET /chats` (an authenticated route) on a new connection each
  time, from 127.0.0.1 and from 127.0.0.2 (a flooding address) in turn, one after another;
- a keyless client asks `GET /health` on a new connection each time, from 127.0.0.13.

Printed: per client, the requests served (200) of those attempted, every outcome, and the
latency p50 / p95 / p99 / max (connect to the whole answer); the flood's sockets opened,
closed without an answer, answered 503, reset; the server process's CPU-seconds during the
flood and its resident memory before and at its peak. Loopback only, bounded in time;
`ulimit -n` is raised to its hard limit (the server inherits it). Linux only (the loopback
addresses beyond 127.0.0.1, /proc). Nothing is asserted: the figures are the point
(docs/deployment.md, "Request heads and connections").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import multiprocessing
import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_chat import almanac_executable, log, pct, wait_ready  # noqa: E402
from bench.served import almanac_served  # noqa: E402

#: Linux: pick the source port at connect() (by the whole 4-tuple), not at bind().
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
KEYED_SOURCES = ("127.0.0.1", "127.0.0.2")
KEYLESS_SOURCE = "127.0.0.13"
#: Limits on one client request (its connect, then its whole answer).
CONNECT_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 10.0


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- the flood (a process of its own: its churn must not slow the clients' timing) ---------


def _open(selector: selectors.BaseSelector, port: int, source: str) -> bool:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", port))
        if code not in (0, errno.EINPROGRESS):
            raise OSError(code, os.strerror(code))
    except OSError:
        sock.close()
        return False
    selector.register(sock, selectors.EVENT_READ, source)
    return True


def flood(
    port: int, sources: list[str], per_address: int, stop: EventType, out: Any
) -> None:  # multiprocessing's Queue
    """Hold `per_address` sockets from each source, each reopened when the server closes or
    answers it, until `stop`; put the counts on `out`."""
    selector = selectors.DefaultSelector()
    counts: Counter[str] = Counter()
    for source in sources:
        for _ in range(per_address):
            counts["opened" if _open(selector, port, source) else "open failed"] += 1
    counts["held at first"] = len(selector.get_map())
    while not stop.is_set():
        for key, _ in selector.select(timeout=0.2):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]  # only sockets are registered
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                outcome = "reset"
            except OSError:
                outcome = "connect failed"
            else:
                if not data:
                    outcome = "closed without an answer"
                elif data.startswith(b"HTTP/1.1 503"):
                    outcome = "answered 503"
                else:
                    outcome = "answered " + data[9:12].decode(errors="replace")
            counts[outcome] += 1
            selector.unregister(sock)
            sock.close()
            counts["opened" if _open(selector, port, key.data) else "open failed"] += 1
    counts["held at the end"] = len(selector.get_map())
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]  # a socket, as registered
    out.put(dict(counts))


# --- the clients ----------------------------------------------------------------------------


def ask(port: int, source: str, request: bytes) -> tuple[str, float]:
    """`request` on a new connection from `source`: its outcome (the status, or what went
    wrong) and the seconds from connecting to the end of the answer."""
    started = time.perf_counter()
    try:
        with socket.create_connection(
            ("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S, source_address=(source, 0)
        ) as sock:
            sock.settimeout(ANSWER_TIMEOUT_S)
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    except TimeoutError:
        return "timeout", time.perf_counter() - started
    except ConnectionResetError:
        return "reset", time.perf_counter() - started
    except OSError as exc:
        return type(exc).__name__, time.perf_counter() - started
    elapsed = time.perf_counter() - started
    if not answer:
        return "closed without an answer", elapsed
    return answer[9:12].decode(errors="replace"), elapsed


def client(
    port: int, sources: tuple[str, ...], request: bytes, until: float, results: dict[str, Any]
) -> None:
    """Requests one after another, from `sources` in turn, until `until`."""
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    n = 0
    while time.monotonic() < until:
        outcome, seconds = ask(port, sources[n % len(sources)], request)
        outcomes[outcome] += 1
        if outcome == "200":
            latencies.append(seconds)
        n += 1
        time.sleep(0.02)
    results.update(attempted=n, outcomes=dict(outcomes), latencies=latencies)


# --- the server's cost --------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss_mib(self.pid))


# --- the run ----------------------------------------------------------------------------


def create_key(data_dir: Path) -> str:
    env = {**os.environ, "DATA_DIR": str(data_dir), "AUTH_ENABLED": "true", "LOG_LEVEL": "ERROR"}
    done = subprocess.run(
        [*almanac_executable(), "keys", "create", "--user", "bench", "--role", "user"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def latency(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {f"p{q}_ms": round(pct(values, q / 100) * 1000, 1) for q in (50, 95, 99)} | {
        "max_ms": round(max(values) * 1000, 1)
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = {"AUTH_ENABLED": "true", "LOAD_SAMPLE_DATA": "false", "ALLOWED_HOSTS": ""}
    if args.max_connections is not None:
        settings["MAX_CONNECTIONS"] = str(args.max_connections)
    if args.per_client is not None:
        settings["MAX_CONNECTIONS_PER_CLIENT"] = str(args.per_client)
    with almanac_served("almanac-bench-flood-", **settings) as served:

        async def ready() -> None:
            async with httpx.AsyncClient() as http:
                await wait_ready(http, served.child, f"{served.url}/health", 300)

        asyncio.run(ready())
        key = create_key(served.workdir / "data")
        port = int(served.url.rsplit(":", 1)[1])
        keyed = (
            f"GET /chats HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        keyless = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        assert ask(port, "127.0.0.1", keyed)[0] == "200", "the key is not accepted"

        rss_before = rss_mib(served.pid)
        cpu_before = cpu_seconds(served.pid)
        peak = PeakRss(served.pid)
        peak.start()
        stop = multiprocessing.Event()
        out: Any = multiprocessing.Queue()
        sources = [f"127.0.0.{2 + n}" for n in range(args.addresses)]
        flooder = multiprocessing.Process(
            target=flood, args=(port, sources, args.per_address, stop, out), daemon=True
        )
        started = time.monotonic()
        flooder.start()
        time.sleep(args.settle_s)  # the flood fills the caps first
        until = time.monotonic() + args.seconds
        keyed_results: dict[str, Any] = {}
        keyless_results: dict[str, Any] = {}
        threads = [
            threading.Thread(
                target=client, args=(port, KEYED_SOURCES, keyed, until, keyed_results)
            ),
            threading.Thread(
                target=client, args=(port, (KEYLESS_SOURCE,), keyless, until, keyless_results)
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        flood_counts = out.get(timeout=60)
        flooder.join(timeout=30)
        wall = time.monotonic() - started
        cpu = cpu_seconds(served.pid) - cpu_before
        peak.done.set()
        peak.join()

    return {
        "caps": {
            "max_connections": args.max_connections or 1000,
            "per_client": args.per_client or 100,
        },
        "flood": {"addresses": args.addresses, "per_address": args.per_address} | flood_counts,
        "seconds": args.seconds,
        "keyed": {
            "attempted": keyed_results["attempted"],
            "served": keyed_results["outcomes"].get("200", 0),
            "outcomes": keyed_results["outcomes"],
            "latency": latency(keyed_results["latencies"]),
        },
        "keyless_health": {
            "attempted": keyless_results["attempted"],
            "served": keyless_results["outcomes"].get("200", 0),
            "outcomes": keyless_results["outcomes"],
            "latency": latency(keyless_results["latencies"]),
        },
        "server": {
            "cpu_s": round(cpu, 1),
            "wall_s": round(wall, 1),
            "rss_before_mib": round(rss_before),
            "rss_peak_mib": round(max(peak.peak, rss_before)),
        },
        "cpus": os.cpu_count(),
    }


def print_report(report: dict[str, Any]) -> None:
    flood_ = report["flood"]
    print(
        f"flood: {flood_['per_address']} idle sockets x {flood_['addresses']} addresses, "
        f"reopened as closed, against caps {report['caps']}, {report['seconds']} s, "
        f"{report['cpus']} CPUs"
    )
    for name in ("keyed", "keyless_health"):
        row = report[name]
        cells = ", ".join(f"{k.removesuffix('_ms')} {v} ms" for k, v in row["latency"].items())
        print(f"  {name:<15} served {row['served']} of {row['attempted']}  {cells}")
        print(f"  {'':<15} outcomes {row['outcomes']}")
    counts = {k: v for k, v in flood_.items() if k not in ("addresses", "per_address")}
    print(f"  flood sockets   {counts}")
    server = report["server"]
    print(
        f"  server          {server['cpu_s']} CPU-s in {server['wall_s']} s, RSS "
        f"{server['rss_before_mib']} MiB before, {server['rss_peak_mib']} MiB at its peak"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=11)
    parser.add_argument("--per-address", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--settle-s", type=float, default=3)
    parser.add_argument("--max-connections", type=int, default=None)
    parser.add_argument("--per-client", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.addresses <= 11:
        parser.error("--addresses: 1 to 11 (127.0.0.2 to 127.0.0.12)")
    limit = raise_fd_limit()
    if limit < args.addresses * args.per_address + 200:
        log(f"bench_conn_flood: ulimit -n is {limit}: too few for the flood")
        return 2
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
