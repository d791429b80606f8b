"""The per-caller rate limit of the chat endpoints over HTTP, on a clock the test advances.

With AUTH_ENABLED=true the caller is the API key; without it, the client address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.types import ASGIApp

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from backend.config import Settings
from tests.conftest import FixedClock, issue_key, make_settings
from tests.unit.test_rate_limit import ManualClock

QUESTION = {"message": "What is the SEV1 acknowledgement time?"}
UI_QUESTION = {
    "trigger": "submit-message",
    "id": "ui-rate",
    "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "SEV1?"}]}],
}


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(data_dir, rate_limit_per_minute=2)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _client(app: ASGIApp, address: str = "10.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://almanac.test")


@pytest.fixture
async def client(container: Container, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(create_app(container=container, clock=clock)) as http:
        yield http


async def test_over_the_limit_a_chat_is_429_with_retry_after_and_stores_nothing(
    client: httpx.AsyncClient, container: Container, clock: ManualClock
) -> None:
    assert (await client.post("/chat", json=QUESTION)).status_code == 200
    assert (await client.post("/chat/stream", json=QUESTION)).status_code == 200
    chats_before = container.adapters.history.list_chats("default")

    refused = await client.post("/chat", json=QUESTION)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"  # 2 per minute: one more every 30 s
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["code"] == "rate_limited" and "2 per minute" in body["detail"]
    assert (await client.post("/api/chat", json=UI_QUESTION)).status_code == 429
    assert container.adapters.history.list_chats("default") == chats_before

    clock.advance(29)
    assert (await client.post("/chat", json=QUESTION)).headers["retry-after"] == "1"
    clock.advance(1)
    assert (await client.post("/chat", json=QUESTION)).status_code == 200


async def test_other_endpoints_are_not_rate_limited(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await client.get("/api/search", params={"q": "SEV1"})).status_code == 200
        assert (await client.get("/chats")).status_code == 200


async def test_each_client_address_has_its_own_allowance(
    container: Container, clock: ManualClock
) -> None:
    app = create_app(container=container, clock=clock)
    async with _client(app, "10.0.0.1") as first, _client(app, "10.0.0.2") as second:
        for _ in range(2):
            assert (await first.post("/chat", json=QUESTION)).status_code == 200
        assert (await first.post("/chat", json=QUESTION)).status_code == 429
        assert (await second.post("/chat", json=QUESTION)).status_code == 200


@pytest.fixture
def auth_container(data_dir: Path) -> Iterator[Container]:
    built = bootstrap(
        make_settings(data_dir, auth_enabled=True, rate_limit_per_minute=2), clock=FixedClock()
    )
    yield built
    built.close()


async def test_each_api_key_has_its_own_allowance_even_two_keys_of_one_user(
    auth_container: Container, clock: ManualClock
) -> None:
    laptop, phone = await issue_key(auth_container, "ana"), await issue_key(auth_container, "ana")
    app = create_app(container=auth_container, clock=clock)
    async with _client(app, "10.0.0.1") as first, _client(app, "10.0.0.2") as second:
        assert (await first.post("/chat", json=QUESTION, headers=laptop)).is_success
        assert (await second.post("/chat", json=QUESTION, headers=laptop)).is_success
        refused = await first.post("/chat", json=QUESTION, headers=laptop)
        assert refused.status_code == 429  # the key's bucket, whichever address sends it
        assert (await first.post("/chat", json=QUESTION, headers=phone)).is_success


async def test_a_request_refused_with_401_costs_no_token(
    auth_container: Container, clock: ManualClock
) -> None:
    key = await issue_key(auth_container, "ana")
    app = create_app(container=auth_container, clock=clock)
    async with _client(app) as http:
        for headers in ({}, {"Authorization": "Bearer alm_unknown"}, {"X-API-Key": "nope"}) * 2:
            refused = await http.post("/chat", json=QUESTION, headers=headers)
            assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
            assert refused.headers["www-authenticate"].startswith("Bearer")
        assert app.state.rate_limiter.tracked_callers == 0
        for _ in range(2):  # the whole allowance is still there
            assert (await http.post("/chat", json=QUESTION, headers=key)).is_success
        assert (await http.post("/chat", json=QUESTION, headers=key)).status_code == 429
        assert (await http.post("/chat", json=QUESTION)).status_code == 401  # not 429


async def test_the_user_id_header_does_not_buy_a_fresh_allowance(
    client: httpx.AsyncClient,
) -> None:
    for user in ("ana", "bob"):
        assert (await client.post("/chat", json=QUESTION, headers={"X-User-Id": user})).is_success
    refused = await client.post("/chat", json=QUESTION, headers={"X-User-Id": "carol"})
    assert refused.status_code == 429


async def test_zero_disables_the_limit(data_dir: Path, clock: ManualClock) -> None:
    from backend.bootstrap import bootstrap

    container = bootstrap(make_settings(data_dir, rate_limit_per_minute=0))
    try:
        async with _client(create_app(container=container, clock=clock)) as http:
            for _ in range(4):
                assert (await http.post("/chat", json=QUESTION)).status_code == 200
    finally:
        container.close()


async def test_openapi_documents_the_429_of_rate_limited_operations_only(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    limited = {
        (path, method)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "429" in operation["responses"]
    }
    assert limited == {
        ("/chat", "post"),
        ("/api/conversations/{chat_id}/summary", "post"),
        ("/chat/stream", "post"),
        ("/api/chat", "post"),
        ("/v1/chat/completions", "post"),
        ("/advice", "post"),
        ("/advice-non-streaming", "post"),
        ("/api/playground/run", "post"),
        ("/api/v1/playground/run", "post"),
        ("/api/benchmark/run", "post"),
        ("/api/v1/benchmark-runs", "post"),
        ("/api/v1/eval-runs", "post"),
        ("/api/cleaning/runs", "post"),
        ("/api/conversations/{chat_id}/project-draft", "post"),
        ("/api/conversations/{chat_id}/project-draft/turns", "post"),
        ("/api/conversations/{chat_id}/project-draft/chat/stream", "post"),
        ("/api/conversations/{chat_id}/files", "post"),
        ("/api/conversations/import", "post"),
        ("/api/conversations/import/stream", "post"),
        ("/api/conversations/import/file", "post"),
    }
    assert "Retry-After" in paths["/chat"]["post"]["responses"]["429"]["headers"]
