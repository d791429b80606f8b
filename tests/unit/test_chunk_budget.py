"""The chunks a user's attached files may embed a minute (`ChunkBudget`), on buckets in memory
whose clock the tests advance (PostgreSQL and Redis: tests/integration/test_shared_limits.py)."""

from __future__ import annotations

import pytest

from services.token_buckets import MemoryTokenBuckets
from tests.unit.test_rate_limit import ManualClock
from use_cases.conversations.chunk_budget import ChunkBudget
from use_cases.shared.errors import PayloadTooLarge, RateLimited


def budget(per_minute: int = 60) -> tuple[ChunkBudget, ManualClock]:
    clock = ManualClock()
    return ChunkBudget(MemoryTokenBuckets(clock), per_minute=per_minute), clock


def test_a_users_files_spend_the_minutes_chunks_then_wait_for_the_refill() -> None:
    chunks, clock = budget(60)  # one chunk a second
    chunks.spend("ann", "a.md", 40)
    with pytest.raises(RateLimited, match="CHAT_FILE_USER_CHUNKS_PER_MINUTE") as refused:
        chunks.spend("ann", "b.md", 30)
    assert refused.value.retry_after_s == 10  # 20 left, 10 more in 10 s
    assert refused.value.type == "rate_limited"
    clock.advance(9)
    with pytest.raises(RateLimited) as again:
        chunks.spend("ann", "b.md", 30)  # the refusal took nothing: one second to go
    assert again.value.retry_after_s == 1
    clock.advance(1)
    chunks.spend("ann", "b.md", 30)


def test_each_user_has_a_budget_of_their_own() -> None:
    chunks, _ = budget(10)
    chunks.spend("ann", "a.md", 10)
    chunks.spend("bob", "b.md", 10)
    with pytest.raises(RateLimited):
        chunks.spend("ann", "c.md", 1)


def test_a_file_of_more_chunks_than_the_whole_budget_is_413_and_takes_nothing() -> None:
    chunks, _ = budget(10)
    with pytest.raises(PayloadTooLarge, match=r"11 chunks.*at most 10 a minute.*knowledge base"):
        chunks.check("big.md", 11)
    with pytest.raises(PayloadTooLarge):
        chunks.spend("ann", "big.md", 11)
    chunks.spend("ann", "a.md", 10)  # the whole budget was still there


def test_zero_disables_the_budget() -> None:
    chunks, _ = budget(0)
    chunks.check("big.md", 10**6)
    for _ in range(3):
        chunks.spend("ann", "big.md", 10**6)


def test_buckets_full_again_are_dropped() -> None:
    clock = ManualClock()
    buckets = MemoryTokenBuckets(clock)
    for number in range(MemoryTokenBuckets.PRUNE_EVERY - 1):
        buckets.take(f"user-{number}", 10, 1.0, 5)
    clock.advance(6)  # each was refilled from 5 to 10 in 5 s
    buckets.take("last", 10, 1.0, 5)  # the PRUNE_EVERY-th take prunes first
    assert buckets.tracked == 1
