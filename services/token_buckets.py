"""`MemoryTokenBuckets`: the token buckets port (use_cases/shared/token_buckets.py) in this
process's memory, for one server on SQLite; PostgreSQL and Redis keep the same buckets for
every replica (services/postgres/rate_limits.py, services/redis_buckets.py).

Time comes from an injected monotonic clock, so tests advance it instead of sleeping. Every
`PRUNE_EVERY` takes, the buckets full again are dropped (the same as no bucket), so memory
follows the number of recent keys.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

__all__ = ["MemoryTokenBuckets", "MonotonicClock"]


class MonotonicClock(Protocol):
    def monotonic(self) -> float: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float
    capacity: float
    per_second: float

    def full_at(self) -> float:
        return self.updated + (self.capacity - self.tokens) / self.per_second


class MemoryTokenBuckets:
    """Token buckets in memory, safe to share between threads."""

    PRUNE_EVERY = 1024

    def __init__(self, clock: MonotonicClock) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._calls = 0

    @property
    def tracked(self) -> int:
        """Keys with a bucket held (not yet pruned)."""
        return len(self._buckets)

    def take(self, key: str, capacity: float, per_second: float, cost: float = 1.0) -> float:
        """Take `cost` tokens of `key`'s bucket: 0.0 if taken, else the seconds until it holds
        them (nothing taken)."""
        now = self._clock.monotonic()
        with self._lock:
            self._calls += 1
            if self._calls % self.PRUNE_EVERY == 0:
                self._buckets = {k: b for k, b in self._buckets.items() if b.full_at() > now}
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, now, capacity, per_second)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(capacity, bucket.tokens + elapsed * per_second)
                bucket.updated, bucket.capacity, bucket.per_second = now, capacity, per_second
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / per_second
