"""`almanac serve` (what `make run` starts) on an empty data dir: it loads the bundled sample
on first start, serves on HOST/PORT from the environment, and plans offline answers in worker
processes (ANSWER_PROCESSES, on by default) that a crash of one does not take down."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import spawned_children


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Output:
    """The server's output, read on a thread (so the pipe never fills)."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line)

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def wait_for(self, text: str, times: int = 1, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while self.count(text) < times:
            assert time.monotonic() < deadline, f"no {text!r} in:\n{''.join(self.lines)}"
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
    port = _free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "INFO",
        "ANSWER_WORKERS": "2",
    }
    for name in ("OPENAI_API_KEY", "DEFAULT_MODEL", "ANSWER_PROCESSES"):
        env.pop(name, None)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "almanac"), "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(server.stdout)
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert health is not None, "".join(output.lines)
        assert health["knowledge_base"]["documents"] >= 30
        assert "Ifeoma Adeyemi" in _ask(port, "Who is the manager of Fleur Janssen?")  # tables

        # Planning runs in the two spawned processes, not in the server's own interpreter.
        ready = "Offline answers are planned in 2 worker processes"
        output.wait_for(ready)
        workers = spawned_children(server.pid)
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
            if output.count("A planning process was lost"):
                break
            time.sleep(0.5)
        output.wait_for("A planning process was lost")
        output.wait_for(ready, times=2)
        workers = spawned_children(server.pid)
        assert len(workers) == 2, workers
        assert "14" in _ask(port, "What is the minimum password length?")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode in (0, -15)
    time.sleep(1)
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []  # stopped with it
    assert "Traceback" not in "".join(output.lines)
