"""Planning processes (`services/offline/processes.py`) end with their server, even when it is
killed with SIGKILL and cannot stop them itself. (Their use by a real server, and a killed
planning process, are in test_serve.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import spawned_children

ROOT = Path(__file__).resolve().parents[2]

SERVER = """
import time
from services.offline.processes import PlanningProcesses

processes = PlanningProcesses(2, object)  # a planner nobody asks: only the processes matter
processes.enable()
while not processes.ready:
    time.sleep(0.05)
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_planning_processes_end_when_their_server_is_killed() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # loguru's lines
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        workers = spawned_children(server.pid)
        assert len(workers) == 2, workers
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        # A safety net (they end as soon as their parent's pipe closes), not a speed bound.
        deadline = time.monotonic() + 120
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            if time.monotonic() > deadline:
                pytest.fail("planning processes outlived their server")
            time.sleep(0.1)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
