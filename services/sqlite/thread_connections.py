"""One SQLite connection per thread, for stores called from FastAPI's worker threads.

A sqlite connection must not run two statements at once, so each thread gets its own (opened
on first use, and again in a forked child); `close()` closes all of them at shutdown. Every
connection is opened by `connection.connect`, so all stores share one connection policy.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from services.sqlite.connection import Connection, connect


class ThreadConnections:
    """Per-thread connections to `path`.

    `readonly=True` opens them with `mode=ro` (see `connect`); `row_factory` (e.g.
    `connection.Row`) is set on each connection for stores that read columns by name.
    """

    def __init__(
        self, path: str | Path, *, readonly: bool = False, row_factory: Any = None
    ) -> None:
        self._path = Path(path)
        self._readonly = readonly
        self._row_factory = row_factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[Connection] = []

    @property
    def path(self) -> Path:
        return self._path

    def get(self) -> Connection:
        """This thread's connection."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            # check_same_thread=False only so close() can close every thread's connection;
            # each connection is still used by the one thread that opened it.
            conn = connect(self._path, readonly=self._readonly, check_same_thread=False)
            if self._row_factory is not None:
                conn.row_factory = self._row_factory
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
