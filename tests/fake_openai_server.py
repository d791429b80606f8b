"""`bench/fake_openai.py` as a child process on a port it picks itself, for the end-to-end
tests that point a real `almanac` process at an OpenAI-compatible server (chat streaming far
longer than a test lasts, embeddings derived from each text's hash; `--stall-embeddings WORD`
never answers the embeddings of a text containing WORD, so a test can stop an ingestion at a
known place, whatever the machine's speed)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def fake_openai(*options: str) -> Iterator[str]:
    """A running fake (streaming a word every 50 ms, 100,000 of them, plus `options`); yields
    its base URL (`http://127.0.0.1:PORT/v1`) and stops it on leaving."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.fake_openai",
            "--port",
            "0",
            "--tokens",
            "100000",
            "--interval-ms",
            "50",
            *options,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "fake OpenAI on http://127.0.0.1:PORT/v1 (...)"
        assert "fake OpenAI on http" in line, line
        yield line.split(" on ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=30)
