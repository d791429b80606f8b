"""Per-caller rate limit of the endpoints that run a model turn, as a reusable dependency.

Rules:
- A token bucket per caller: `RATE_LIMIT_PER_MINUTE` requests at once, refilled continuously at
  that many per minute. 0 disables the limit.
- The caller is the API key that authenticated the request (`Caller.key_id`): two keys of one
  user have two buckets. Without a key (AUTH_ENABLED=false, where every request is the same
  local user) it is the client address, so one client cannot use up everyone's allowance.
  Nothing else the client sends (a `user_id`, an `X-User-Id` header) picks the bucket.
- The dependency depends on the caller dependency, so it always runs after authentication:
  a request refused with 401 never reaches the limiter and costs no token.
- Over the limit: 429 `rate_limited` with `Retry-After` (whole seconds until one more request is
  allowed) and a problem body. A refused request costs nothing.
- Where the buckets live: with REDIS_URL, in that Redis, one atomic script per request on the
  Redis clock (`services/redis_buckets.py`); else on PostgreSQL (DATABASE_URL=postgresql://...)
  in a table every replica shares, one atomic statement per request on the database clock
  (`services/postgres/rate_limits.py`); else (SQLite, one process) in this process's memory.
  In Redis and PostgreSQL a key's limit holds across replicas. Buckets idle long enough to be
  full again are dropped (expire in Redis), so memory (or rows) follows the number of recent
  callers. When the shared store cannot answer, the request fails with 503
  `upstream_unavailable` rather than going unlimited.
- In memory, time comes from an injected monotonic clock, so tests advance it instead of
  sleeping.

Use it as `dependencies=[RateLimited]` on a route; the OpenAPI description then lists its 429.
"""

from __future__ import annotations

import asyncio
import math
import threading
from typing import TYPE_CHECKING, Protocol

from fastapi import Depends, HTTPException, Request

from backend.api.deps import CallerDep
from backend.config import Settings
from backend.extras import require_extra
from services.postgres import PgDatabase
from services.postgres.rate_limits import PgTokenBuckets
from services.token_buckets import MemoryTokenBuckets
from use_cases.access.domain import Caller
from use_cases.shared.errors import UpstreamUnavailable

if TYPE_CHECKING:
    from services.redis_buckets import RedisTokenBuckets


class MonotonicClock(Protocol):
    def monotonic(self) -> float: ...


class TokenBucketLimiter:
    """`per_minute` requests at once per key, refilled at `per_minute` per minute, in this
    process's memory (`MemoryTokenBuckets`)."""

    PRUNE_EVERY = MemoryTokenBuckets.PRUNE_EVERY

    def __init__(self, per_minute: int, clock: MonotonicClock) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0  # tokens per second
        self._buckets = MemoryTokenBuckets(clock)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    @property
    def tracked_callers(self) -> int:
        return self._buckets.tracked

    def acquire(self, key: str) -> float:
        """Take one token for `key`: 0.0 if allowed, else the seconds until one is available."""
        if not self.enabled:
            return 0.0
        return self._buckets.take(key, float(self.per_minute), self._rate)

    def close(self) -> None:
        """Nothing to release."""


class _SharedLimiter:
    """What the limiters whose buckets live in a shared store (PostgreSQL, Redis) have in
    common: the limit, its refill rate, the store's URL and a lock for opening it lazily."""

    def __init__(self, per_minute: int, url: str) -> None:
        self.per_minute = per_minute
        self._url = url
        self._rate = per_minute / 60.0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0


class PgTokenBucketLimiter(_SharedLimiter):
    """The same buckets in PostgreSQL, shared by every replica (see the module rules). Its
    small pool opens at the first request that needs it."""

    PRUNE_EVERY = 1024
    POOL_SIZE = 4

    def __init__(self, per_minute: int, url: str, *, prepared: bool = True) -> None:
        super().__init__(per_minute, url)
        self._prepared = prepared
        self._database: PgDatabase | None = None
        self._buckets: PgTokenBuckets | None = None
        self._calls = 0

    def acquire(self, key: str) -> float:
        if not self.enabled:
            return 0.0
        buckets = self._open()
        with self._lock:
            self._calls += 1
            prune = self._calls % self.PRUNE_EVERY == 0
        if prune:
            buckets.prune(60.0)
        return buckets.take(key, float(self.per_minute), self._rate)

    def _open(self) -> PgTokenBuckets:
        with self._lock:
            if self._buckets is None:
                self._database = PgDatabase(
                    self._url, max_size=self.POOL_SIZE, prepared=self._prepared
                )
                try:
                    self._buckets = PgTokenBuckets(self._database)
                except BaseException:
                    self._database.close()
                    self._database = None
                    raise
            return self._buckets

    def close(self) -> None:
        with self._lock:
            if self._database is not None:
                self._database.close()
            self._database, self._buckets = None, None


class RedisTokenBucketLimiter(_SharedLimiter):
    """The same buckets in Redis (REDIS_URL), shared by every replica (see the module rules).
    Its client connects at the first request that needs it. Needs the `redis` extra."""

    def __init__(self, per_minute: int, url: str) -> None:
        super().__init__(per_minute, url)
        self._redis_error: type[Exception] = require_extra("redis", "redis", "REDIS_URL").RedisError
        self._buckets: RedisTokenBuckets | None = None

    def acquire(self, key: str) -> float:
        if not self.enabled:
            return 0.0
        with self._lock:
            if self._buckets is None:
                from services.redis_buckets import RedisTokenBuckets

                self._buckets = RedisTokenBuckets(self._url)
            buckets = self._buckets
        try:
            return buckets.take(key, float(self.per_minute), self._rate)
        except self._redis_error as exc:
            raise UpstreamUnavailable(
                "The rate limiter's Redis (REDIS_URL) did not answer; try again shortly."
            ) from exc

    def close(self) -> None:
        with self._lock:
            if self._buckets is not None:
                self._buckets.close()
            self._buckets = None


RateLimiter = TokenBucketLimiter | PgTokenBucketLimiter | RedisTokenBucketLimiter


def build_rate_limiter(settings: Settings, clock: MonotonicClock) -> RateLimiter:
    """In Redis with REDIS_URL; else in the shared database on PostgreSQL; else in memory
    (see the module rules)."""
    per_minute = settings.http.rate_limit_per_minute
    if settings.storage.redis_url is not None and per_minute > 0:
        return RedisTokenBucketLimiter(per_minute, settings.storage.redis_url.get_secret_value())
    if settings.storage.database_backend == "postgresql" and per_minute > 0:
        return PgTokenBucketLimiter(
            per_minute,
            settings.storage.postgres_url,
            prepared=not settings.storage.database_pooled,
        )
    return TokenBucketLimiter(per_minute, clock)


def caller_key(caller: Caller, request: Request) -> str:
    if caller.key_id:
        return f"key:{caller.key_id}"
    return f"addr:{request.client.host if request.client else 'unknown'}"


async def take_token(request: Request, caller: Caller) -> float:
    """Take one token of `caller`'s bucket: 0.0 if allowed, else the seconds to wait. The
    routes use it through `RateLimited`; the MCP server's turn tools call it directly."""
    limiter: RateLimiter = request.app.state.rate_limiter
    key = caller_key(caller, request)
    if isinstance(limiter, TokenBucketLimiter):
        return limiter.acquire(key)
    return await asyncio.to_thread(limiter.acquire, key)  # a round trip: off the event loop


async def enforce_rate_limit(request: Request, caller: CallerDep) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = await take_token(request, caller)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            status_code=429,
            detail=f"Too many requests: at most {limiter.per_minute} per minute per caller. "
            f"Try again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )


RateLimited = Depends(enforce_rate_limit)
