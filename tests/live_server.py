"""A real Almanac server on a free loopback port, in a background thread, for tests that
need real HTTP (curl, disconnects, time to first byte): uvicorn with the protocol and the
options `almanac serve` runs (backend/http_server.py: request heads, connections and
keep-alive bounded as the app's `HTTP limits` settings say), so tests exercise what users
run, not uvicorn's defaults."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from backend.config import HttpSettings
from backend.http_server import BoundedH11Protocol, HeadLimits


def limits_of(app: FastAPI) -> HeadLimits:
    """The head limits of the settings `app` was built with (the defaults for an app built
    without a container)."""
    container = getattr(app.state, "container", None)
    settings = getattr(container, "settings", None)
    return HeadLimits.of(settings.http if settings is not None else HttpSettings())


def bounded_protocol(limits: HeadLimits) -> type[BoundedH11Protocol]:
    """`BoundedH11Protocol` keeping `limits`: a class of its own, so that two servers of one
    test process (each `almanac serve` is a process of its own) keep their own limits."""
    return type("TestBoundedH11Protocol", (BoundedH11Protocol,), {"limits": limits})


@contextmanager
def serve(app: FastAPI, limits: HeadLimits | None = None) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL. `limits`: the head and
    connection limits, by default those of the app's settings."""
    limits = limits or limits_of(app)
    options = limits.uvicorn_options() | {"http": bounded_protocol(limits)}
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="on", **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("The test server did not start.")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
