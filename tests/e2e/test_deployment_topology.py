"""docs/deployment.md's topology runs as written: its Procfile's process types and its
systemd units' `ExecStart` lines say the same commands, and those commands, started on a real
PostgreSQL (the page's `0.0.0.0` and `$PORT` swapped for a loopback port), serve HTTP without
jobs (`web`) and run jobs (`worker`); each stops cleanly on SIGTERM and leaves no heartbeat
row behind."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.almanac_serve import start_almanac_serve

DEPLOYMENT = (Path(__file__).resolve().parents[2] / "docs" / "deployment.md").read_text()
BIN = Path(sys.executable).parent


def _procfile() -> dict[str, str]:
    (block,) = re.findall(r"```procfile\n(.*?)```", DEPLOYMENT, flags=re.S)
    return dict(line.split(": ", 1) for line in block.splitlines() if line.strip())


def _exec_starts() -> list[str]:
    (block,) = re.findall(r"```ini\n(.*?)```", DEPLOYMENT, flags=re.S)
    return [line.removeprefix("ExecStart=") for line in block.splitlines() if "ExecStart=" in line]


def _argv(command: str, port: int) -> list[str]:
    """The command as it would run here: on loopback, on `port`, from this environment."""
    words = shlex.split(command.replace("$PORT", str(port)).replace("0.0.0.0", "127.0.0.1"))
    words = [re.sub(r"^--port=\d+$", f"--port={port}", w) for w in words]
    words = [str(port) if i and words[i - 1] == "--port" else w for i, w in enumerate(words)]
    assert words[0].endswith("almanac"), words
    return [str(BIN / "almanac"), *words[1:]]


def test_the_procfile_and_the_units_say_the_same_commands() -> None:
    processes = _procfile()
    assert set(processes) == {"web", "worker"}
    units = _exec_starts()
    assert [_argv(c, 8000)[1:] for c in units] == [
        _argv(processes["web"], 8000)[1:],
        _argv(processes["worker"], 8000)[1:],
    ]
    assert "--no-jobs" in processes["web"].split()
    assert processes["worker"].split()[:2] == ["almanac", "worker"]


@pytest.mark.slow
def test_the_documented_web_and_worker_commands_serve_and_work(tmp_path: Path, pg_url: str) -> None:
    processes = _procfile()
    env = {
        **{k: v for k, v in os.environ.items() if k != "SENTENCE_VECTORS_DB"},
        "DATABASE_URL": pg_url,
        "DATA_DIR": str(tmp_path / "data"),
        "HOST": "127.0.0.1",
        "AUTH_ENABLED": "true",  # the page's deployment: keys, any bind address
        "LOAD_SAMPLE_DATA": "false",
        "ANSWER_PROCESSES": "false",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    worker_log = tmp_path / "worker.log"
    with worker_log.open("w") as out:
        worker = subprocess.Popen(
            _argv(processes["worker"], 0),
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    web = None
    try:
        command = _argv(processes["web"], 0)
        at = command.index("--port")
        web = start_almanac_serve(
            command[:at] + command[at + 2 :],  # start_almanac_serve picks the port (PORT)
            env=env,
            cwd=tmp_path,
            log=tmp_path / "web.log",
        )
        health = httpx.get(f"{web.url}/health", timeout=30)
        assert health.status_code == 200, health.text
        deadline = time.monotonic() + 120
        while "worker ready" not in worker_log.read_text():
            assert worker.poll() is None, worker_log.read_text()[-3000:]
            if time.monotonic() > deadline:
                pytest.fail(
                    "the worker never said it was ready:\n" + worker_log.read_text()[-3000:]
                )
            time.sleep(0.1)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            roles = sorted(r[0] for r in conn.execute("SELECT role FROM processes").fetchall())
        assert roles == ["api", "worker"]
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, worker_log.read_text()[-3000:]
        if web is not None:
            web.stop()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM processes").fetchone() == (0,)
