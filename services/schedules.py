"""Periodic work that runs once per cluster, whatever the number of processes.

`Schedules` keeps one row per named task with the time it is next due (`next_at`). A process
that finds a task due moves `next_at` one period on in the same statement (`UPDATE ... WHERE
next_at <= now RETURNING`), so among the processes asking at the same moment exactly one wins
the period; the others see it moved. The row is made, due at once, the first time a task is
asked about. Times: the database's clock on PostgreSQL (one clock for every replica); on
SQLite (one machine) this process's, as ISO text.

`Scheduler` asks for its tasks every `tick_s` on a thread of its own, in the processes that
run jobs, and runs the action of each task it won (what it runs is a job submission: the work
itself goes to whichever worker claims it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from loguru import logger

from services.postgres.migrations import Migration as PgMigration
from services.sql import StoreTarget, sql_db

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "Scheduler", "Schedules"]

MIGRATIONS = [
    ("schedules_0001", "CREATE TABLE schedules (name TEXT PRIMARY KEY, next_at TEXT NOT NULL)"),
]
PG_MIGRATIONS = [
    PgMigration(
        "schedules_pg_0001",
        "CREATE TABLE schedules (name TEXT PRIMARY KEY, next_at TIMESTAMPTZ NOT NULL)",
    ),
]


class Schedules:
    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._postgres = self._db.dialect == "postgresql"
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def due(self, name: str, every_s: float) -> bool:
        """Whether this process won task `name`'s current period (module docstring)."""
        if self._postgres:
            now_at: tuple[object, ...]
            later_at: tuple[object, ...]
            now, now_at = "now()", ()
            later, later_at = "now() + make_interval(secs => ?)", (every_s,)
        else:
            moment = datetime.now(UTC)
            now, now_at = "?", (self._db.put_time(moment),)
            later = "?"
            later_at = (self._db.put_time(moment + timedelta(seconds=every_s)),)
        with self._db.write() as conn:
            conn.execute(
                f"INSERT INTO schedules (name, next_at) VALUES (?, {now}) "
                "ON CONFLICT (name) DO NOTHING",
                (name, *now_at),
            )
            won = conn.execute(
                f"UPDATE schedules SET next_at = {later} WHERE name = ? AND next_at <= {now} "
                "RETURNING name",
                (*later_at, name, *now_at),
            ).fetchone()
        return won is not None

    def retry(self, name: str) -> None:
        """Task `name` due again at once: the period this process won ran nothing (its
        action failed), so the next tick of any process asks again."""
        moment = "now()" if self._postgres else "?"
        moment_at = () if self._postgres else (self._db.put_time(datetime.now(UTC)),)
        with self._db.write() as conn:
            conn.execute(
                f"UPDATE schedules SET next_at = {moment} WHERE name = ?", (*moment_at, name)
            )

    def close(self) -> None:
        self._db.close()


class Scheduler:
    def __init__(self, schedules: Schedules, *, tick_s: float = 5.0) -> None:
        self._schedules = schedules
        self._tick_s = tick_s
        self._tasks: list[tuple[str, float, Callable[[], object]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def every(self, name: str, seconds: float, action: Callable[[], object]) -> None:
        """Run `action` once per `seconds` in the whole cluster (task `name`)."""
        self._tasks.append((name, seconds, action))

    @property
    def tasks(self) -> list[str]:
        return [name for name, _, _ in self._tasks]

    def start(self) -> None:
        if self._thread is not None or not self._tasks:
            return
        self._thread = threading.Thread(target=self._run, name="almanac-schedules", daemon=True)
        self._thread.start()

    def tick(self) -> list[str]:
        """Ask once for every task; run the actions of those won. Returns their names."""
        ran = []
        for name, seconds, action in self._tasks:
            try:
                if not self._schedules.due(name, seconds):
                    continue
            except Exception as exc:  # the database away: the next tick asks
                logger.warning("Scheduled task {} could not be asked about: {}", name, exc)
                continue
            try:
                action()
                ran.append(name)
            except Exception as exc:  # a full queue: the period won is handed back
                logger.warning("Scheduled task {} did not run: {}", name, exc)
                try:
                    self._schedules.retry(name)
                except Exception as again:
                    logger.warning("Scheduled task {} waits for its next period: {}", name, again)
        return ran

    def _run(self) -> None:
        while True:
            self.tick()
            if self._stop.wait(self._tick_s):
                return

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._tick_s + 5)
        self._schedules.close()
