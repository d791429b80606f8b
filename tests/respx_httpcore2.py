"""respx for httpx2/httpcore2, the HTTP stack of openai 3.x (and so of pydantic-ai's OpenAI model).

A plain `respx.mock` patches httpx/httpcore only, so requests made by the openai SDK would
slip past it and try the real network. respx finds mockers by `name` (every subclass of
`respx.mocks.Mocker` registers itself), so this module adds one for httpcore2:

    from tests.respx_httpcore2 import httpcore2_mock  # noqa: F401  (the fixture)

    def test_x(httpcore2_mock: respx.Router) -> None:
        httpcore2_mock.post("https://api.openai.com/v1/embeddings").mock(
            return_value=httpx.Response(200, json={...})
        )

or directly `with respx.mock(using="httpcore2") as router: ...` after importing this module.
Routes and responses are ordinary respx/httpx objects. The fixture also blocks real sockets,
so a request that no route matches fails loudly instead of reaching the internet.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, ClassVar

import httpcore2
import pytest
import respx
from respx.mocks import HTTPCoreMocker

__all__ = ["HTTPCore2Mocker", "NetworkBlocked", "block_sockets", "httpcore2_mock"]


class HTTPCore2Mocker(HTTPCoreMocker):
    """respx's httpcore mocker pointed at httpcore2 (same request/response model API)."""

    name = "httpcore2"
    targets: ClassVar[list[str]] = [
        "httpcore2._sync.connection.HTTPConnection",
        "httpcore2._sync.connection_pool.ConnectionPool",
        "httpcore2._sync.http_proxy.HTTPProxy",
        "httpcore2._async.connection.AsyncHTTPConnection",
        "httpcore2._async.connection_pool.AsyncConnectionPool",
        "httpcore2._async.http_proxy.AsyncHTTPProxy",
    ]
    target_methods: ClassVar[list[str]] = ["handle_request", "handle_async_request"]

    @classmethod
    def from_sync_httpx_response(cls, httpx_response: Any, target: Any, **kwargs: Any) -> Any:
        return httpcore2.Response(
            status=httpx_response.status_code,
            headers=httpx_response.headers.raw,
            content=httpx_response.stream,
            extensions=httpx_response.extensions,
        )

    @classmethod
    async def from_async_httpx_response(
        cls, httpx_response: Any, target: Any, **kwargs: Any
    ) -> Any:
        return cls.from_sync_httpx_response(httpx_response, target, **kwargs)


class NetworkBlocked(RuntimeError):
    """Raised by `block_sockets` on an outbound connection (not an OSError: no SDK retries it)."""


@pytest.fixture
def block_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any real outbound connection raise (local unix sockets still work)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkBlocked(f"real network access in a test: {args[1:] or kwargs}")

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise NetworkBlocked(f"real network access in a test: {address!r}")
        return original_connect(self, address)

    original_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def httpcore2_mock(block_sockets: None) -> Iterator[respx.Router]:
    """A respx router for httpx2/httpcore2 traffic; unmatched requests raise."""
    with respx.mock(using="httpcore2", assert_all_mocked=True, assert_all_called=False) as router:
        yield router
