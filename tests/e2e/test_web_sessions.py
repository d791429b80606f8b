"""A browser signs in once: `POST /api/session` exchanges an API key for an HttpOnly,
SameSite=Strict session cookie that acts as that key in every tab until it expires, the
user signs out (`DELETE /api/session`, ended on the server) or the key is revoked; a
cookie-authenticated request that changes something must come from this server's pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backend.api.app import create_app
from backend.api.deps import SESSION_COOKIE
from backend.bootstrap import Container, bootstrap
from tests.conftest import issue_key, make_settings
from tests.fakes import SteppingClock
from use_cases.access.domain import CLI_ADMIN

ORIGIN = {"Origin": "http://almanac.test"}


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def secured(data_dir: Path, clock: SteppingClock) -> Iterator[Container]:
    built = bootstrap(make_settings(data_dir, auth_enabled=True, session_hours=2), clock=clock)
    yield built
    built.close()


@pytest.fixture
async def browser(secured: Container) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, as a browser does (the app's own host)."""
    transport = httpx.ASGITransport(app=create_app(container=secured))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        yield http


def _secret(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_a_key_becomes_a_cookie_session_that_signs_out_on_the_server(
    browser: httpx.AsyncClient, secured: Container
) -> None:
    key = _secret(await issue_key(secured, "ana"))
    signed = await browser.post("/api/session", json={"key": key})
    assert signed.status_code == 200, signed.text
    assert signed.json()["user_id"] == "ana" and signed.json()["role"] == "user"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=ses_")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=7200"):
        assert attribute.lower() in cookie.lower(), cookie
    assert "secure" not in cookie.lower()  # plain HTTP here; Secure over HTTPS
    assert key not in cookie  # the key itself never goes back

    me = await browser.get("/api/me")  # no key: the cookie alone
    assert me.status_code == 200 and me.json()["user_id"] == "ana"
    asked = await browser.post("/chat", json={"message": "How often?"}, headers=ORIGIN)
    assert asked.status_code == 200, asked.text

    copied = browser.cookies.get(SESSION_COOKIE)
    out = await browser.delete("/api/session")
    assert out.status_code == 204
    assert SESSION_COOKIE not in browser.cookies  # cleared in the browser ...
    after = await browser.get("/api/me", headers={"Cookie": f"{SESSION_COOKIE}={copied}"})
    assert after.status_code == 401 and "signed out" in after.json()["detail"]  # ... and ended
    assert (await browser.delete("/api/session")).status_code == 204  # nothing left: still 204


async def test_a_cookie_request_that_changes_something_must_come_from_this_server(
    browser: httpx.AsyncClient, secured: Container
) -> None:
    key = _secret(await issue_key(secured, "ana"))
    await browser.post("/api/session", json={"key": key})
    before = len(secured.adapters.history.list_chats("ana"))
    for origin in ({}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
        refused = await browser.post("/chat", json={"message": "How often?"}, headers=origin)
        assert refused.status_code == 403, origin
        assert "own pages" in refused.json()["detail"]
    assert len(secured.adapters.history.list_chats("ana")) == before  # nothing ran
    assert (await browser.get("/chats")).status_code == 200  # reading needs no Origin
    # a client's X-Forwarded-Host does not make another site this one, nor does the
    # same host under another scheme
    for forged in (
        {"Origin": "https://evil.example", "X-Forwarded-Host": "evil.example"},
        {"Origin": "https://almanac.test"},
    ):
        refused = await browser.post("/chat", json={"message": "How often?"}, headers=forged)
        assert refused.status_code == 403, forged
    assert len(secured.adapters.history.list_chats("ana")) == before
    # a script's key needs no Origin: the check is for cookies only
    keyed = await browser.post(
        "/chat", json={"message": "How often?"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert keyed.status_code == 200


async def test_behind_a_proxy_the_public_url_is_this_servers_origin(data_dir: Path) -> None:
    public = "https://almanac.example.org"
    built = bootstrap(make_settings(data_dir, auth_enabled=True, public_url=public))
    ask = {"message": "How often?"}
    try:
        # the proxy passes its own Host (the server's address behind it)
        transport = httpx.ASGITransport(app=create_app(container=built))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            key = _secret(await issue_key(built, "ana"))
            await http.post("/api/session", json={"key": key})
            proxied = await http.post("/chat", json=ask, headers={"Origin": public})
            assert proxied.status_code == 200, proxied.text
            for other in ("http://127.0.0.1:8000", "http://almanac.example.org"):
                refused = await http.post("/chat", json=ask, headers={"Origin": other})
                assert refused.status_code == 403, other
                assert public in refused.json()["detail"]
    finally:
        built.close()


async def test_a_session_ends_when_it_expires_or_its_key_is_revoked(
    browser: httpx.AsyncClient, secured: Container, clock: SteppingClock
) -> None:
    ana = await issue_key(secured, "ana")
    await browser.post("/api/session", json={"key": _secret(ana)})
    clock.advance(hours=1, minutes=59)
    assert (await browser.get("/api/me")).status_code == 200
    clock.advance(minutes=1)
    expired = await browser.get("/api/me")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]

    bob = await issue_key(secured, "bob")
    await browser.post("/api/session", json={"key": _secret(bob)})
    assert (await browser.get("/api/me")).json()["user_id"] == "bob"
    [key] = [k for k in await secured.access.list_keys.execute(CLI_ADMIN) if k.user_id == "bob"]
    await secured.access.revoke_key.execute(CLI_ADMIN, key.id)
    revoked = await browser.get("/api/me")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


async def test_a_bad_key_or_cookie_signs_nobody_in(
    browser: httpx.AsyncClient, secured: Container
) -> None:
    for body in ({"key": "alm_not-a-key"}, {"key": ""}, {}, {"key": "x" * 201}, {"key": 1}):
        refused = await browser.post("/api/session", json=body)
        assert refused.status_code in (401, 422), body
        assert "set-cookie" not in refused.headers
    forged = await browser.get("/api/me", headers={"Cookie": f"{SESSION_COOKIE}=ses_forged"})
    assert forged.status_code == 401 and "not one this server knows" in forged.json()["detail"]


async def test_without_authentication_there_is_nothing_to_sign_in_to(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.post("/api/session", json={"key": "alm_anything"})
    assert refused.status_code == 409 and "AUTH_ENABLED" in refused.json()["detail"]
    assert "set-cookie" not in refused.headers
