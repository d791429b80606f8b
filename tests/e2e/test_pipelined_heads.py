"""The servers tests start run what `almanac serve` runs (tests/live_server.py: the bounded h11
protocol of backend/http_server.py, not uvicorn's defaults), and a request head pipelined
behind a whole request is bounded by the same head limits as any other (431).

h11 keeps the bytes that follow a whole request until its response is sent, and uvicorn then
parses them without handing them to the protocol's `data_received`, where heads are metered:
such a head was bounded only by h11's own buffer (twice the head limit, answered 400), so a
40 KiB header line, or a head of 80 KB in all, pipelined behind a small POST was answered 200.
Real sockets against a real server on loopback; the slow route keeps the first response
in progress while the pipelined head arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request

from backend.config import HttpSettings
from tests.live_server import serve

#: A safety net on every socket read (a server that never answers fails, it does not hang).
SAFETY_NET_S = 60


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/echo")
    async def echo(request: Request, slow: float = 0) -> dict[str, int]:
        body = await request.body()
        await asyncio.sleep(slow)  # the response in progress while the next head arrives
        return {"bytes": len(body)}

    return app


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(_app()) as base:
        yield base


def _exchange(url: str, data: bytes) -> list[int]:
    """Send `data` on one connection, read until the server closes: the statuses answered."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=SAFETY_NET_S) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return [int(part.split(b" ", 2)[0]) for part in received.split(b"HTTP/1.1 ")[1:]]


def _post(slow: float = 0) -> bytes:
    return (
        f"POST /echo?slow={slow} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello"
    ).encode()


def _get(headers: bytes) -> bytes:
    return b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + b"\r\n"


def test_the_test_server_bounds_heads_as_almanac_serve_does(url: str) -> None:
    """uvicorn's defaults (h11: 400 past its buffer; httptools: no limit) answer no 431."""
    too_long = b"X-Big: " + b"a" * HttpSettings().max_header_line_bytes + b"\r\n"
    assert _exchange(url, _get(too_long)) == [431]
    assert _exchange(url, _get(b"X-Fine: " + b"a" * 8_000 + b"\r\n")) == [200]


@pytest.mark.parametrize("slow", [0, 0.5], ids=["answered at once", "answer in progress"])
def test_a_header_line_pipelined_behind_a_body_is_431(url: str, slow: float) -> None:
    statuses = _exchange(url, _post(slow) + _get(b"X-Big: " + b"a" * 40_000 + b"\r\n"))
    assert statuses == [200, 431]


@pytest.mark.parametrize("slow", [0, 0.5], ids=["answered at once", "answer in progress"])
def test_a_head_pipelined_behind_a_body_is_431_past_its_total(url: str, slow: float) -> None:
    lines = b"".join(b"X-Part-%d: %s\r\n" % (n, b"b" * 10_000) for n in range(8))
    assert _exchange(url, _post(slow) + _get(lines)) == [200, 431]


def test_pipelined_heads_within_the_limits_are_all_served(url: str) -> None:
    """Three requests in one write, the middle one with a 12 KB header: each is answered,
    whichever part of the stream h11 held when its cycle began."""
    fine = b"X-Fine: " + b"f" * 12_000 + b"\r\n"
    data = _post(0.2) + _post().replace(b"Host:", fine + b"Host:") + _get(fine)
    assert _exchange(url, data) == [200, 200, 200]
