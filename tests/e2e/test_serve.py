"""`almanac serve` (what `make run` starts) on an empty data dir: it loads the bundled sample
on first start, serves on HOST/PORT from the environment, and plans offline answers in worker
processes (ANSWER_PROCESSES, on by default) that a crash of one does not take down."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.almanac_serve import ServeChild, start_almanac_serve
from tests.processes import spawned_children


def _count(server: ServeChild, text: str) -> int:
    return server.output().count(text)


#: A safety net against a server that never says it (a hang), not a bound on its speed: the
#: start takes 10-40 s on 2 cores, loaded or not.
SAFETY_NET_S = 600


def _wait_for(server: ServeChild, text: str, times: int = 1) -> None:
    """Until `text` is in the server's output `times` times; a server that never writes it
    fails the test with its output after `SAFETY_NET_S`."""
    deadline = time.monotonic() + SAFETY_NET_S
    while _count(server, text) < times:
        if time.monotonic() > deadline:
            pytest.fail(f"no {text!r} in:\n{server.output()}")
        time.sleep(0.2)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _ask(port: int, message: str) -> str:
    response = httpx.post(
        f"http://127.0.0.1:{port}/chat", json={"message": message}, timeout=60
    ).json()
    return str(response["answer"])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_first_start_loads_the_sample_and_serves_on_host_and_port(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "INFO",
        "ANSWER_WORKERS": "2",
    }
    for name in ("OPENAI_API_KEY", "DEFAULT_MODEL", "ANSWER_PROCESSES"):
        env.pop(name, None)
    # PORT is set by start_almanac_serve: a port free now, another one if that is taken
    # before the server binds it; it returns once the server says it serves on PORT.
    server = start_almanac_serve(
        [str(Path(sys.executable).parent / "almanac"), "serve"],
        env=env,
        cwd=tmp_path,
        log=tmp_path / "serve.log",
    )
    port = server.port
    try:
        health = httpx.get(f"{server.url}/health", timeout=30).json()
        assert health["knowledge_base"]["documents"] >= 30
        assert "Ifeoma Adeyemi" in _ask(port, "Who is the manager of Fleur Janssen?")  # tables

        # Planning runs in the two spawned processes, not in the server's own interpreter.
        ready = "Offline answers are planned in 2 worker processes"
        _wait_for(server, ready)
        workers = spawned_children(server.process.pid)
        assert len(workers) == 2, workers
        before = sum(_cpu_ticks(pid) for pid in workers)
        for _ in range(3):
            assert "14" in _ask(port, "What is the minimum password length?")
        assert sum(_cpu_ticks(pid) for pid in workers) > before

        # A planning process that dies loses no answer: the step runs on the server's thread
        # and the processes are started again.
        os.kill(workers[0], signal.SIGKILL)
        # The pool learns of the death from its manager thread: a step sent before that may
        # still be planned by the other process, so ask until a step meets the broken pool.
        for _ in range(5):
            assert "14" in _ask(port, "What is the minimum password length?")
            if _count(server, "A planning process was lost"):
                break
            time.sleep(0.5)
        _wait_for(server, "A planning process was lost")
        _wait_for(server, ready, times=2)
        workers = spawned_children(server.process.pid)
        assert len(workers) == 2, workers
        assert "14" in _ask(port, "What is the minimum password length?")
    finally:
        server.stop()
    assert server.process.returncode in (0, -15)
    # Stopped with it (the deadline is a safety net for their exit, not a measure of it).
    deadline = time.monotonic() + 30
    while [pid for pid in workers if Path(f"/proc/{pid}").exists()] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []
    assert "Traceback" not in server.output()
