"""A real OpenAI-compatible model server for the tests marked `local_model`: llama.cpp's
`llama-server` with SmolLM2-135M-Instruct, built and cached by `tools/local_model.py` (the same
code `make local-model` runs).

`LocalModelServer.start()` picks a free loopback port, starts the server on it and waits until
`/v1/models` answers; a port taken in between (another process got it first) is retried on
another. `shared_server` gives a test run's workers one server between them: the first to ask
starts it and writes where it listens to a file of the run; the others attach to it; the run
stops it at its end (`stop_shared_server`, called by tests/conftest.py).

The build is not started here when it is missing: `make test-local-model` (and CI's
`make test SUITE=all`) builds it first (minutes, once per machine), and a missing build fails
these tests naming that command.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from backend.config import PROJECT_ROOT

MODEL_NAME = "smollm2-135m"
START_ATTEMPTS = 3
START_TIMEOUT_S = 120.0


def local_model_tool() -> ModuleType:
    """tools/local_model.py, imported by path (it is a script, not a package)."""
    path = PROJECT_ROOT / "tools" / "local_model.py"
    spec = importlib.util.spec_from_file_location("almanac_local_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalModelServer:
    """One llama-server process serving the test model."""

    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    external: str = ""
    """The base URL of a server this process did not start (nothing to start or stop)."""
    threads: int | None = None
    """Threads the server computes on (None: tools/local_model.py's default, up to 2)."""

    @property
    def base_url(self) -> str:
        return self.external or f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LocalModelServer:
        tool = local_model_tool()
        where = tool.paths()
        if not (where.server.is_file() and where.model.is_file()):
            raise RuntimeError(
                f"The local model server is not built ({where.server}): run "
                "`make test-local-model`, which builds it first (or tools/local_model.py build)."
            )
        last_error: Exception | None = None
        for _ in range(START_ATTEMPTS):
            self.port = _free_port()
            command = tool.server_command(
                port=self.port, model_name=MODEL_NAME, threads=self.threads
            )
            log = self.log_path.open("ab")
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            log.close()
            try:
                self._wait_until_serving()
                return self
            except RuntimeError as exc:  # the port was taken, or the server died
                last_error = exc
                self.stop()
        raise RuntimeError(f"llama-server did not start: {last_error}; see {self.log_path}")

    def _wait_until_serving(self) -> None:
        import httpx

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"llama-server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"llama-server did not answer within {START_TIMEOUT_S:.0f} s")

    def kill(self) -> None:
        """SIGKILL, as a crash would end it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


#: The file of a test run (in its shared temporary root) that names its shared server.
SHARED_RECORD = "llama-server.json"


def shared_server(root: Path, *, threads: int | None = None) -> LocalModelServer:
    """The run's one server (`root`: the run's shared temporary folder; the caller holds the
    run's lock on it): the one `root/SHARED_RECORD` names while it still answers, or a new
    one, recorded there. It is not stopped with the fixture that asked for it: other workers of
    the run may still use it; `stop_shared_server` stops it when the run ends."""
    record = root / SHARED_RECORD
    if record.is_file():
        known = json.loads(record.read_text())
        server = LocalModelServer(root / "llama-server.log", external=known["base_url"])
        if _alive(int(known["pid"])) and _answers(server.base_url):
            return server
    server = LocalModelServer(root / "llama-server.log", threads=threads).start()
    assert server.process is not None
    record.write_text(json.dumps({"base_url": server.base_url, "pid": server.process.pid}))
    return server


def stop_shared_server(root: Path) -> None:
    """Stop the server `root/SHARED_RECORD` names, if any (its whole process group)."""
    record = root / SHARED_RECORD
    if not record.is_file():
        return
    pid = int(json.loads(record.read_text())["pid"])
    record.unlink()
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(base_url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{base_url}/models", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
