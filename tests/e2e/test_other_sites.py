"""No other site drives a development server (AUTH_ENABLED=false): it answers only to its own
host names (ALLOWED_HOSTS, loopback by default: 421 for another Host, so a DNS-rebinding page
gets nothing), refuses another site's changes (403, nothing written), and a request body that
stops arriving is answered 408 on a real server, its connection closed."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.live_server import serve

PORT = 8123
ROOMS = b"room,floor\nA1,1\nB2,2\n"
FOREIGN = {"Origin": "https://evil.example"}
CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}


@pytest.fixture
def dev_container(data_dir: Path) -> Iterator[Container]:
    """Authentication off and ALLOWED_HOSTS unset: the defaults of `make run`."""
    built = bootstrap(make_settings(data_dir, allowed_hosts=""), clock=FixedClock())
    yield built
    built.close()


@asynccontextmanager
async def _client(container: Container, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container=container))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        yield http


async def _upload(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await http.post(
        "/api/documents",
        files={"file": ("planted.md", b"# Planted\n\nWritten by another site.\n")},
        headers=headers,
    )


async def _load_table(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await http.post(
        "/api/tables",
        data={"name": "services"},
        files={"file": ("services.csv", ROOMS)},
        headers=headers,
    )


async def _state(http: httpx.AsyncClient) -> tuple[int, int]:
    """How many documents there are, and the rows of the `services` table."""
    documents = (await http.get("/api/documents", params={"limit": 1})).json()
    tables = {t["name"]: t for t in (await http.get("/api/tables")).json()["tables"]}
    return documents["total"], tables["services"]["rows"]


@pytest.mark.parametrize("headers", [FOREIGN, CROSS_SITE, {"Origin": "null"}])
async def test_another_sites_change_is_refused_and_writes_nothing(
    dev_container: Container, headers: dict[str, str]
) -> None:
    async with _client(dev_container, f"http://127.0.0.1:{PORT}") as http:
        before = await _state(http)
        for refused in (await _upload(http, headers), await _load_table(http, headers)):
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            problem = refused.json()
            assert problem["code"] == "forbidden"
            assert "another site" in problem["detail"] and "CORS_ORIGINS" in problem["detail"]
        deleted = await http.delete("/api/tables/services", headers=headers)
        assert deleted.status_code == 403
        assert await _state(http) == before


async def test_this_servers_own_pages_and_clients_without_origin_may_change_things(
    dev_container: Container,
) -> None:
    async with _client(dev_container, f"http://127.0.0.1:{PORT}") as http:
        own = {"Origin": f"http://127.0.0.1:{PORT}", "Sec-Fetch-Site": "same-origin"}
        assert (await _upload(http, own)).status_code == 201
        assert (await _load_table(http, {})).status_code == 200  # curl, the CLI, scripts
        # the same name on another port, or another scheme, is another origin
        for other in (f"http://127.0.0.1:{PORT + 1}", f"https://127.0.0.1:{PORT}"):
            assert (await _load_table(http, {"Origin": other})).status_code == 403, other


async def test_a_listed_cors_origin_may_change_things(data_dir: Path) -> None:
    settings = make_settings(data_dir, allowed_hosts="", cors_origins="https://chat.example.com")
    built = bootstrap(settings, clock=FixedClock())
    try:
        async with _client(built, "http://localhost:8000") as http:
            listed = {"Origin": "https://chat.example.com", "Sec-Fetch-Site": "cross-site"}
            assert (await _load_table(http, listed)).status_code == 200  # replaced
            assert (await _load_table(http, FOREIGN)).status_code == 403
    finally:
        built.close()


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8000", "127.0.0.1.nip.io", "localhost.evil.example", "0.0.0.0"],
)
async def test_another_host_is_not_answered(dev_container: Container, host: str) -> None:
    async with _client(dev_container, f"http://{host}") as http:
        before = len(dev_container.adapters.history.list_chats("default"))
        for response in (
            await http.get("/chats"),
            await http.get("/api/audit"),
            await http.post("/chat", json={"message": "How often?"}),
        ):
            assert response.status_code == 421, response.text
            problem = response.json()
            assert problem["code"] == "misdirected_request"
            assert "ALLOWED_HOSTS" in problem["detail"] and host in problem["detail"]
        assert len(dev_container.adapters.history.list_chats("default")) == before


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]", "[::1]:8000"],
)
async def test_loopback_names_are_answered_on_any_port(dev_container: Container, host: str) -> None:
    async with _client(dev_container, f"http://{host}") as http:
        assert (await http.get("/chats")).status_code == 200
        assert (await http.post("/chat", json={"message": "How often?"})).status_code == 200


async def test_allowed_hosts_names_the_hosts_and_is_enforced_with_auth_on_too(
    data_dir: Path,
) -> None:
    settings = make_settings(data_dir, auth_enabled=True, allowed_hosts="*.example.org")
    built = bootstrap(settings, clock=FixedClock())
    try:
        async with _client(built, "https://almanac.example.org") as http:
            assert (await http.get("/health")).status_code == 200
        async with _client(built, "http://localhost") as http:
            assert (await http.get("/health")).status_code == 421
    finally:
        built.close()
    # unset with authentication on: any host (keys and cookies protect it)
    assert make_settings(data_dir, auth_enabled=True, allowed_hosts="").auth.allowed_host_list == (
        "*",
    )


def test_allowed_hosts_are_names_without_a_port(data_dir: Path) -> None:
    with pytest.raises(ValueError, match="without a port"):
        make_settings(data_dir, allowed_hosts="localhost:8000")
    assert make_settings(
        data_dir, allowed_hosts="Almanac.Example.org., ::1"
    ).auth.allowed_host_list == (
        "almanac.example.org",
        "[::1]",
    )


#: The safety net of the slow-body test: far past the 1 s bound it checks.
SAFETY_NET_S = 60


def test_a_request_body_that_stops_arriving_is_answered_408_and_closed(data_dir: Path) -> None:
    built = bootstrap(
        make_settings(data_dir, request_body_timeout_s=1.0, allowed_hosts=""), clock=FixedClock()
    )
    before = len(built.adapters.history.list_chats("default"))
    try:
        with serve(create_app(container=built)) as url:
            port = int(url.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(
                    f"POST /chat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                    '{"message": "How'.encode()
                )  # ... and nothing more
                sock.settimeout(SAFETY_NET_S)
                answer = b""
                try:
                    while chunk := sock.recv(65536):
                        answer += chunk
                except TimeoutError:
                    pytest.fail(f"no answer, or the connection stayed open: {answer[:500]!r}")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer[:500]
        assert b"connection: close" in head.lower()
        assert b'"code":"request_timeout"' in body and b"REQUEST_BODY_TIMEOUT_S" in body
        assert len(built.adapters.history.list_chats("default")) == before
    finally:
        built.close()
