"""Which server processes are alive: what a starting process asks before it marks anything a
dead process left behind (a job it was running, a document it was staging, an answer it was
streaming) as abandoned.

Each process has an id (`host:pid:random`) that it stamps on what it owns, and proves it is
alive in a way that ends when the process dies, even by `kill -9`:
- `FilePresence` (SQLite installations: one host): an exclusive `flock` on
  `<data dir>/processes/<id>.lock`. A lock that can be taken belongs to a dead process.
- `PgPresence` (PostgreSQL: replicas on many hosts): a row of its own in `processes`, renewed
  every few seconds (a heartbeat). A process whose row is missing or older than the timeout
  is dead; rows silent for an hour (`PRUNE_AFTER_S`) are deleted by the live processes.
  (Liveness by a session of its own in `pg_stat_activity` did not survive a
  transaction-mode pooler: the session behind the pooler is nobody's, so every process
  looked dead to the others and they took each other's jobs.)

Rules: `alive` answers only for ids it can vouch for; an id it has never seen (a file or a
row that is not there) is dead. A process that stopped cleanly has ended what it owned
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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from loguru import logger

from services.postgres.migrations import Migration

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "MIGRATIONS",
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


#: The `processes` table (PostgreSQL): one row per live process, renewed by its heartbeat.
MIGRATIONS = [
    Migration(
        "presence_pg_0001_processes",
        """
        CREATE TABLE processes (
            id           TEXT PRIMARY KEY,
            role         TEXT NOT NULL,
            started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
            heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """,
    ),
]

_BEAT = """
INSERT INTO processes (id, role) VALUES (%s, %s)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
"""

#: Seconds after its last heartbeat at which a process's row is deleted. A row older than the
#: timeout already reads as dead, as a missing one does; it is kept this long for a person
#: looking at recent processes, then removed, so rows of processes killed without a clean
#: stop (`kill -9`, a lost host) do not pile up over the months.
PRUNE_AFTER_S = 3600.0
#: Seconds between two prunings by one process (each process prunes at start, then this often).
PRUNE_EVERY_S = 600.0

_PRUNE = "DELETE FROM processes WHERE heartbeat_at < now() - make_interval(secs => %s)"


def _create_table(url: str, prepared: bool) -> None:
    """The `processes` table's migrations, applied once (this runs before any store's)."""
    from services.postgres.database import PgDatabase
    from services.postgres.migrations import apply_migrations

    database = PgDatabase(
        url, min_size=1, max_size=1, application_name="almanac-presence", prepared=prepared
    )
    try:
        apply_migrations(database, MIGRATIONS)
    finally:
        database.close()


class PgPresence:
    """Liveness by a heartbeat row in PostgreSQL (module docstring).

    A thread renews the row every `heartbeat_s`; a row older than `timeout_s` (database clock)
    is a dead process. It works through a transaction-mode pooler (each renewal is one
    statement on whatever server connection the pooler lends), and a connection terminated by
    the server (`pg_terminate_backend`, a pooler recycling it) kills nothing: the next renewal
    reconnects. A process stopped longer than `timeout_s` (SIGSTOP, a long pause) is dead to
    the others even if it resumes later: what it owned was taken over, and what it still
    tries to finish is fenced by the job's lease (services/job_store.py)."""

    def __init__(
        self,
        url: str,
        process_id: str | None = None,
        *,
        role: str = "server",
        heartbeat_s: float = 5.0,
        timeout_s: float = 30.0,
        prepared: bool = True,
    ) -> None:
        self._url = url
        self._id = process_id or new_process_id()
        self._role = role
        self._heartbeat_s = heartbeat_s
        self._timeout_s = timeout_s
        self._prepared = prepared
        self._lock = threading.Lock()
        self._stop = threading.Event()
        _create_table(url, prepared)
        self._conn: psycopg.Connection[tuple[object, ...]] | None = self._connect()
        self._conn.execute(_BEAT, (self._id, role))
        self._pruned_at = 0.0
        self._prune()
        self._thread = threading.Thread(target=self._beat, name="almanac-presence", daemon=True)
        self._thread.start()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        import psycopg  # the `postgres` extra: only PostgreSQL deployments have it

        from services.postgres.database import CONNECT_TIMEOUT_S

        options = {} if self._prepared else {"prepare_threshold": None}
        return psycopg.connect(
            self._url,
            autocommit=True,
            application_name=self._id,
            connect_timeout=CONNECT_TIMEOUT_S,
            **options,
        )

    @property
    def id(self) -> str:
        return self._id

    def _execute(self, query: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        """One statement on this presence's connection, reconnecting once if it was lost."""
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.closed or self._conn.broken:
                        self._conn = self._connect()
                    cursor = self._conn.execute(query, params)
                    return cursor.fetchall() if cursor.description else []
                except psycopg.OperationalError:
                    if attempt == 2:
                        raise
                    with contextlib.suppress(psycopg.Error):
                        if self._conn is not None:
                            self._conn.close()
                    self._conn = None
        return []

    def _beat(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            try:
                self._execute(_BEAT, (self._id, self._role))
                if time.monotonic() - self._pruned_at >= PRUNE_EVERY_S:
                    self._prune()
            except Exception as exc:  # the database away: the next beat tries again
                logger.warning("Could not renew this process's heartbeat: {}", exc)

    def _prune(self) -> None:
        """Delete the rows of processes silent for `PRUNE_AFTER_S` (never less than the
        timeout: a row that still counts stays)."""
        self._execute(_PRUNE, (max(PRUNE_AFTER_S, self._timeout_s),))
        self._pruned_at = time.monotonic()

    def alive(self, ids: Iterable[str]) -> set[str]:
        wanted = set(ids)
        if not wanted - {self._id}:
            return wanted
        rows = self._execute(
            "SELECT id FROM processes WHERE id = ANY(%s) "
            "AND heartbeat_at > now() - make_interval(secs => %s)",
            (list(wanted), self._timeout_s),
        )
        return {str(row[0]) for row in rows} | ({self._id} & wanted)

    def close(self) -> None:
        """This process stops: its row goes (it is dead to the others at once)."""
        self._stop.set()
        self._thread.join(timeout=self._heartbeat_s + 5)
        with contextlib.suppress(Exception):
            self._execute("DELETE FROM processes WHERE id = %s", (self._id,))
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
    """Whether `observer` sees `process_id` dead within `polls` short waits (a file lock is
    released, or a heartbeat row deleted, a moment after the process lets go)."""
    for _ in range(polls):
        if process_id not in observer.alive([process_id]):
            return True
        time.sleep(0.01)
    return False
