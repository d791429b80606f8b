"""The OpenAI-compatible API's overhead: `POST /v1/chat/completions` against `POST /chat` on the
same server, the same model and the same question.

    .venv/bin/python -m bench.bench_openai_api                 # defaults below, a table
    .venv/bin/python -m bench.bench_openai_api --samples 200 --json

Starts what `bench/bench_chat.py` starts (its `servers`: `bench/fake_openai.py`, answering
plain text, and `almanac serve` pointed at it over an empty knowledge base), warms both routes
up, then takes `--samples` interleaved samples of each pair:

- total: `POST /v1/chat/completions` (not streamed, a stateless turn that stores nothing) vs
  `POST /chat` (which stores the question and the answer), and `/v1` with `store: true`
  (stored as `/chat` stores it: the like-for-like cost of the OpenAI layer);
- streamed: `POST /v1/chat/completions` with `stream: true` (chat.completion.chunk SSE) vs
  `POST /chat/stream` (the v4 data stream): time to the first text, and to the end.

Added = median(/v1) - median(/chat), and the same at p95 (goal: median <= 5 ms). A negative
figure means `/v1` is faster (it writes no chat history). Progress goes to stderr; `--json`
prints one JSON object. Exit code 0, 2 when a server did not start, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_chat import (  # noqa: E402
    QUESTION,
    StreamResult,
    _lines,
    almanac_stream,
    almanac_total,
    check_question,
    log,
    run_in_workdir,
    servers,
    summary,
    wait_ready,
)
from bench.fake_openai import FakeConfig  # noqa: E402

USER = "bench-openai"
GOAL_MS = 5.0


def v1_body(stream: bool, *, store: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "almanac",
        "messages": [{"role": "user", "content": QUESTION}],
        "store": store,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


async def v1_total(client: httpx.AsyncClient, almanac: str, *, store: bool = False) -> float:
    started = time.perf_counter()
    body = v1_body(False, store=store)
    response = await client.post(f"{almanac}/v1/chat/completions", json=body)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


async def v1_stream(client: httpx.AsyncClient, almanac: str) -> StreamResult:
    result = StreamResult()
    buffer = bytearray()
    started = time.perf_counter()
    async with client.stream(
        "POST", f"{almanac}/v1/chat/completions", json=v1_body(True)
    ) as response:
        result.status = response.status_code
        async for chunk in response.aiter_raw():
            for line in _lines(buffer, chunk):
                if not line.startswith(b"data: ") or line == b"data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if "error" in event:
                    result.errors.append(event["error"]["message"])
                for choice in event.get("choices", []):
                    content = choice.get("delta", {}).get("content")
                    if content:
                        if result.ttft is None:
                            result.ttft = time.perf_counter() - started
                        result.text.append(content)
                    if choice.get("finish_reason"):
                        result.finish_reason = choice["finish_reason"]
    result.total = time.perf_counter() - started
    return result


def added(chat: list[float], v1: list[float]) -> dict[str, Any]:
    c, v = summary(chat), summary(v1)
    return {
        "chat": c,
        "v1": v,
        "added_median_ms": round(v["median_ms"] - c["median_ms"], 3),
        "added_p95_ms": round(v["p95_ms"] - c["p95_ms"], 3),
    }


def _checked(result: StreamResult, expected: str, route: str) -> StreamResult:
    text = "".join(result.text)
    if result.status != 200 or result.errors or text != expected or result.ttft is None:
        raise RuntimeError(
            f"{route} answered {result.status}, errors {result.errors}, text {text[:80]!r}"
        )
    return result


async def measure(
    client: httpx.AsyncClient, almanac: str, samples: int, warmup: int, expected: str
) -> dict[str, Any]:
    for _ in range(warmup):
        await almanac_total(client, almanac, USER)
        await v1_total(client, almanac)
        await almanac_stream(client, almanac, USER)
        await v1_stream(client, almanac)
    totals: dict[str, list[float]] = {"chat": [], "v1": [], "v1_stored": []}
    firsts: dict[str, list[float]] = {"chat": [], "v1": []}
    ends: dict[str, list[float]] = {"chat": [], "v1": []}
    for index in range(samples):
        order = ("chat", "v1") if index % 2 == 0 else ("v1", "chat")
        for side in order:  # interleaved, alternating who goes first
            if side == "chat":
                totals["chat"].append(await almanac_total(client, almanac, USER))
                streamed = _checked(await almanac_stream(client, almanac, USER), expected, "/chat")
            else:
                totals["v1"].append(await v1_total(client, almanac))
                totals["v1_stored"].append(await v1_total(client, almanac, store=True))
                streamed = _checked(await v1_stream(client, almanac), expected, "/v1")
            firsts[side].append(streamed.ttft or 0.0)
            ends[side].append(streamed.total)
    return {
        "total": added(totals["chat"], totals["v1"]),
        "total_stored": added(totals["chat"], totals["v1_stored"]),
        "stream_first_text": added(firsts["chat"], firsts["v1"]),
        "stream_end": added(ends["chat"], ends["v1"]),
    }


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    expected = FakeConfig(tokens=args.tokens, interval_s=args.interval_ms / 1000).answer
    with servers(args, workdir) as (fake_child, almanac_child, fake, almanac):
        async with httpx.AsyncClient(timeout=120, trust_env=False) as client:
            log(f"starting the fake model ({fake}) and Almanac ({almanac}) in {workdir} ...")
            await wait_ready(client, fake_child, f"{fake}/v1/models", 20)
            await wait_ready(client, almanac_child, f"{almanac}/health", args.startup_timeout)
            log(f"{args.warmup} warm-up rounds, then {args.samples} interleaved samples ...")
            figures = await measure(client, almanac, args.samples, args.warmup, expected)
    return {
        "config": {
            "samples": args.samples,
            "warmup_rounds": args.warmup,
            "tokens": args.tokens,
            "interval_ms": args.interval_ms,
            "cpus": os.cpu_count(),
            "load_avg_1m_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "goal_added_median_ms": GOAL_MS,
        **figures,
    }


def print_report(report: dict[str, Any]) -> None:
    config = report["config"]
    print(
        f"/v1/chat/completions vs /chat: {config['samples']} interleaved samples each, "
        f"{config['tokens']} chunks {config['interval_ms']:g} ms apart, {config['cpus']} CPUs, "
        f"load {config['load_avg_1m_at_start']}"
    )
    print(f"{'measure':<20}{'/chat p50':>11}{'/v1 p50':>10}{'added p50':>11}{'added p95':>11}")
    for key, label in (
        ("total", "total (blocking)"),
        ("total_stored", "total, store: true"),
        ("stream_first_text", "stream: first text"),
        ("stream_end", "stream: end"),
    ):
        row = report[key]
        print(
            f"{label:<20}{row['chat']['median_ms']:>9.2f}ms{row['v1']['median_ms']:>8.2f}ms"
            f"{row['added_median_ms']:>9.2f}ms{row['added_p95_ms']:>9.2f}ms"
        )
    print(f"goal: added median <= {report['goal_added_median_ms']:g} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=50, help="interleaved samples per measure")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up rounds before measuring")
    parser.add_argument("--tokens", type=int, default=20, help="content chunks per answer")
    parser.add_argument("--interval-ms", type=float, default=10.0, help="time between chunks")
    parser.add_argument("--startup-timeout", type=float, default=90.0, help="seconds for /health")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if min(args.samples, args.tokens) < 1 or args.warmup < 0 or args.interval_ms < 0:
        parser.error("counts must be >= 1, --warmup and --interval-ms >= 0")
    check_question(QUESTION)
    report = run_in_workdir(lambda workdir: run(args, workdir), "almanac-bench-openai-")
    if isinstance(report, int):
        return report
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
