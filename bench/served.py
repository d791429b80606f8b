"""`almanac serve` for a benchmark: a fresh data directory (the sample loads at the first
start), a free loopback port, the offline defaults (no provider key, no reranker, no rate
limit), its output in a log file, stopped (with its children) when the benchmark ends."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.bench_chat import Child, almanac_executable, free_port, spawn

__all__ = ["Served", "almanac_served"]

#: Settings a benchmark's environment must not pass on to the server.
_UNSET = ("OPENAI_API_KEY", "DEFAULT_MODEL", "ALLOWED_MODELS", "DATABASE_URL")


@dataclass(frozen=True)
class Served:
    url: str
    child: Child
    workdir: Path

    @property
    def pid(self) -> int:
        return self.child.process.pid


@contextmanager
def almanac_served(prefix: str, **settings: str) -> Iterator[Served]:
    """The server, started (not yet ready: wait on `/health`) with `settings` added to its
    environment (e.g. `AUTH_ENABLED="false"`)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        port = free_port()
        env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "DATA_DIR": str(workdir / "data"),
            "LOG_LEVEL": "WARNING",
            "RERANKER_ENABLED": "false",
            "RATE_LIMIT_PER_MINUTE": "0",
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
        for name in _UNSET:
            env.pop(name, None)
        child = spawn(
            "almanac", [*almanac_executable(), "serve"], env, workdir, workdir / "almanac.log"
        )
        try:
            yield Served(f"http://127.0.0.1:{port}", child, workdir)
        finally:
            child.stop()
