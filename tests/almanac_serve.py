"""`almanac serve` as a child process on a loopback port, for the end-to-end tests that start
the real command (tests/e2e/test_serve.py, tests/e2e/test_crash_recovery.py).

`almanac serve` cannot pick a port of its own (PORT=0 is refused by the settings, and
`--port 0` falls back to PORT), so the test hands it one that was free a moment ago, and the
child binds it only after its start-up (~10 s: the app, the sample, the worker processes):
another process may take the port in between. `start_almanac_serve` therefore knows the child
serves once the child itself says so (uvicorn's "Uvicorn running on http://HOST:PORT",
logged at INFO; a /health answering on that port could be another process's), and when the
child exited because the port was taken (uvicorn logs "address already in use"), starts it
again on another port.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: What uvicorn logs (at ERROR) before exiting when its port is taken.
PORT_TAKEN = "address already in use"
#: Loopback ports tried before giving up; each one was free when it was picked.
ATTEMPTS = 5


def unused_port() -> int:
    """A loopback port free at this moment (not reserved: see `start_almanac_serve`)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServeChild:
    """One `almanac serve` process serving on `port`, its output in `log`."""

    process: subprocess.Popen[Any]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start_almanac_serve(
    command: list[str], *, env: dict[str, str], cwd: Path, log: Path, within_s: float = 120
) -> ServeChild:
    """Start `command` (`almanac serve ...`) with PORT set to an unused loopback port, its
    output in `log`, and return once it reports serving on that port. A start that lost its
    port to another process is started again on another one (its output kept beside `log`,
    numbered); any other exit, or no report within `within_s` (a safety net, not a measure
    of speed), stops the child and fails the test with the end of its output. HOST must be
    127.0.0.1 and LOG_LEVEL at most INFO (the report is an INFO line)."""
    assert env.get("HOST") == "127.0.0.1", "the child serves on loopback"
    assert env.get("LOG_LEVEL", "INFO").upper() in ("TRACE", "DEBUG", "INFO"), (
        "uvicorn reports its port at INFO"
    )
    for attempt in range(ATTEMPTS):
        port = unused_port()
        output = log if attempt == 0 else log.with_name(f"{log.stem}-{attempt}{log.suffix}")
        with output.open("w") as out:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env={**env, "PORT": str(port)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        child = ServeChild(process, port, output)
        try:
            if _serves(child, within_s):
                return child
        except BaseException:
            child.stop()
            raise
        if PORT_TAKEN not in child.output():
            pytest.fail(
                f"almanac serve exited with {process.returncode}:\n{child.output()[-4000:]}"
            )
    pytest.fail(f"almanac serve lost each of {ATTEMPTS} free ports to another process")


def _serves(child: ServeChild, within_s: float) -> bool:
    """Whether `child` reports serving on its port (True) or exited first (False)."""
    report = f"Uvicorn running on {child.url} "
    deadline = time.monotonic() + within_s
    while report not in child.output():
        if child.process.poll() is not None:
            return report in child.output()
        if time.monotonic() > deadline:
            pytest.fail(
                f"almanac serve did not serve within {within_s:.0f} s:\n{child.output()[-4000:]}"
            )
        time.sleep(0.1)
    return True
