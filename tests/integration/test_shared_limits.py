"""Limits and periodic work that hold across replicas, on a real PostgreSQL (and Redis): each
"replica" here is a store of its own (its own pool and presence) on one database, as separate
processes are.

- The per-user attachment caps (`SharedUploadLimits` on `PgUploadLedger`): bytes in flight
  are summed over the replicas, a user's files run one at a time across them in the order
  they came, and the files of a process that died stop counting.
- The evaluation runs' provider rate (`ProviderRateLimits` with shared buckets): two workers
  drawing from one bucket take its burst once between them, not once each.
- The chunks a user's attached files embed a minute (`ChunkBudget` on the same buckets):
  one bucket per user, whichever replica a file came through.
- A scheduled task (the periodic conflict scan) runs once per period in the whole cluster
  (and on SQLite's one machine).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from functools import partial

import pytest

from services.conversations.pg_upload_ledger import PgUploadLedger
from services.postgres import PgDatabase
from services.postgres.rate_limits import PgTokenBuckets
from services.presence import PgPresence, wait_until_dead
from services.redis_buckets import RedisTokenBuckets
from use_cases.conversations.chunk_budget import ChunkBudget
from use_cases.conversations.upload_limits import SharedUploadLimits
from use_cases.evaluation.engine import ProviderRateLimits
from use_cases.shared.errors import RateLimited, TooMuchInFlight

CAP = 1000


class Replica:
    """One process's view: its pool, its presence (its heartbeat row), its ledger."""

    def __init__(self, url: str) -> None:
        self.presence = PgPresence(url, heartbeat_s=0.2, timeout_s=1.0)
        self.db = PgDatabase(url, max_size=3, application_name=self.presence.id)
        self.limits = SharedUploadLimits(
            PgUploadLedger(self.db, self.presence.id, process_timeout_s=1.0),
            concurrent=1,
            max_bytes=CAP,
            poll_s=0.05,
        )

    def close(self) -> None:
        self.db.close()
        self.presence.close()


@pytest.fixture
def replicas(pg_url: str) -> Iterator[list[Replica]]:
    made = [Replica(pg_url), Replica(pg_url)]
    yield made
    for replica in made:
        replica.close()


async def test_a_users_bytes_in_flight_are_capped_in_total_across_replicas(
    replicas: list[Replica],
) -> None:
    a, b = replicas
    holding, release = asyncio.Event(), asyncio.Event()

    async def held_on_a() -> None:
        async with a.limits.admit("ann", 600):
            holding.set()
            await release.wait()

    first = asyncio.create_task(held_on_a())
    await holding.wait()
    with pytest.raises(TooMuchInFlight, match="CHAT_FILE_USER_IN_FLIGHT_BYTES"):
        async with b.limits.admit("ann", 600):  # 1,200 in total: over the cap
            pytest.fail("admitted past the cap")
    async with b.limits.admit("bob", 900):  # another user's: their own cap
        assert b.limits.in_flight("bob") == (1, 900)

    order: list[str] = []

    async def second_on_b() -> None:  # fits the cap, waits for ann's first to end
        async with b.limits.admit("ann", 300):
            order.append("second")

    second = asyncio.create_task(second_on_b())
    await asyncio.sleep(0.5)
    assert order == [] and a.limits.in_flight("ann") == (2, 900)
    order.append("first ends")
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 30)
    assert order == ["first ends", "second"]
    assert b.limits.in_flight("ann") == (0, 0)


async def test_the_files_of_a_process_that_died_stop_counting(replicas: list[Replica]) -> None:
    a, b = replicas
    holding = asyncio.Event()

    async def held_on_a() -> None:
        async with a.limits.admit("ann", 900):
            holding.set()
            await asyncio.Event().wait()

    first = asyncio.create_task(held_on_a())
    await holding.wait()
    assert b.limits.in_flight("ann") == (1, 900)
    a.presence.close()  # A dies (its heartbeat row is gone), its ticket left behind
    assert wait_until_dead(b.presence, a.presence.id)
    async with b.limits.admit("ann", 900):
        assert b.limits.in_flight("ann") == (1, 900)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first


@pytest.mark.parametrize("where", ["postgresql", "redis"])
async def test_two_workers_share_one_provider_bucket(
    where: str, request: pytest.FixtureRequest
) -> None:
    if where == "postgresql":
        db = PgDatabase(str(request.getfixturevalue("pg_url")), max_size=2)
        request.addfinalizer(db.close)
        shared: PgTokenBuckets | RedisTokenBuckets = PgTokenBuckets(db)
    else:
        shared = RedisTokenBuckets(str(request.getfixturevalue("redis_url")))
        request.addfinalizer(shared.close)
    # 120 a minute: bursts of 2, then one every half second, for both workers together.
    workers = [
        ProviderRateLimits(120, monotonic=lambda: 0.0, sleep=asyncio.sleep, shared=shared)
        for _ in range(2)
    ]
    assert await workers[0].acquire("openai") == 0.0
    assert await workers[1].acquire("openai") == 0.0
    waited = await workers[1].acquire("openai")  # the burst is spent, by both together
    assert waited > 0
    assert await workers[0].acquire("offline") == 0.0  # never limited


def test_a_scheduled_task_runs_once_per_period_in_the_whole_cluster(backend_url: str) -> None:
    """Two processes' schedulers ask together: one runs the task, and not again this period."""
    from pathlib import Path

    from services.schedules import Scheduler, Schedules

    databases: list[PgDatabase] = []

    def target() -> PgDatabase | Path:
        if backend_url.startswith("postgresql"):
            databases.append(PgDatabase(backend_url, max_size=2))
            return databases[-1]
        return Path(backend_url.removeprefix("sqlite:///")) / "app.db"

    ran: list[str] = []
    schedulers = [Scheduler(Schedules(target())) for _ in range(2)]
    for name, scheduler in zip("ab", schedulers, strict=True):
        scheduler.every("conflict_scan", 3600, partial(ran.append, name))
    try:
        first = [scheduler.tick() for scheduler in schedulers]
        again = [scheduler.tick() for scheduler in schedulers]
        assert sorted(first) == [[], ["conflict_scan"]] and len(ran) == 1
        assert again == [[], []]
    finally:
        for scheduler in schedulers:
            scheduler.close()
        for database in databases:
            database.close()


def test_a_period_whose_action_failed_is_asked_for_again(backend_url: str) -> None:
    """A task won but failed (a full queue) is due again at once, not a whole period later."""
    from pathlib import Path

    from services.schedules import Scheduler, Schedules

    database = PgDatabase(backend_url, max_size=2) if backend_url.startswith("postgresql") else None
    path = Path(backend_url.removeprefix("sqlite:///")) / "app.db"
    scheduler = Scheduler(Schedules(database if database is not None else path))
    attempts: list[int] = []

    def flaky() -> None:
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise RuntimeError("the queue is full")

    scheduler.every("conflict_scan", 3600, flaky)
    try:
        assert scheduler.tick() == []  # won, failed, handed back
        assert scheduler.tick() == ["conflict_scan"]  # asked again at once, and ran
        assert scheduler.tick() == []  # then not again this period
        assert attempts == [0, 1]
    finally:
        scheduler.close()
        if database is not None:
            database.close()


@pytest.mark.parametrize("where", ["postgresql", "redis"])
def test_a_users_chunk_budget_is_one_across_replicas(
    where: str, request: pytest.FixtureRequest
) -> None:
    """Two replicas' budgets of 10 chunks a minute over one store: the user's files spend one
    bucket between them; another user's is their own."""
    replicas: list[PgTokenBuckets | RedisTokenBuckets] = []
    for _ in range(2):
        if where == "postgresql":
            db = PgDatabase(str(request.getfixturevalue("pg_url")), max_size=2)
            request.addfinalizer(db.close)
            replicas.append(PgTokenBuckets(db))
        else:
            shared = RedisTokenBuckets(str(request.getfixturevalue("redis_url")))
            request.addfinalizer(shared.close)
            replicas.append(shared)
    user = f"ann-{uuid.uuid4().hex}"  # a bucket of its own in the shared store
    a, b = (ChunkBudget(buckets, per_minute=10) for buckets in replicas)
    a.spend(user, "a.md", 6)
    with pytest.raises(RateLimited, match="CHAT_FILE_USER_CHUNKS_PER_MINUTE") as refused:
        b.spend(user, "b.md", 6)  # 4 left: 2 more take 12 s
    # Some of the 12 s may have refilled already on a slow machine: only the bound is certain.
    assert 0 < (refused.value.retry_after_s or 0) <= 12
    b.spend(user, "c.md", 4)  # the refusal took nothing
    b.spend(f"bob-{uuid.uuid4().hex}", "d.md", 10)
