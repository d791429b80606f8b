"""The token bucket behind the chat rate limit, on a clock the tests advance (no sleeps)."""

from __future__ import annotations

import pytest

from backend.api.rate_limit import TokenBucketLimiter


class ManualClock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


def test_a_caller_may_burst_up_to_the_limit_then_waits_for_a_refill() -> None:
    clock = ManualClock()
    limiter = TokenBucketLimiter(6, clock)  # one token every 10 s
    assert [limiter.acquire("ana") for _ in range(6)] == [0.0] * 6
    assert limiter.acquire("ana") == pytest.approx(10.0)
    clock.advance(4)
    assert limiter.acquire("ana") == pytest.approx(6.0)
    clock.advance(6)
    assert limiter.acquire("ana") == 0.0
    assert limiter.acquire("ana") == pytest.approx(10.0)


def test_refused_requests_do_not_push_the_wait_further() -> None:
    clock = ManualClock()
    limiter = TokenBucketLimiter(1, clock)
    assert limiter.acquire("ana") == 0.0
    waits = [limiter.acquire("ana") for _ in range(5)]
    assert waits == [pytest.approx(60.0)] * 5
    clock.advance(60)
    assert limiter.acquire("ana") == 0.0


def test_callers_have_separate_buckets_and_idle_ones_refill_to_the_limit_only() -> None:
    clock = ManualClock()
    limiter = TokenBucketLimiter(2, clock)
    assert limiter.acquire("ana") == limiter.acquire("ana") == 0.0
    assert limiter.acquire("bob") == 0.0
    assert limiter.acquire("ana") > 0
    clock.advance(3600)
    assert [limiter.acquire("ana") == 0.0 for _ in range(3)] == [True, True, False]


def test_zero_per_minute_disables_the_limit() -> None:
    limiter = TokenBucketLimiter(0, ManualClock())
    assert not limiter.enabled
    assert all(limiter.acquire("ana") == 0.0 for _ in range(1000))


def test_idle_buckets_are_dropped() -> None:
    clock = ManualClock()
    limiter = TokenBucketLimiter(5, clock)
    for i in range(TokenBucketLimiter.PRUNE_EVERY - 1):
        limiter.acquire(f"caller-{i}")
    clock.advance(61)
    limiter.acquire("last")  # the PRUNE_EVERY-th call prunes first
    assert limiter.tracked_callers == 1
