"""The server's resident memory over a long mixed run (`tests/soak.py`'s workload).

    .venv/bin/python -m bench.bench_soak [--requests 1000] [--warmup 200] [--json]

Starts `almanac serve` (auth off, a fresh data directory with the sample), waits until it is
ready and quiet, sends the mixed workload one request after another, and prints the serving
process's RSS every 50 requests, its growth from the end of the warm-up to the end, and the
statuses by kind of request. Nothing is asserted (tests/e2e/test_soak_memory.py asserts the
bound); the figures go to docs/notes/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_chat import wait_ready  # noqa: E402
from bench.bench_hostile_inputs import _settle  # noqa: E402
from bench.served import almanac_served  # noqa: E402
from tests.soak import MiB, soak  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with almanac_served("almanac-bench-soak-", AUTH_ENABLED="false") as served:

        async def ready() -> None:
            async with httpx.AsyncClient() as client:
                await wait_ready(client, served.child, f"{served.url}/health", 300)

        asyncio.run(ready())
        _settle(served.pid)
        started = time.monotonic()
        run = soak(served.url, served.pid, requests=args.requests, warmup=args.warmup)
        wall = time.monotonic() - started
    figures = {
        "requests": args.requests,
        "warmup": args.warmup,
        "wall_s": round(wall, 1),
        "warm_rss_mb": round(run.warm_rss / MiB, 1),
        "end_rss_mb": round(run.end_rss / MiB, 1),
        "growth_mb": run.growth_mb,
        "rss_mb_every_50": [round(s / MiB, 1) for s in run.samples],
        "statuses": run.statuses,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
