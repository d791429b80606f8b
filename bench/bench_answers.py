"""Latency of offline answers: one chat turn at a time over a corpus's evaluation questions.

Run from the repository root:

    python -m bench.bench_answers [--corpus handbook] [--split dev] [--limit 0]

Each corpus is ingested alone into a fresh data directory (as `almanac eval answers --corpus`
does), then every question of the split (follow-ups after their history) is asked through
the chat use case, one turn at a time, the way `POST /chat` runs it: agent loop, tools,
offline model, history and response log. Printed: p50 / p95 / max of the turn time, twice:
the first pass (sentence vectors not yet cached: every passage is new) and a second pass
over the same questions (the cache warm, as on a server that has answered for a while).
Aim (2-core machine, handbook dev split): p50 <= 150 ms, p95 <= 400 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from backend.bootstrap import bootstrap, load_sample_data_if_empty  # noqa: E402
from backend.cli.eval_commands import corpus_settings, load_split  # noqa: E402
from backend.logging import configure_logging  # noqa: E402
from use_cases.chat.chat_turns import ChatRequest  # noqa: E402


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


async def _ask_all(container, cases) -> list[float]:
    """Seconds per turn of each case's question (its history asked first, untimed)."""
    timings = []
    for index, case in enumerate(cases):
        user = f"bench-{index}"
        chat_id = None
        for earlier in case.history:
            result = await container.chat.chat.execute(
                ChatRequest(user_id=user, message=earlier, chat_id=chat_id)
            )
            chat_id = result.chat_id
        started = time.perf_counter()
        await container.chat.chat.execute(
            ChatRequest(user_id=user, message=case.question, chat_id=chat_id)
        )
        timings.append(time.perf_counter() - started)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="handbook")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--limit", type=int, default=0, help="first N cases only (0: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="almanac-bench-answers-") as tmp:
        settings, eval_dir = corpus_settings(args.corpus, Path(tmp))
        cases = load_split(args.split, eval_dir)
        cases = cases[: args.limit] if args.limit else cases
        container = bootstrap(settings)
        try:
            load_sample_data_if_empty(container)
            cold = asyncio.run(_ask_all(container, cases))
            warm = asyncio.run(_ask_all(container, cases))
        finally:
            container.close()
    figures = {
        pass_name: {
            "p50_ms": round(1000 * statistics.median(values), 1),
            "p95_ms": round(1000 * _percentile(values, 0.95), 1),
            "max_ms": round(1000 * max(values), 1),
        }
        for pass_name, values in (("first pass", cold), ("second pass", warm))
    }
    if args.json:
        print(
            json.dumps({"corpus": args.corpus, "split": args.split, "cases": len(cases)} | figures)
        )
        return 0
    print(f"Offline /chat turn latency, {args.corpus} {args.split}, {len(cases)} questions:")
    for name, row in figures.items():
        print(
            f"  {name:12s} p50 {row['p50_ms']:7.1f} ms   p95 {row['p95_ms']:7.1f} ms   "
            f"max {row['max_ms']:7.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
