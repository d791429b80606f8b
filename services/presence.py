"""Which server processes are alive: what a starting process asks before it marks anything a
dead process left behind (a job it was running, a document it was staging, an answer it was
streaming) as abandoned.

Each process has an id (`host:pid:random`) that it stamps on what it owns, and proves it is
alive by holding something the operating system or the database lets go of the moment the
process dies, even by `kill -9`:
- `FilePresence` (SQLite installations: one host): an exclusive `flock` on
  `<data dir>/processes/<id>.lock`. A lock that can be taken belongs to a dead process.
- `PgPresence` (PostgreSQL: replicas on many hosts): a connection of its own whose
  `application_name` is the id. A process whose connection is gone from `pg_stat_activity`
  (of this database) is dead.

Rules: `alive` answers only for ids it can vouch for; an id it has never seen (a file or a
session that is not there) is dead. A process that stopped cleanly has ended what it owned
first. What a process owned before this mechanism (no owner recorded) is left to the older,
time-based rules (the job lease, the turn time limit, the staging age).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "FilePresence",
    "PgPresence",
    "Presence",
    "new_process_id",
    "orphaned",
    "owned_id",
    "wait_until_dead",
]


class Presence(Protocol):
    @property
    def id(self) -> str:
        """This process's id, stamped on what it owns."""
        ...

    def alive(self, ids: Iterable[str]) -> set[str]:
        """The ids among `ids` whose process is alive (this one's always is)."""
        ...

    def close(self) -> None: ...


def new_process_id() -> str:
    """`host:pid:random`, at most 63 characters (PostgreSQL's limit for application_name)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _file_name(process_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in process_id) + ".lock"


class FilePresence:
    """Liveness by `flock` on one host (module docstring)."""

    def __init__(self, directory: Path, process_id: str | None = None) -> None:
        self._directory = directory
        self._id = process_id or new_process_id()
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / _file_name(self._id)
        self._file: IO[str] | None = self._path.open("w")
        fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._file.write(self._id)
        self._file.flush()

    @property
    def id(self) -> str:
        return self._id

    def alive(self, ids: Iterable[str]) -> set[str]:
        return {i for i in ids if i == self._id or self._held(i)}

    def _held(self, process_id: str) -> bool:
        path = self._directory / _file_name(process_id)
        try:
            probe = path.open("a")
        except FileNotFoundError:
            return False
        with probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            path.unlink(missing_ok=True)  # a dead process's file: tidy it away
            return False

    def close(self) -> None:
        if self._file is not None:
            self._path.unlink(missing_ok=True)
            self._file.close()
            self._file = None


class PgPresence:
    """Liveness by a session of its own in PostgreSQL (module docstring)."""

    def __init__(self, url: str, process_id: str | None = None) -> None:
        self._url = url
        self._id = process_id or new_process_id()
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = self._connect()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        import psycopg  # the `postgres` extra: only PostgreSQL deployments have it

        return psycopg.connect(self._url, autocommit=True, application_name=self._id)

    @property
    def id(self) -> str:
        return self._id

    def alive(self, ids: Iterable[str]) -> set[str]:
        wanted = set(ids)
        if not wanted - {self._id}:
            return wanted
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                import psycopg

                with contextlib.suppress(psycopg.Error):  # our own session back first
                    self._conn = self._connect()
            assert self._conn is not None
            rows = self._conn.execute(
                "SELECT DISTINCT application_name FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = ANY(%s)",
                (list(wanted),),
            ).fetchall()
        return {str(row[0]) for row in rows} | ({self._id} & wanted)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def owned_id(presence: Presence | None, local_id: str) -> str:
    """`local_id` stamped with its owning process (`owner/local_id`), so what a dead process
    left behind can be told apart (see `orphaned`). Process ids hold no `/`."""
    return f"{presence.id}/{local_id}" if presence is not None else local_id


def orphaned(presence: Presence | None, ids: Iterable[str]) -> list[str]:
    """The ids among `ids` (made by `owned_id`) whose owning process is dead; ids without
    an owner are not judged here."""
    if presence is None:
        return []
    owners = {i: i.rsplit("/", 1)[0] for i in ids if "/" in i}
    alive = presence.alive(set(owners.values())) if owners else set()
    return sorted(i for i, owner in owners.items() if owner not in alive)


def wait_until_dead(observer: Presence, process_id: str, *, polls: int = 500) -> bool:
    """Whether `observer` sees `process_id` dead within `polls` short waits (a closed
    PostgreSQL session leaves `pg_stat_activity` a moment after the client is gone)."""
    for _ in range(polls):
        if process_id not in observer.alive([process_id]):
            return True
        time.sleep(0.01)
    return False
