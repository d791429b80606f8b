"""`RedisTokenBuckets`: per-key token buckets in Redis, shared by every API replica.

The same buckets as `services/postgres/rate_limits.py`, for deployments that set REDIS_URL:
one hash per key (`tokens` left after the last request, `updated` when that was, on the Redis
server's clock, so replicas with skewed clocks agree). A request is one Lua script, which
Redis runs atomically: refill for the time elapsed (at most to `capacity`), take one token (or
`cost` tokens at once) if it holds them, answer whether it did. Two replicas can never both
take the last token, and a refused request takes nothing. Each key expires once its bucket
would be full again, so idle callers cost no memory and nothing needs pruning.
"""

from __future__ import annotations

from typing import Any

import redis

__all__ = ["KEY_PREFIX", "RedisTokenBuckets"]

KEY_PREFIX = "almanac:ratelimit:"

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(saved[1])
local updated = tonumber(saved[2])
if tokens == nil or updated == nil then
    tokens = capacity
    updated = now
end
tokens = math.min(capacity, tokens + rate * math.max(0, now - updated))
local allowed = 0
if tokens >= cost then
    tokens = tokens - cost
    allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1)
return {allowed, tostring(tokens)}
"""


class RedisTokenBuckets:
    """Token buckets in the Redis at `url` (`redis://`, `rediss://` or `unix://`)."""

    def __init__(self, url: str, *, timeout_s: float = 2.0) -> None:
        self._client: Any = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._take = self._client.register_script(_TAKE)

    def take(self, key: str, capacity: float, per_second: float, cost: float = 1.0) -> float:
        """Take `cost` tokens of `key`'s bucket: 0.0 if taken, else the seconds until it holds
        them (nothing taken). `capacity` >= `cost`. Raises `redis.RedisError` when Redis
        cannot answer."""
        allowed, tokens = self._take(
            keys=[KEY_PREFIX + key],
            args=[repr(float(capacity)), repr(float(per_second)), repr(float(cost))],
        )
        if int(allowed):
            return 0.0
        return (float(cost) - float(tokens)) / per_second

    def close(self) -> None:
        self._client.close()
