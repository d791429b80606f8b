"""Two replicas on one PostgreSQL database, both finding the same source due at the same
moment, sync it once: the schedule is won by one of them, its look claims the due source,
the sync job is keyed by the source, and a second sync asked for directly while one runs is
refused."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backend.bootstrap import Container, bootstrap, start_job_worker
from tests.conftest import FixedClock, make_settings
from use_cases.access.domain import CLI_ADMIN
from use_cases.shared.errors import Conflict
from use_cases.sources.domain import SyncRun
from use_cases.sources.manage import SOURCE_SCHEDULE, AddSourceRequest
from use_cases.sources.sync import SyncRequest


def _replica(pg_url: str, data_dir: Path) -> Container:
    settings = make_settings(data_dir, database_url=pg_url, load_sample_data=False)
    return bootstrap(settings, clock=FixedClock())


def _folder(root: Path, count: int) -> Path:
    root.mkdir()
    for n in range(count):
        (root / f"note-{n:02d}.md").write_text(f"# Note {n}\n\nRoom {n} is on floor {n % 4}.\n")
    return root


def test_two_replicas_due_for_the_same_source_sync_it_once(pg_url: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "notes", 6)
    a = _replica(pg_url, tmp_path / "a")
    b = _replica(pg_url, tmp_path / "b")
    try:
        request = AddSourceRequest.of_options("notes", folder=str(folder), every="1h")
        asyncio.run(a.sources.sources.add(CLI_ADMIN, request))

        # Both replicas' schedulers look at the same moment: one wins the period.
        with ThreadPoolExecutor(2) as pool:
            ticks = list(pool.map(lambda c: c.adapters.scheduler.tick(), [a, b]))
        assert sorted(SOURCE_SCHEDULE in t for t in ticks) == [False, True]
        # The look that won claimed it: a replica looking again (restarted) queues nothing.
        assert a.sources.queue_due.run() == []
        assert b.sources.queue_due.run() == []
        for replica in (a, b):
            start_job_worker(replica)
        runs = _until_synced(a)

        assert len(runs) == 1
        assert runs[0].counts.line() == "6 added, 0 updated, 0 unchanged, 0 removed, 0 failed"
        assert a.sources.queue_due.run() == [] and b.sources.queue_due.run() == []
    finally:
        b.close()
        a.close()


def test_a_sync_asked_on_two_replicas_at_once_runs_on_one(pg_url: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "notes", 4)
    a = _replica(pg_url, tmp_path / "a")
    b = _replica(pg_url, tmp_path / "b")
    try:
        asyncio.run(
            a.sources.sources.add(
                CLI_ADMIN, AddSourceRequest.of_options("notes", folder=str(folder))
            )
        )

        refused: list[str] = []

        def meanwhile_on_b(key: str, outcome: str) -> None:
            if refused:
                return
            try:  # B asked while A's sync runs (a thread of its own, as another process)
                with ThreadPoolExecutor(1) as other:
                    other.submit(b.sources.sync.run, SyncRequest("notes")).result()
                refused.append("ran")
            except Conflict as exc:
                refused.append(exc.detail)

        run = a.sources.sync.run(SyncRequest("notes", on_item=meanwhile_on_b))

        assert run.counts.line() == "4 added, 0 updated, 0 unchanged, 0 removed, 0 failed"
        assert len(refused) == 1 and "already running" in refused[0]
        runs = asyncio.run(b.sources.sources.sync_history("notes"))
        assert [r.status for r in runs] == ["done"]
    finally:
        b.close()
        a.close()


def _until_synced(container: Container) -> list[SyncRun]:
    for _ in range(1200):
        runs = asyncio.run(container.sources.sources.sync_history("notes"))
        if runs and runs[0].status != "running":
            time.sleep(0.3)  # a second job, if there were one, would have started by now
            return asyncio.run(container.sources.sources.sync_history("notes"))
        time.sleep(0.05)
    pytest.fail("the scheduled sync did not run")
