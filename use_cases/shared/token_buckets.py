"""The token buckets port: per-key buckets that the limits of the kind "so many a minute" draw
from (the chat rate limit, the evaluation runs' provider rate, the chunks a user's attached
files embed).

Rules:
- A bucket holds at most `capacity` tokens and refills at `per_second`, continuously; a key
  never seen before (or idle until full again) starts full.
- `take` takes `cost` tokens at once, or none: a refused take costs nothing, and answers the
  seconds until the bucket will hold `cost` (if nothing else is taken meanwhile).
- Adapters: this process's memory (`services/token_buckets.py`, one server on SQLite),
  PostgreSQL (`services/postgres/rate_limits.py`) and Redis (`services/redis_buckets.py`),
  the last two shared by every replica, each take one atomic step on the store's clock.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["TokenBuckets"]


class TokenBuckets(Protocol):
    def take(self, key: str, capacity: float, per_second: float, cost: float = 1.0) -> float:
        """Take `cost` tokens of `key`'s bucket (`cost` <= `capacity`): 0.0 if taken, else the
        seconds until it holds them, nothing taken. A blocking call (a shared store's round
        trip)."""
        ...
