"""A long mixed run of the real server keeps its memory flat: after a warm-up, 1,000 requests
of every kind (attachments, chat turns over `/chat` and `/v1`, MCP, searches, refusals) grow
the serving process's resident memory by less than 50 MB, a long document's embedding
(~1,200 chunks, removed again) halfway included, once the server has given back what it freed
(backend/memory.py; `tests/soak.py` has the workload, bench/bench_soak.py the figures)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.almanac_serve import start_almanac_serve
from tests.soak import MiB, soak

#: The most the serving process's RSS may grow from the end of the warm-up to the end.
GROWTH_BOUND_MB = 50


@pytest.mark.slow
def test_a_thousand_mixed_requests_leave_the_servers_memory_flat(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "INFO",
        "RATE_LIMIT_PER_MINUTE": "0",
        "RERANKER_ENABLED": "false",
    }
    for name in ("OPENAI_API_KEY", "DEFAULT_MODEL", "ALLOWED_MODELS", "DATABASE_URL"):
        env.pop(name, None)
    server = start_almanac_serve(
        [str(Path(sys.executable).parent / "almanac"), "serve"],
        env=env,
        cwd=tmp_path,
        log=tmp_path / "serve.log",
    )
    try:
        run = soak(
            server.url,
            server.process.pid,
            requests=1000,
            warmup=200,
            settled_above_warm=GROWTH_BOUND_MB * MiB,
        )
    finally:
        server.stop()
    failed = {
        kind: statuses
        for kind, statuses in run.statuses.items()
        if any(status >= 500 for status in statuses)
    }
    assert not failed, failed
    assert run.statuses["attachment"] == {201: 100}
    assert run.statuses["refused JSON"] == {422: 50}
    assert run.statuses["big upload"] == {204: 1}
    samples = [round(s / MiB) for s in run.samples]
    assert run.growth_mb < GROWTH_BOUND_MB, f"RSS every 50 requests (MB): {samples}"
