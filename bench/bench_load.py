"""Availability under load: long messages must not stall anyone else.

    .venv/bin/python -m bench.bench_load                  # defaults below, a readable table
    .venv/bin/python -m bench.bench_load --long-users 4 --short-users 10 --json

Starts `almanac serve` on a free loopback port (DATA_DIR = a fresh temp dir, the bundled
sample knowledge base and tables loaded, the embedded offline model: no key, no network) and,
with one httpx AsyncClient, at the same time:

- `--long-users` users each send a message of the maximum length (MAX_MESSAGE_CHARS, a pasted
  text of the sample handbook's own words) and then a short question in the same chat (the long
  message is in its history), `--rounds` times, each round in a new chat;
- `--short-users` users each ask `--rounds` short questions of the sample's evaluation set, one
  after another, each in a new chat;
- one client reads `/health` every `--health-every-ms` until the others are done.

Printed: `/health` p50 / p99 / max, short questions' p50 / p95, long messages' and their
follow-ups' p50 / p95, every status code seen (a 503 is the server refusing work it cannot
take, with `Retry-After`), and nothing lost: every chat then holds exactly the messages it was
sent, each answer `complete`. Aims (2-core machine, 4 long users + 10 short ones): `/health`
p99 < 100 ms, short questions' p95 < 2 s, nothing lost. Exit code: 0 nothing lost, 1 turns
lost or failed, 2 the server did not start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_chat import (  # noqa: E402
    Child,
    log,
    pct,
    wait_ready,
)
from bench.served import almanac_served  # noqa: E402

SAMPLE_DOCS = ROOT / "sample_data" / "knowledge_base"
SAMPLE_EVAL = ROOT / "sample_data" / "eval"


def long_message(chars: int) -> str:
    """A pasted text of `chars` characters: the sample handbook's own sentences, as someone
    would paste a page and ask about it at the end."""
    text: list[str] = []
    size = 0
    for path in sorted(SAMPLE_DOCS.rglob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith(("---", "#", "|")) and ":" not in line[:12]:
                text.append(line)
                size += len(line) + 1
                if size > chars:
                    break
        if size > chars:
            break
    ask = " Given all that, how often must passwords be rotated?"
    return (" ".join(text))[: chars - len(ask)] + ask


def short_questions() -> list[str]:
    questions = []
    for path in sorted(SAMPLE_EVAL.glob("dev*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                if not case.get("history"):
                    questions.append(case["question"])
    return questions


@dataclass
class Results:
    health: list[float] = field(default_factory=list)
    short: list[float] = field(default_factory=list)
    long: list[float] = field(default_factory=list)
    follow_up: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    chats: dict[str, int] = field(default_factory=dict)  # chat id -> turns answered
    failures: list[str] = field(default_factory=list)


async def _turn(
    client: httpx.AsyncClient,
    url: str,
    results: Results,
    kind: str,
    message: str,
    chat_id: str | None = None,
) -> str | None:
    body: dict[str, Any] = {"message": message}  # one local user (AUTH_ENABLED=false)
    if chat_id is not None:
        body["chat_id"] = chat_id
    started = time.perf_counter()
    response = await client.post(f"{url}/chat", json=body, timeout=180)
    elapsed = time.perf_counter() - started
    results.statuses[f"{kind} {response.status_code}"] += 1
    if response.status_code != 200:
        if response.status_code != 503:
            results.failures.append(f"{kind}: {response.status_code} {response.text[:200]}")
        return chat_id
    getattr(results, kind).append(elapsed)
    answered = response.json()["chat_id"]
    results.chats[answered] = results.chats.get(answered, 0) + 1
    return str(answered)


async def long_user(
    client: httpx.AsyncClient, url: str, results: Results, index: int, rounds: int, chars: int
) -> None:
    message = long_message(chars)
    for _ in range(rounds):
        chat_id = await _turn(client, url, results, "long", message)
        if chat_id is not None:
            await _turn(
                client,
                url,
                results,
                "follow_up",
                "And what is the minimum length?",
                chat_id,
            )


async def short_user(
    client: httpx.AsyncClient,
    url: str,
    results: Results,
    index: int,
    rounds: int,
    questions: list[str],
) -> None:
    for turn in range(rounds):
        question = questions[(index * rounds + turn) % len(questions)]
        await _turn(client, url, results, "short", question)


async def health_reader(
    client: httpx.AsyncClient, url: str, results: Results, every_s: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        response = await client.get(f"{url}/health", timeout=120)
        results.health.append(time.perf_counter() - started)
        results.statuses[f"health {response.status_code}"] += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)


async def check_chats(client: httpx.AsyncClient, url: str, results: Results) -> int:
    """Turns lost: answered chats whose stored messages are not 2 per turn, all complete."""
    lost = 0
    for chat_id, turns in results.chats.items():
        response = await client.get(f"{url}/chats/{chat_id}/messages", timeout=30)
        messages = response.json().get("messages", []) if response.status_code == 200 else []
        complete = [m for m in messages if m.get("status", "complete") == "complete"]
        if len(messages) != 2 * turns or len(complete) != len(messages):
            lost += 1
            results.failures.append(
                f"chat {chat_id}: {len(messages)} messages for {turns} turns "
                f"({len(complete)} complete)"
            )
    return lost


async def run(args: argparse.Namespace, url: str, child: Child) -> dict[str, Any]:
    results = Results()
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits) as client:
        await wait_ready(client, child, f"{url}/health", within_s=args.start_timeout)
        questions = short_questions()
        await _turn(client, url, Results(), "short", questions[0])
        stop = asyncio.Event()
        reader = asyncio.create_task(
            health_reader(client, url, results, args.health_every_ms / 1000, stop)
        )
        started = time.perf_counter()
        await asyncio.gather(
            *(
                long_user(client, url, results, i, args.rounds, args.chars)
                for i in range(args.long_users)
            ),
            *(
                short_user(client, url, results, i, args.rounds, questions)
                for i in range(args.short_users)
            ),
        )
        wall = time.perf_counter() - started
        stop.set()
        await reader
        lost = await check_chats(client, url, results)

    def figures(values: list[float], *qs: float) -> dict[str, float | int]:
        out: dict[str, float | int] = {"n": len(values)}
        for q in qs:
            out[f"p{round(q * 100)}_ms"] = round(pct(values, q) * 1000, 1) if values else 0.0
        out["max_ms"] = round(max(values) * 1000, 1) if values else 0.0
        return out

    return {
        "long_users": args.long_users,
        "short_users": args.short_users,
        "rounds": args.rounds,
        "message_chars": args.chars,
        "wall_s": round(wall, 1),
        "health": figures(results.health, 0.5, 0.99),
        "short": figures(results.short, 0.5, 0.95),
        "long": figures(results.long, 0.5, 0.95),
        "follow_up": figures(results.follow_up, 0.5, 0.95),
        "statuses": dict(sorted(results.statuses.items())),
        "lost": lost,
        "failures": results.failures[:20],
        "cpus": os.cpu_count(),
    }


def print_report(report: dict[str, Any]) -> None:
    print(
        f"{report['long_users']} users x {report['rounds']} messages of "
        f"{report['message_chars']:,} characters (+ a follow-up each), "
        f"{report['short_users']} users x {report['rounds']} short questions, "
        f"{report['wall_s']} s, {report['cpus']} CPUs"
    )
    for name in ("health", "short", "long", "follow_up"):
        row = report[name]
        cells = ", ".join(f"{k.removesuffix('_ms')} {v} ms" for k, v in row.items() if k != "n")
        print(f"  {name:<10} n={row['n']:<4} {cells}")
    print(f"  statuses   {report['statuses']}")
    print(f"  lost       {report['lost']}")
    for failure in report["failures"]:
        print(f"    {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-users", type=int, default=4)
    parser.add_argument("--short-users", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chars", type=int, default=8000, help="length of a long message")
    parser.add_argument("--health-every-ms", type=float, default=100)
    parser.add_argument("--start-timeout", type=float, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with almanac_served(
        "almanac-bench-load-",
        EMBEDDING_PROVIDER="local",
        RATE_LIMIT_PER_MINUTE="0",  # one client address plays 15 users
    ) as served:
        log(f"starting Almanac ({served.url}) with the sample data in {served.workdir} ...")
        try:
            report = asyncio.run(run(args, served.url, served.child))
        except RuntimeError as exc:
            log(f"error: {exc}")
            return 2
        except KeyboardInterrupt:
            return 130
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0 if report["lost"] == 0 and not report["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
