"""What a small hostile input costs the server, per route that reads one.

    .venv/bin/python -m bench.bench_hostile_inputs [--skip-uploads] [--skip TEXT ...]
        [--long-chat-messages N] [--json]

Starts `almanac serve` (auth off, a fresh data directory with the sample) and sends each
input of the hostile corpus (`tests/hostile_inputs.py`: decompression bombs, malformed and
broken ZIPs, deeply nested JSON, fan-out, deep and metadata-bomb PDFs, YAML aliases, sparse
workbooks (a cell at XFD1, an .ods's repeated blanks), share pages with unclosed scripts,
nested cookies; and one big legitimate list) to every route that reads it; then syncs a
folder source holding a link to a file outside it (its row's code is the sync's summary:
`0 added ... 1 failed` when the link is refused); then imports one
long chat and reads its messages; then request heads, sent with no key before any route
reads them (a 64 MiB header line; `--header-connections` connections each sending
`--header-mib` MiB of a header that never ends, held open while `/health` is timed from
another address; one head trickled a byte at a time). For each request it prints the
status (an export import's is its job's final one), the wall time, and what the server's
whole process tree cost: the rise of its resident memory at its peak (the server, its fork
server and every parse child, sampled every 20 ms) and the CPU all of them used, and the
chunks a stored document or attached file made. Then the
worst case per route. Linux only. Nothing is asserted: the figures are the point
(docs/notes/benchmarks.md).
`--header-connections 20` measures a build without head limits at a tenth of the default
(200 x 32 MiB would take such a server ~7 GB).
`--request-timeout` is how long the client waits for one answer (120 s).
`--skip` leaves out the inputs whose name contains a text (to measure a build that an input
would kill, e.g. `--skip "depth 100,000"`), `--only` keeps only those (`--only "long chat"`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_chat import Child, log, wait_ready  # noqa: E402
from bench.served import almanac_served  # noqa: E402
from tests import hostile_inputs  # noqa: E402
from tests.share_pages import share_page_server  # noqa: E402

MiB = 1024 * 1024
#: Seconds between two samples of the server's process tree.
SAMPLE_S = 0.02
#: Seconds an export import's job may take before the benchmark stops waiting for it.
JOB_WAIT_S = 300.0

Make = Callable[[], bytes]

EXPORTS: dict[str, Make] = {
    "zip bomb of {} (96 MiB)": hostile_inputs.zip_bomb,
    "zip bomb of conversations (40 MiB)": lambda: hostile_inputs.empty_conversation_bomb(40 * MiB),
    "one huge conversation (32 MiB)": hostile_inputs.nested_item_bomb,
    **{f"{kind} zip": make for kind, (make, _) in hostile_inputs.MALFORMED_ZIPS.items()},
    "nested arrays, depth 20,000 (JSON)": lambda: hostile_inputs.deep_json(20_000),
    "nested arrays, depth 20,000 (zip)": lambda: hostile_inputs.deep_export_zip(20_000),
    "nested arrays, depth 100,000 (JSON)": lambda: hostile_inputs.deep_json(100_000),
}
PDFS: dict[str, Make] = {
    "fan-out PDF (40 pages x 0.5 MiB)": hostile_inputs.fan_out_pdf,
    "deep PDF (5,000 levels)": hostile_inputs.deep_pdf,
    "inline-image PDF (40 pages x 64 MiB)": hostile_inputs.inline_image_pdf,
    "Type 3 PDF (32 MiB glyph)": hostile_inputs.type3_pdf,
    "metadata-bomb PDF (3 GiB /Metadata)": lambda: hostile_inputs.metadata_bomb_pdf(3 * 1024 * MiB),
}
MARKDOWN: dict[str, Make] = {
    "YAML aliases (500 x 1 MiB)": lambda: hostile_inputs.yaml_alias_markdown(MiB, 500),
}
#: Legitimate but big: what it costs is what its size says (admin uploads only).
LISTS: dict[str, Make] = {
    "Markdown list of 100,000 items (1.29 MB)": lambda: (
        "# Inventory\n\n" + "".join(f"- item {n:05}\n" for n in range(100_000))
    ).encode(),
}
#: Workbooks whose sheets a reader taking a sheet's extent from its farthest cell (or
#: expanding repeated blanks) reads 16,384 columns wide.
XLSX: dict[str, Make] = {
    "xlsx, a number at XFD1 over 5 rows": hostile_inputs.far_cell_xlsx,
    "xlsx, a number at XFD1, 3 sheets": lambda: hostile_inputs.far_cell_xlsx(sheets=3),
}
ODS: dict[str, Make] = {
    "ods, blanks repeated to XFD, 5 rows": hostile_inputs.blank_repeat_ods,
    "ods, the same and 1,000 blank rows": lambda: hostile_inputs.blank_repeat_ods(gap_rows=1_000),
    "ods, a number repeated 1,000 x 1,000": hostile_inputs.repeated_value_ods,
}
TABLES: dict[str, Make] = {
    "JSONL line nested 30,000 deep": lambda: hostile_inputs.deep_jsonl(30_000),
}
#: Share pages, by their path on `tests/share_pages.share_page_server`.
SHARE_PAGES: dict[str, str] = {
    "unclosed <script> tags (160 KB)": "/unclosed-scripts/160000",
}


@dataclass
class TreeCost:
    """What the server's process tree used while one request ran."""

    baseline_rss: int = 0
    peak_rss: int = 0
    cpu_start: dict[int, float] = field(default_factory=dict)
    cpu_last: dict[int, float] = field(default_factory=dict)

    @property
    def peak_rise_mb(self) -> float:
        return round(max(0, self.peak_rss - self.baseline_rss) / MiB, 1)

    @property
    def cpu_s(self) -> float:
        used = sum(last - self.cpu_start.get(pid, 0.0) for pid, last in self.cpu_last.items())
        return round(max(0.0, used), 2)


def _sample(root: psutil.Process, cost: TreeCost, *, first: bool = False) -> None:
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    rss = 0
    for process in processes:
        try:
            with process.oneshot():
                rss += process.memory_info().rss
                times = process.cpu_times()
        except psutil.Error:
            continue
        cpu = times.user + times.system
        if first:
            cost.cpu_start[process.pid] = cpu
        cost.cpu_last[process.pid] = cpu  # a child born during the request started at 0
    if first:
        cost.baseline_rss = rss
    cost.peak_rss = max(cost.peak_rss, rss)


@contextmanager
def tree_cost(pid: int) -> Iterator[TreeCost]:
    """Samples the tree below `pid` every `SAMPLE_S` while the block runs."""
    root = psutil.Process(pid)
    cost = TreeCost()
    _sample(root, cost, first=True)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_S):
            _sample(root, cost)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield cost
    finally:
        time.sleep(0.2)  # the last allocations of the request show
        done.set()
        sampler.join()
        _sample(root, cost)


def measure(pid: int, send: Callable[[], httpx.Response]) -> dict[str, Any]:
    started = time.monotonic()
    with tree_cost(pid) as cost:
        try:
            response = send()
        except httpx.TimeoutException:  # still reading when the client gave up: say so
            response = httpx.Response(599, json={"code": "client timed out"})
        except httpx.TransportError as exc:  # the server died or dropped the connection
            response = httpx.Response(598, json={"code": f"connection lost ({exc})"})
        wall = time.monotonic() - started
    return {
        "status": response.status_code,
        "code": _code(response),
        "wall_s": round(wall, 2),
        "peak_rise_mb": cost.peak_rise_mb,
        "tree_cpu_s": cost.cpu_s,
        "chunks": _chunks(response),
    }


def _chunks(response: httpx.Response) -> int | None:
    """The chunks a stored document (`chunks`) or attached file (`chunk_count`) made."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    found = body.get("chunk_count", body.get("chunks"))
    return found if isinstance(found, int) else None


def _code(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").endswith("json"):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _job_outcome(http: httpx.Client, response: httpx.Response) -> httpx.Response:
    """An accepted export import's job, waited for: its final state as the response."""
    if response.status_code != 202:
        return response
    location = response.headers["location"]
    deadline = time.monotonic() + JOB_WAIT_S
    while time.monotonic() < deadline:
        job = http.get(location).json()
        if job["status"] in ("done", "failed"):
            error = job.get("error") or {}
            status = error.get("status", 200) if job["status"] == "failed" else 200
            return httpx.Response(status, json={"code": error.get("code") or job["status"]})
        time.sleep(0.1)
    return httpx.Response(599, json={"code": "job still running"})


def _row(route: str, name: str, size: int, pid: int, send: Callable[[], httpx.Response]):
    row = {"route": route, "input": name, "bytes": size, **measure(pid, send)}
    log(json.dumps(row))
    return row


def run(
    url: str,
    pid: int,
    pages_url: str,
    *,
    skip_uploads: bool,
    skip: list[str],
    only: list[str],
    long_chat_messages: int,
    header_connections: int = 200,
    header_mib: int = 32,
    request_timeout: float = 120,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def wanted(inputs: dict[str, Make]) -> dict[str, Make]:
        return {name: make for name, make in inputs.items() if chosen(name)}

    def chosen(name: str) -> bool:
        return not any(s in name for s in skip) and (not only or any(o in name for o in only))

    with httpx.Client(base_url=url, timeout=request_timeout) as http:
        chat = http.post("/chat", json={"message": "What is the minimum password length?"})
        chat_id = chat.json()["chat_id"]
        uploads: list[tuple[str, str, dict[str, Make], str]] = [
            (
                "POST /api/conversations/import/file",
                "/api/conversations/import/file",
                EXPORTS,
                "export.zip",
            ),
            (
                "POST /api/conversations/{id}/files",
                f"/api/conversations/{chat_id}/files",
                PDFS,
                "x.pdf",
            ),
            (
                "POST /api/conversations/{id}/files",
                f"/api/conversations/{chat_id}/files",
                MARKDOWN,
                "x.md",
            ),
            (
                "POST /api/conversations/{id}/files",
                f"/api/conversations/{chat_id}/files",
                XLSX,
                "x.xlsx",
            ),
            (
                "POST /api/conversations/{id}/files",
                f"/api/conversations/{chat_id}/files",
                ODS,
                "x.ods",
            ),
            ("POST /api/tables", "/api/tables", TABLES, "deep.jsonl"),
        ]
        if not skip_uploads:
            uploads += [
                ("POST /api/documents", "/api/documents", PDFS, "hostile.pdf"),
                ("POST /api/documents", "/api/documents", MARKDOWN, "hostile.md"),
                ("POST /api/documents", "/api/documents", LISTS, "inventory.md"),
                ("POST /api/documents", "/api/documents", XLSX, "sheet.xlsx"),
                ("POST /api/documents", "/api/documents", ODS, "calc.ods"),
            ]
        for route, path, inputs, filename in uploads:
            for number, (name, make) in enumerate(wanted(inputs).items()):
                data = make()
                sent_as = filename
                if filename == "export.zip" and not data.startswith(b"PK"):
                    sent_as = "conversations.json"  # a JSON export, not in a ZIP
                if path == "/api/documents" and number:
                    sent_as = f"{number}-{filename}"  # a stored one's name is taken
                extra = {"name": "deep"} if path == "/api/tables" else None

                def send(
                    path: str = path,
                    data: bytes = data,
                    sent_as: str = sent_as,
                    extra: dict[str, str] | None = extra,
                ) -> httpx.Response:
                    answer = http.post(path, files={"file": (sent_as, data)}, data=extra)
                    return _job_outcome(http, answer)

                rows.append(_row(route, name, len(data), pid, send))
        for name, page_path in SHARE_PAGES.items():
            if not chosen(name):
                continue
            size = int(page_path.rsplit("/", 1)[1])

            def send_page(page_path: str = page_path) -> httpx.Response:
                url = pages_url + page_path
                return http.post("/api/conversations/import", json={"url": url})

            rows.append(_row("POST /api/conversations/import", name, size, pid, send_page))
        if chosen("nested sign-in cookie (100,000)"):
            cookie = _nested_cookie(100_000)

            def send_cookie() -> httpx.Response:
                return http.get(
                    "/api/auth/callback?code=x&state=y",
                    headers={"Cookie": f"almanac_oidc={cookie}"},
                    follow_redirects=False,
                )

            rows.append(
                _row(
                    "GET /api/auth/callback",
                    "nested sign-in cookie (100,000)",
                    len(cookie),
                    pid,
                    send_cookie,
                )
            )
        if chosen(LINKED_FOLDER):
            rows.append(_linked_folder(http, pid))
        if long_chat_messages and chosen("long chat"):
            rows += _long_chat(http, pid, long_chat_messages)
    port = int(url.rsplit(":", 1)[1])
    if any(chosen(name) for name in ("header line (64 MiB)", "unfinished header", "trickled")):
        _settle(pid)
    if chosen("header line (64 MiB)"):
        rows.append(_header_flood(url, port, pid, 1, 64, finish=True))
    if header_connections and chosen("unfinished header"):
        rows.append(_header_flood(url, port, pid, header_connections, header_mib))
    if chosen("trickled head"):
        rows.append(_trickled_head(url, port, pid))
    return rows


# -- a synced folder ---------------------------------------------------------------------------

LINKED_FOLDER = "folder linking to a 2 MiB file outside it"


def _linked_folder(http: httpx.Client, pid: int) -> dict[str, Any]:
    """A folder source whose one file is a link to a text file elsewhere on the server,
    synced: the row's code is the sync's summary (was the file outside read and embedded?)."""
    with tempfile.TemporaryDirectory(prefix="almanac-bench-linked-") as temp:
        outside = Path(temp) / "elsewhere.txt"
        line = "The quarterly figures were reviewed by the finance team on Tuesday.\n"
        outside.write_text(line * (2 * MiB // len(line)))
        folder = Path(temp) / "share"
        folder.mkdir()
        (folder / "figures.txt").symlink_to(outside)
        created = http.post("/api/sources", json={"name": "linked", "folder": str(folder)})
        created.raise_for_status()

        def send() -> httpx.Response:
            answer = _job_outcome(http, http.post("/api/sources/linked/sync"))
            [last] = http.get("/api/sources/linked/history").json()[:1]
            return httpx.Response(answer.status_code, json={"code": last["summary"]})

        row = _row(
            "POST /api/sources/{name}/sync", LINKED_FOLDER, outside.stat().st_size, pid, send
        )
        http.delete("/api/sources/linked")
    return row


# -- request heads ----------------------------------------------------------------------------

#: The head every header case starts with (no key: heads are read before authentication).
_REQUEST_LINE = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
#: Seconds the unfinished heads are held open (and /health timed) once all were sent.
HOLD_S = 3.0


#: The server has settled when its tree used at most this many CPU seconds in `SETTLE_WINDOW_S`.
SETTLE_CPU_S = 0.2
SETTLE_WINDOW_S = 2.0
#: ... waited for at most this long.
SETTLE_WITHIN_S = 300.0


def _settle(pid: int) -> None:
    """Wait until the server's tree is quiet: a server just started loads and indexes its
    sample and warms its models for ~40 s (1.7 to 2.2 CPU-s per 8 s on the shared machine),
    and a flood measured meanwhile timed /health against that work's threads holding the
    GIL (slowest 1.4 to 2.4 s), not against the heads (slowest 0.01 to 0.05 s once quiet)."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_WITHIN_S:
        with tree_cost(pid) as cost:
            time.sleep(SETTLE_WINDOW_S)
        if cost.cpu_s <= SETTLE_CPU_S:
            break
    log(f"server settled after {time.monotonic() - started:.0f} s (the header cases follow)")


def _client_address(number: int) -> str:
    """A loopback address of its own per connection (127.0.1.x, 127.0.2.x, ...): the head
    limits are measured, not the per-client connection cap."""
    return f"127.0.{1 + number // 250}.{1 + number % 250}"


def _send_head(port: int, number: int, size: int, *, finish: bool) -> tuple[socket.socket, str]:
    """One connection sending `size` bytes of one header line (and its end when `finish`),
    stopping at the server's answer or close; the socket is returned open."""
    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=120, source_address=(_client_address(number), 0)
    )
    outcome = "sent"
    piece = b"x" * (256 * 1024)
    try:
        sock.sendall(_REQUEST_LINE + b"X-Endless: ")
        sent = 0
        while sent < size:
            sock.sendall(piece[: size - sent])
            sent += len(piece[: size - sent])
        if finish:
            sock.sendall(b"\r\n\r\n")
    except OSError as exc:
        outcome = type(exc).__name__
    return sock, outcome


def _status_of(sock: socket.socket, within_s: float) -> str:
    """The status line the server sent on `sock` (or what happened instead)."""
    sock.settimeout(within_s)
    try:
        first = sock.recv(256)
    except TimeoutError:
        return "no answer"
    except OSError as exc:
        return type(exc).__name__
    return first.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"


#: Seconds between two `/health` requests of the probe.
HEALTH_EVERY_S = 0.2
#: The probe: `/health` asked every `HEALTH_EVERY_S` from 127.0.0.1 until its stdin closes
#: (after a first answer, "ready"), each answer's seconds (or "failed") written as a line.
#: A process of its own: the senders' 200 threads in this one hold its GIL, and a /health
#: timed here waited for them (0.9 s against a bare protocol answering within 0.2 s), not
#: for the server.
_PROBE = """
import sys, threading, time, httpx
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
with httpx.Client(timeout=30) as http:
    http.get(sys.argv[1] + "/health")
    print("ready", flush=True)
    while not done.wait(float(sys.argv[2])):
        started = time.monotonic()
        try:
            http.get(sys.argv[1] + "/health").raise_for_status()
            print(time.monotonic() - started, flush=True)
        except httpx.HTTPError:
            print("failed", flush=True)
"""


class _HealthTimer:
    """`/health` asked every `HEALTH_EVERY_S` from 127.0.0.1, by a process of its own, while a
    block runs: the answers' median and slowest seconds, and how many failed."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.times: list[float] = []
        self.failed = 0
        self._probe: subprocess.Popen[str] | None = None

    @property
    def slowest(self) -> float:
        return max(self.times, default=0.0)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else 0.0

    def __enter__(self) -> _HealthTimer:
        self._probe = subprocess.Popen(
            [sys.executable, "-c", _PROBE, self._url, str(HEALTH_EVERY_S)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._probe.stdout is not None
        self._probe.stdout.readline()  # "ready": timed from here, its start-up left out
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._probe is not None
        out, _ = self._probe.communicate("", timeout=60)  # stdin closed: the probe stops
        for line in out.split():
            if line == "ready":
                continue
            if line == "failed":
                self.failed += 1
            else:
                self.times.append(float(line))


def _load_average() -> str:
    """/proc/loadavg's 1, 5 and 15 minute figures (the machine the figures were taken on)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _header_flood(
    url: str, port: int, pid: int, connections: int, mib: int, *, finish: bool = False
) -> dict[str, Any]:
    """`connections` connections at once, each sending `mib` MiB of one header line (never
    finished unless `finish`), held open `HOLD_S` s once all were sent; the tree's cost, the
    slowest /health meanwhile, and the statuses the connections got."""
    size = mib * MiB
    name = f"header line ({mib} MiB)" if finish else f"{connections} x {mib} MiB unfinished header"
    results: list[tuple[socket.socket, str] | None] = [None] * connections
    started = time.monotonic()
    with tree_cost(pid) as cost, _HealthTimer(url) as health:
        senders = [
            threading.Thread(
                target=lambda n=n: results.__setitem__(n, _send_head(port, n, size, finish=finish)),
                daemon=True,
            )
            for n in range(connections)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        time.sleep(HOLD_S)
        statuses = [
            _status_of(result[0], 0.5 if not finish else 60) if result else "not connected"
            for result in results
        ]
        wall = time.monotonic() - started
    for result in results:
        if result:
            result[0].close()
    counted: dict[str, int] = {}
    for status in statuses:
        counted[status] = counted.get(status, 0) + 1
    row = {
        "route": "request head (no key)",
        "input": name,
        "bytes": size * connections,
        "status": max(counted, key=counted.__getitem__),
        "code": None,
        "wall_s": round(wall, 2),
        "peak_rise_mb": cost.peak_rise_mb,
        "tree_cpu_s": cost.cpu_s,
        "statuses": counted,
        "health_p50_s": round(health.median, 3),
        "health_slowest_s": round(health.slowest, 3),
        "health_asked": len(health.times) + health.failed,
        "health_failed": health.failed,
        "load_average": _load_average(),
    }
    log(json.dumps(row))
    return row


def _trickled_head(url: str, port: int, pid: int) -> dict[str, Any]:
    """One head sent a byte every 0.5 s (a 2,000-byte header: 1,000 s to send): when the
    server cuts it off (timed from the connection: the /health probe's start is left out),
    and with what."""
    status, sent = "still open after 120 s", 0
    with (
        tree_cost(pid) as cost,
        _HealthTimer(url) as health,
        socket.create_connection(("127.0.0.1", port), timeout=120) as sock,
    ):
        started = time.monotonic()
        head = _REQUEST_LINE + b"X-Slow: " + b"s" * 2000 + b"\r\n\r\n"
        sock.settimeout(0.5)
        while sent < len(head) and time.monotonic() - started < 120:
            try:
                sock.sendall(head[sent : sent + 1])
                sent += 1
                answer = sock.recv(256)
            except TimeoutError:
                continue
            except OSError as exc:
                status = type(exc).__name__
                break
            status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
            break
    row = {
        "route": "request head (no key)",
        "input": f"trickled head (a byte per 0.5 s; cut after {sent} bytes)",
        "bytes": sent,
        "status": status,
        "code": None,
        "wall_s": round(time.monotonic() - started, 2),
        "peak_rise_mb": cost.peak_rise_mb,
        "tree_cpu_s": cost.cpu_s,
        "health_p50_s": round(health.median, 3),
        "health_slowest_s": round(health.slowest, 3),
        "health_asked": len(health.times) + health.failed,
        "health_failed": health.failed,
        "load_average": _load_average(),
    }
    log(json.dumps(row))
    return row


def _nested_cookie(depth: int) -> str:
    return base64.urlsafe_b64encode(hostile_inputs.deep_json(depth)).decode()


def _long_chat(http: httpx.Client, pid: int, messages: int) -> list[dict[str, Any]]:
    """One export of `messages` one-line messages imported, then its longest chat read."""
    export = long_chat_export(messages)
    accepted = http.post(
        "/api/conversations/import/file", files={"file": ("conversations.json", export)}
    )
    done = _job_outcome(http, accepted)
    log(f"long chat export: {len(export):,} bytes, {messages:,} messages -> {done.status_code}")
    if accepted.status_code != 202 or done.status_code != 200:
        return []
    job = http.get(accepted.headers["location"]).json()
    longest = job["result"]["chat_ids"][0]  # the export's first conversation is its longest
    rows = []
    for route, path, what in (
        ("GET /chats/{id}/messages", f"/chats/{longest}/messages", "default page"),
        (
            "GET /chats/{id}/messages",
            f"/chats/{longest}/messages?after=0&limit=1000",
            "first 1,000",
        ),
        ("GET /api/conversations/{id}", f"/api/conversations/{longest}", "default page"),
        ("GET /chats/{id}/export", f"/chats/{longest}/export", "whole export"),
    ):

        def send(path=path) -> httpx.Response:
            return http.get(path)

        rows.append(_row(route, f"long chat ({messages:,} messages), {what}", 0, pid, send))
    return rows


def long_chat_export(messages: int, *, item_bytes: int = 8 * MiB - 64 * 1024) -> bytes:
    """A valid Claude export of `messages` one-line messages, as few conversations as the
    export item budget (8 MiB a conversation) allows, the first the longest."""
    conversations: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for number in range(messages):
        role = b"user" if number % 2 == 0 else b"assistant"
        line = b'{"role":"%s","text":"%d"}' % (role, number)
        if size + len(line) + 1 > item_bytes:
            conversations.append(_conversation(len(conversations), current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        conversations.append(_conversation(len(conversations), current))
    return b"[" + b",".join(conversations) + b"]"


def _conversation(number: int, lines: list[bytes]) -> bytes:
    head = b'{"uuid":"long-%d","name":"Long chat %d","chat_messages":[' % (number, number)
    return head + b",".join(lines) + b"]}"


def print_report(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'route':<38} {'input':<38} {'bytes':>10} {'status':>6} {'wall s':>7} "
        f"{'peak+ MB':>9} {'CPU s':>6} {'chunks':>7}"
    )
    for r in rows:
        chunks = r.get("chunks")
        print(
            f"{r['route']:<38} {r['input']:<38} {r['bytes']:>10,} {r['status']:>6} "
            f"{r['wall_s']:>7} {r['peak_rise_mb']:>9} {r['tree_cpu_s']:>6} "
            f"{'' if chunks is None else chunks:>7}"
        )
    for r in rows:
        if "health_slowest_s" in r:
            print(
                f"  {r['input']}: /health p50 {r['health_p50_s']} s, slowest "
                f"{r['health_slowest_s']} s ({r['health_failed']} of {r['health_asked']} "
                f"failed); statuses {r.get('statuses', r['status'])}; load average "
                f"{r['load_average']}"
            )
    for r in rows:
        if r["input"] == LINKED_FOLDER:
            print(f"  {r['input']}: the sync says {r['code']}")
    print("\nworst case per route (the server's process tree):")
    for route in dict.fromkeys(r["route"] for r in rows):
        mine = [r for r in rows if r["route"] == route]
        print(
            f"  {route:<38} peak +{max(r['peak_rise_mb'] for r in mine)} MB, "
            f"{max(r['tree_cpu_s'] for r in mine)} s CPU, "
            f"{max(r['wall_s'] for r in mine)} s wall"
        )


async def _ready(url: str, child: Child, within_s: float) -> None:
    async with httpx.AsyncClient() as client:
        await wait_ready(client, child, f"{url}/health", within_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--skip-uploads", action="store_true", help="leave out admin uploads (POST /api/documents)"
    )
    parser.add_argument(
        "--skip", action="append", default=[], help="leave out inputs whose name has this text"
    )
    parser.add_argument(
        "--only", action="append", default=[], help="only the inputs whose name has this text"
    )
    parser.add_argument(
        "--long-chat-messages",
        type=int,
        default=562_000,
        help="messages of the long chat imported and read (0: none)",
    )
    parser.add_argument(
        "--header-connections",
        type=int,
        default=200,
        help="connections sending an unfinished header at once (0: none)",
    )
    parser.add_argument(
        "--header-mib", type=int, default=32, help="MiB each of them sends of its header"
    )
    parser.add_argument("--start-timeout", type=float, default=300)
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=120,
        help="seconds the client waits for one answer (a build that embeds thousands of "
        "chunks for an input needs more)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with share_page_server() as pages_url:
        port = pages_url.rsplit(":", 1)[1]
        with almanac_served(
            "almanac-bench-hostile-",
            AUTH_ENABLED="false",
            IMPORT_ALLOWED_HOSTS=f"127.0.0.1:{port}",
            IMPORT_ALLOW_HTTP="true",
            IMPORT_ALLOW_PRIVATE_HOSTS="true",
        ) as served:
            asyncio.run(_ready(served.url, served.child, args.start_timeout))
            rows = run(
                served.url,
                served.pid,
                pages_url,
                skip_uploads=args.skip_uploads,
                skip=args.skip,
                only=args.only,
                long_chat_messages=args.long_chat_messages,
                header_connections=args.header_connections,
                header_mib=args.header_mib,
                request_timeout=args.request_timeout,
            )
    if args.json:
        print(json.dumps(rows))
    else:
        print_report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
