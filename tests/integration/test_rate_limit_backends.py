"""The per-key rate limit wherever its buckets live: in memory on SQLite (a clock the test
advances), in a table on PostgreSQL and in Redis with REDIS_URL (their servers' clocks; the
test ages a bucket instead of sleeping); in PostgreSQL and Redis the same limit held across
replicas, and a Redis that does not answer is a 503, not an unlimited request."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from fastapi import Depends, FastAPI

from backend.api.deps import current_caller
from backend.api.errors import install_error_handlers
from backend.api.rate_limit import (
    PgTokenBucketLimiter,
    RateLimited,
    RateLimiter,
    RedisTokenBucketLimiter,
    TokenBucketLimiter,
    build_rate_limiter,
)
from services.redis_buckets import KEY_PREFIX
from tests.conftest import make_settings
from tests.unit.test_rate_limit import ManualClock
from use_cases.access.domain import Caller


@dataclass
class Limits:
    """Limiters of one backend; `make(n)` is one more process's limiter of `n` per minute."""

    make: Callable[[int], RateLimiter]
    advance: Callable[[str, float], None]
    """Let `seconds` pass for the bucket of `key`."""


@pytest.fixture(params=["memory", "postgresql", "redis"])
def limits(request: pytest.FixtureRequest) -> Iterator[Limits]:
    made: list[RateLimiter] = []
    if request.param == "memory":
        clock = ManualClock()

        def make_memory(per_minute: int) -> RateLimiter:
            made.append(TokenBucketLimiter(per_minute, clock))
            return made[-1]

        yield Limits(make_memory, lambda key, seconds: clock.advance(seconds))
        return
    if request.param == "redis":
        url = str(request.getfixturevalue("redis_url"))
        client = redis.Redis.from_url(url)

        def make_redis(per_minute: int) -> RateLimiter:
            made.append(RedisTokenBucketLimiter(per_minute, url))
            return made[-1]

        def age(key: str, seconds: float) -> None:
            client.hincrbyfloat(KEY_PREFIX + key, "updated", -seconds)

        yield Limits(make_redis, age)
        client.close()
        for limiter in made:
            limiter.close()
        return
    url = str(request.getfixturevalue("pg_url"))

    def make_pg(per_minute: int) -> RateLimiter:
        made.append(PgTokenBucketLimiter(per_minute, url))
        return made[-1]

    def advance(key: str, seconds: float) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE rate_limit_buckets SET updated_at = updated_at - "
                "make_interval(secs => %s) WHERE key = %s",
                (seconds, key),
            )

    yield Limits(make_pg, advance)
    for limiter in made:
        limiter.close()


def test_a_caller_may_burst_up_to_the_limit_then_waits_for_a_refill(limits: Limits) -> None:
    limiter = limits.make(6)  # one token every 10 s
    assert [limiter.acquire("ana") for _ in range(6)] == [0.0] * 6
    assert limiter.acquire("ana") == pytest.approx(10.0, abs=0.5)
    limits.advance("ana", 4)
    assert limiter.acquire("ana") == pytest.approx(6.0, abs=0.5)
    limits.advance("ana", 6)
    assert limiter.acquire("ana") == 0.0
    assert limiter.acquire("ana") == pytest.approx(10.0, abs=0.5)


def test_refused_requests_take_nothing_and_callers_have_their_own_buckets(
    limits: Limits,
) -> None:
    limiter = limits.make(2)
    assert limiter.acquire("ana") == limiter.acquire("ana") == 0.0
    assert limiter.acquire("bob") == 0.0
    waits = [limiter.acquire("ana") for _ in range(5)]
    assert waits == [pytest.approx(30.0, abs=0.5)] * 5  # refusals do not push it further
    limits.advance("ana", 3600)
    assert [limiter.acquire("ana") == 0.0 for _ in range(3)] == [True, True, False]


def test_the_backend_picks_where_the_buckets_live(backend_url: str, tmp_path: Path) -> None:
    url = backend_url
    settings = make_settings(tmp_path, database_url=url, rate_limit_per_minute=5)
    limiter = build_rate_limiter(settings, ManualClock())
    try:
        expected = TokenBucketLimiter if url.startswith("sqlite") else PgTokenBucketLimiter
        assert type(limiter) is expected and limiter.per_minute == 5
        assert limiter.acquire("ana") == 0.0
    finally:
        limiter.close()


def test_redis_url_puts_the_buckets_in_redis_on_either_backend(
    backend_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, database_url=backend_url, redis_url=redis_url, rate_limit_per_minute=5
    )
    limiter = build_rate_limiter(settings, ManualClock())
    client = redis.Redis.from_url(redis_url)
    try:
        assert type(limiter) is RedisTokenBucketLimiter and limiter.per_minute == 5
        assert limiter.acquire("key:k1") == 0.0
        tokens = client.hget(KEY_PREFIX + "key:k1", "tokens")
        assert isinstance(tokens, bytes)
        assert float(tokens) == pytest.approx(4.0, abs=0.01)
        assert 0 < client.ttl(KEY_PREFIX + "key:k1") <= 13  # gone once full again (12 s)
    finally:
        client.close()
        limiter.close()


@pytest.mark.parametrize(
    "url", ["http://localhost:6379", "postgresql://x/y", "redis//host", "localhost:6379"]
)
def test_a_redis_url_of_another_kind_is_refused_at_start_up(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="REDIS_URL must start with redis://"):
        make_settings(tmp_path, redis_url=url)


# --- several replicas on one PostgreSQL, or one Redis ------------------------------------------


@pytest.fixture(params=["postgresql", "redis"])
def shared(request: pytest.FixtureRequest) -> Callable[[int], RateLimiter]:
    """One more replica's limiter of `n` per minute on the shared store."""
    if request.param == "redis":
        url = str(request.getfixturevalue("redis_url"))
        return lambda n: RedisTokenBucketLimiter(n, url)
    url = str(request.getfixturevalue("pg_url"))
    return lambda n: PgTokenBucketLimiter(n, url)


def test_replicas_share_each_keys_bucket_and_never_both_take_the_last_token(
    shared: Callable[[int], RateLimiter],
) -> None:
    replicas = [shared(10) for _ in range(3)]
    allowed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(replicas))

    def hammer(limiter: RateLimiter) -> None:
        start.wait()
        mine = sum(limiter.acquire("key:shared") == 0.0 for _ in range(10))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=hammer, args=(r,)) for r in replicas]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sum(allowed) == 10  # 30 requests over 3 replicas, 10 tokens in all
        assert replicas[0].acquire("key:other") == 0.0  # another key is untouched
    finally:
        for limiter in replicas:
            limiter.close()


async def test_over_the_limit_on_any_replica_is_429_with_retry_after(
    shared: Callable[[int], RateLimiter],
) -> None:
    """Two app processes' worth of limiters: the second replica refuses the caller who used
    up the allowance on the first."""

    def replica() -> FastAPI:
        app = FastAPI()
        install_error_handlers(app)
        app.state.rate_limiter = shared(2)
        app.dependency_overrides[current_caller] = lambda: Caller("ana", "user", "key_ana")

        @app.post("/turn", dependencies=[RateLimited])
        async def turn(caller: Caller = Depends(current_caller)) -> dict[str, str]:
            return {"user": caller.user_id}

        return app

    first, second = replica(), replica()
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(first), base_url="http://a") as a,
            httpx.AsyncClient(transport=httpx.ASGITransport(second), base_url="http://b") as b,
        ):
            assert (await a.post("/turn")).status_code == 200
            assert (await b.post("/turn")).status_code == 200
            refused = await a.post("/turn")
            refused_too = await b.post("/turn")
    finally:
        first.state.rate_limiter.close()
        second.state.rate_limiter.close()
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "30")
    assert refused.json()["code"] == "rate_limited"
    assert refused_too.status_code == 429


async def test_a_redis_that_does_not_answer_is_503_and_the_request_does_not_run(
    tmp_path: Path,
) -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.state.rate_limiter = RedisTokenBucketLimiter(5, f"unix://{tmp_path / 'no-redis.sock'}")
    app.dependency_overrides[current_caller] = lambda: Caller("ana", "user", "key_ana")
    ran: list[str] = []

    @app.post("/turn", dependencies=[RateLimited])
    async def turn() -> dict[str, str]:
        ran.append("turn")
        return {}

    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app, raise_app_exceptions=False), base_url="http://a"
        ) as client:
            response = await client.post("/turn")
    finally:
        app.state.rate_limiter.close()
    assert response.status_code == 503 and ran == []
    assert response.json()["code"] == "upstream_unavailable"
    assert "REDIS_URL" in response.json()["detail"] and "Traceback" not in response.text
