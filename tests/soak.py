"""A mixed workload for a long run of a real server, and its resident memory as it goes.

`mixed_requests` cycles through what a busy day sends (health checks, searches, document
lists, chat turns over `/chat` and `/v1`, MCP calls, chat attachments, tables, metrics and
refused requests), each with a text of its own so that no cache answers them all, and one
long document uploaded halfway (`big_upload`, about 1,200 chunks to embed);
`soak` sends them one after another and samples the server process's resident memory
(RSS, of the process that serves: its children are counted apart). Used by
tests/e2e/test_soak_memory.py and bench/bench_soak.py.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import psutil

MiB = 1024 * 1024

#: Words a request's text is made of, so that each differs (searches, questions, files).
WORDS = [
    "password",
    "rotation",
    "travel",
    "expenses",
    "parking",
    "badge",
    "laptop",
    "holiday",
    "leave",
    "onboarding",
    "security",
    "incident",
    "backup",
    "printer",
    "wifi",
    "canteen",
    "training",
    "budget",
    "contract",
    "invoice",
    "meeting",
    "room",
    "pension",
    "overtime",
    "remote",
    "hardware",
]

Send = Callable[[httpx.Client, int], httpx.Response]


def _words(number: int, count: int = 3) -> str:
    return " ".join(WORDS[(number * 7 + k * 5) % len(WORDS)] for k in range(count))


def _health(http: httpx.Client, n: int) -> httpx.Response:
    return http.get("/health")


def _search(http: httpx.Client, n: int) -> httpx.Response:
    return http.get("/api/search", params={"q": f"{_words(n)} {n}", "limit": 5})


def _documents(http: httpx.Client, n: int) -> httpx.Response:
    return http.get("/api/documents", params={"limit": 20, "offset": n % 10})


def _chat(http: httpx.Client, n: int) -> httpx.Response:
    return http.post("/chat", json={"message": f"What is the policy on {_words(n, 2)}?"})


def _openai(http: httpx.Client, n: int) -> httpx.Response:
    body = {
        "model": "offline-extractive",
        "messages": [{"role": "user", "content": f"How do I handle {_words(n, 2)}?"}],
    }
    return http.post("/v1/chat/completions", json=body)


def _mcp(http: httpx.Client, n: int) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": n, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    return http.post("/mcp", json=body, headers=headers)


def _tables(http: httpx.Client, n: int) -> httpx.Response:
    return http.get("/api/tables")


def _metrics(http: httpx.Client, n: int) -> httpx.Response:
    return http.get("/metrics")


def _refused(http: httpx.Client, n: int) -> httpx.Response:
    return http.post("/chat", content=b'{"message": ', headers={"Content-Type": "application/json"})


@dataclass
class Attachments:
    """Attaches a small file to a chat of its own, a new chat every `per_chat` files (a chat
    holds a bounded number of files)."""

    per_chat: int = 5
    _chat_id: str | None = None
    _count: int = 0

    def __call__(self, http: httpx.Client, n: int) -> httpx.Response:
        if self._chat_id is None or self._count % self.per_chat == 0:
            started = http.post("/chat", json={"message": "Hello"})
            started.raise_for_status()
            self._chat_id = started.json()["chat_id"]
        self._count += 1
        text = f"# Notes {n}\n\n" + "".join(
            f"Item {k}: the {_words(n + k)} review is due on day {k}.\n" for k in range(40)
        )
        files = {"file": (f"notes-{n}.md", text.encode())}
        return http.post(f"/api/conversations/{self._chat_id}/files", files=files)


def big_upload(http: httpx.Client, n: int, *, sections: int = 600) -> httpx.Response:
    """An admin upload of a long document (about 1,200 chunks: `sections` sections of two
    paragraphs), waited for until its sentences are prepared, then removed, so that the
    knowledge base ends as it began and only what the work left behind stays in memory: the
    response of the removal (204), or the first one that went wrong."""

    def section(k: int) -> str:
        rules = " ".join(
            f"Clause {k}.{j}: the {_words(n + k + j, 4)} rule {k * j}." for j in range(12)
        )
        notes = " ".join(f"Note {k}.{j}: ask the {_words(k + j, 3)} desk." for j in range(12))
        return f"## Section {k}\n\n{rules}\n\n{notes}\n\n"

    text = "".join(section(k) for k in range(sections))
    answer = http.post("/api/documents", files={"file": (f"manual-{n}.md", text.encode())})
    if answer.status_code != 201:
        return answer
    body = answer.json()
    if body.get("answers_job"):
        for _ in range(3000):  # a deadline for a loaded machine, not a measure of speed
            job = http.get(f"/api/jobs/{body['answers_job']}").json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
    return http.delete(f"/api/documents/{body['document']['id']}")


def mixed_requests() -> list[tuple[str, Send]]:
    """One cycle of the workload: 20 requests, named by what they do."""
    attach = Attachments()
    return [
        ("health", _health),
        ("search", _search),
        ("documents", _documents),
        ("chat", _chat),
        ("health", _health),
        ("search", _search),
        ("mcp tools/list", _mcp),
        ("v1 chat", _openai),
        ("attachment", attach),
        ("tables", _tables),
        ("health", _health),
        ("search", _search),
        ("metrics", _metrics),
        ("documents", _documents),
        ("refused JSON", _refused),
        ("chat", _chat),
        ("mcp tools/list", _mcp),
        ("health", _health),
        ("search", _search),
        ("attachment", attach),
    ]


@dataclass
class SoakRun:
    """What a soak measured: the server's RSS after warm-up and at the end (bytes), each
    request's status by kind, and the RSS sampled every `sample_every` requests."""

    warm_rss: int = 0
    end_rss: int = 0
    samples: list[int] = field(default_factory=list)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)

    @property
    def growth_mb(self) -> float:
        return round((self.end_rss - self.warm_rss) / MiB, 1)

    def count(self, kind: str, status: int) -> None:
        by_status = self.statuses.setdefault(kind, {})
        by_status[status] = by_status.get(status, 0) + 1


def soak(
    url: str,
    pid: int,
    *,
    requests: int = 1000,
    warmup: int = 200,
    sample_every: int = 50,
    timeout_s: float = 120.0,
    heavy: Send | None = big_upload,
    settle_within_s: float = 60.0,
    settled_above_warm: int = 0,
) -> SoakRun:
    """Send `requests` of the mixed workload to `url` one after another, and `heavy` once
    halfway (None: not at all); the RSS of process `pid` after `warmup` of them and at the
    end: the first RSS within `settle_within_s` of the last request that is at most
    `settled_above_warm` bytes above the warm one (the server gives memory back on its own
    time), else the last one sampled then."""
    process = psutil.Process(pid)
    run = SoakRun()
    cycle: Iterator[tuple[str, Send]] = itertools.cycle(mixed_requests())
    with httpx.Client(base_url=url, timeout=timeout_s) as http:
        for number in range(requests):
            kind, send = next(cycle)
            run.count(kind, send(http, number).status_code)
            if heavy is not None and number == requests // 2:
                run.count("big upload", heavy(http, number).status_code)
            done = number + 1
            if done % sample_every == 0:
                run.samples.append(process.memory_info().rss)
            if done == warmup:
                run.warm_rss = process.memory_info().rss
    deadline = time.monotonic() + settle_within_s
    run.end_rss = process.memory_info().rss
    while run.end_rss - run.warm_rss > settled_above_warm and time.monotonic() < deadline:
        time.sleep(0.5)
        run.end_rss = process.memory_info().rss
    return run
