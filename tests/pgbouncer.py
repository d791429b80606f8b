"""Debian's PgBouncer in front of the test PostgreSQL, in transaction mode, for the tests that
run Almanac behind a pooler (tests/e2e/test_replicas.py).

The pooler is the system's `pgbouncer` (`apt-get install pgbouncer`; `.ci/run` installs it).
Missing, the test that needs it fails and says how to install it: CI always has it. It listens
on a free loopback port with a configuration of its own (`pool_mode = transaction`, every
client logged in as the server's user: `auth_type = any`) and forwards to the server's Unix
socket. PgBouncer refuses to run as root: as root it is started as the user that owns the
server's data directory (pgserver's `pgserver` user), in a directory that user may write.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

INSTALL = "apt-get install pgbouncer"
START_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgBouncer:
    """One PgBouncer configuration on a fixed loopback port that can be stopped and started
    again (an outage of the pooler): `url` stays the same."""

    def __init__(self, server_url: str, *, pool_size: int = 20) -> None:
        binary = shutil.which("pgbouncer") or next(
            (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(p).exists()), None
        )
        if binary is None:
            pytest.fail(f"PgBouncer is not installed: {INSTALL} (.ci/run installs it)")
        info = psycopg.conninfo.conninfo_to_dict(server_url)
        host, port = str(info.get("host") or "127.0.0.1"), str(info.get("port") or "5432")
        user, dbname = str(info.get("user") or "postgres"), str(info.get("dbname") or "postgres")
        password = info.get("password")
        self.directory = Path(tempfile.mkdtemp(prefix="almanac-pgbouncer-"))
        listen = _free_port()
        login = f" password={password}" if password else ""
        (self.directory / "pgbouncer.ini").write_text(
            f"""[databases]
* = host={host} port={port} user={user}{login}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
logfile = {self.directory / "pgbouncer.log"}
"""
        )
        self._command = [binary]
        if os.geteuid() == 0:  # PgBouncer will not run as root: as the server's owner instead
            owner = pwd.getpwuid(Path(host).stat().st_uid).pw_name if host.startswith("/") else ""
            runner = owner if owner and owner != "root" else "nobody"
            self.directory.chmod(0o777)
            self._command += ["-u", runner]
        self._command.append(str(self.directory / "pgbouncer.ini"))
        self.url = f"postgresql://{user}@127.0.0.1:{listen}/{dbname}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers a query."""
        self._process = subprocess.Popen(
            self._command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_S
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2, prepare_threshold=None) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                log = self.directory / "pgbouncer.log"
                if self._process.poll() is not None or time.monotonic() > deadline:
                    text = log.read_text() if log.exists() else ""
                    pytest.fail(f"PgBouncer did not start: {text[-2000:]}")
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop it (its clients' connections are cut; new ones are refused)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def pgbouncer_process(server_url: str, *, pool_size: int = 20) -> Iterator[PgBouncer]:
    """A started transaction-mode PgBouncer in front of the server of `server_url`, which
    the test may stop and start again."""
    made = PgBouncer(server_url, pool_size=pool_size)
    try:
        made.start()
        yield made
    finally:
        made.close()


@contextmanager
def pgbouncer(server_url: str, *, pool_size: int = 20) -> Iterator[str]:
    """A transaction-mode PgBouncer in front of the server of `server_url` (any database on
    it); yields the URL of the same database through the pooler."""
    with pgbouncer_process(server_url, pool_size=pool_size) as made:
        yield made.url
