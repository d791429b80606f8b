"""One SQLite connection per thread, for stores called from FastAPI's worker threads.

A sqlite connection must not run two statements at once, so each thread gets its own (opened
on first use, and again in a forked child); `close()` closes all of them at shutdown.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from services.sqlite.connection import Connection, connect


class ThreadConnections:
    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[Connection] = []

    def get(self) -> Connection:
        """This thread's connection."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            # check_same_thread=False only so close() can close every thread's connection;
            # each connection is still used by the one thread that opened it.
            conn = connect(self._path, check_same_thread=False)
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()
