"""`almanac serve` (what `make run` starts) on an empty data dir: it loads the bundled sample
on first start and serves on HOST/PORT from the environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_first_start_loads_the_sample_and_serves_on_host_and_port(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("OPENAI_API_KEY", None)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "almanac"), "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert health is not None, server.stdout.read() if server.poll() is not None else "timeout"
        assert health["knowledge_base"]["documents"] >= 30
        answer = httpx.post(
            f"http://127.0.0.1:{port}/chat",
            json={"message": "Who is the manager of Fleur Janssen?"},
            timeout=30,
        ).json()
        assert "Ifeoma Adeyemi" in answer["answer"]  # the sample tables were loaded too
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode in (0, -15)
