"""Signing in with an OpenID Connect provider, end to end: the app (in process) against a
real provider started by the tests (`tests/oidc_server.py`), over real HTTP, with real
signed ID tokens: the redirect, the provider's form, the callback, the session it makes."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from backend.api.app import create_app
from backend.api.routes.oidc import safe_next
from backend.bootstrap import Container, bootstrap
from tests import hostile_inputs
from tests.conftest import FixedClock, make_settings
from use_cases.access.domain import CLI_ADMIN
from use_cases.access.oidc import SIGN_IN_KEY_NAME

CLIENT_ID = "almanac-test"


@pytest.fixture(scope="module")
def container(oidc_issuer: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    settings = make_settings(
        tmp_path_factory.mktemp("oidc") / "data",
        load_sample_data=False,
        auth_enabled=True,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret="almanac-test-secret",
        oidc_issuer=oidc_issuer,
        oidc_allowed_domains="example.org, @Example.COM",
        oidc_admin_emails="Root@example.org",
    )
    built = bootstrap(settings, clock=FixedClock())
    yield built
    built.close()


@pytest.fixture
async def browser(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The browser: keeps cookies, never follows redirects on its own."""
    transport = httpx.ASGITransport(app=create_app(container=container))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        yield http


def _person(issuer: str, sub: str, **claims: object) -> None:
    httpx.put(f"{issuer}/users/{sub}", json=claims).raise_for_status()


async def _at_provider(url: str, sub: str) -> str:
    """Post the provider's sign-in form as `sub`; where it sends the browser back."""
    async with httpx.AsyncClient() as provider:
        signed_in = await provider.post(url, data={"sub": sub})
    assert signed_in.status_code == 302, signed_in.text
    return signed_in.headers["location"]


async def _sign_in(
    browser: httpx.AsyncClient, issuer: str, sub: str, next_: str = "/app/somewhere?x=1"
) -> httpx.Response:
    """Begin at /api/auth/login, sign in as `sub` at the provider, come back: the callback's
    reply."""
    login = await browser.get("/api/auth/login", params={"next": next_})
    assert login.status_code == 302, login.text
    back = await _at_provider(login.headers["location"], sub)
    assert back.startswith("http://almanac.test/api/auth/callback?")
    return await browser.get(back.removeprefix("http://almanac.test"))


async def test_a_person_signs_in_with_the_provider_and_their_session_acts_as_them(
    browser: httpx.AsyncClient, oidc_issuer: str, container: Container
) -> None:
    _person(oidc_issuer, "ana-1", email="ana@example.org", email_verified=True, name="Ana")
    login = await browser.get("/api/auth/login", params={"next": "/app/somewhere?x=1"})
    assert login.status_code == 302
    target = urlsplit(login.headers["location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}" == oidc_issuer
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://almanac.test/api/auth/callback"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    pending = login.headers["set-cookie"]
    assert "almanac_oidc=" in pending and "HttpOnly" in pending
    assert "Path=/api/auth/callback" in pending and "SameSite=lax" in pending

    back = await _sign_in(browser, oidc_issuer, "ana-1")
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/app/somewhere?x=1"
    assert "almanac_session=" in back.headers["set-cookie"]

    me = (await browser.get("/api/me")).json()
    assert me["role"] == "user" and me["user_id"].startswith("oidc-")
    keys = await container.access.list_keys.execute(CLI_ADMIN)
    theirs = [k for k in keys if k.user_id == me["user_id"]]
    assert [(k.name, k.role, k.revoked) for k in theirs] == [(SIGN_IN_KEY_NAME, "user", False)]

    again = await _sign_in(browser, oidc_issuer, "ana-1")  # the same person: the same key
    assert again.status_code == 303
    keys = await container.access.list_keys.execute(CLI_ADMIN)
    assert [k.id for k in keys if k.user_id == me["user_id"]] == [theirs[0].id]

    await container.access.revoke_key.execute(CLI_ADMIN, theirs[0].id)  # ends their sign-ins
    assert (await browser.get("/api/me")).status_code == 401


async def test_an_admin_email_signs_in_as_admin_and_domains_are_checked(
    browser: httpx.AsyncClient, oidc_issuer: str
) -> None:
    _person(oidc_issuer, "root-1", email="root@example.org", email_verified=True)
    back = await _sign_in(browser, oidc_issuer, "root-1", next_="//elsewhere.example/x")
    assert back.status_code == 303 and back.headers["location"] == "/"  # never another site
    assert (await browser.get("/api/me")).json()["role"] == "admin"

    _person(oidc_issuer, "cy-1", email="cy@sub.example.com", email_verified=True)
    _person(oidc_issuer, "di-1", email="di@example.com", email_verified=True)
    _person(oidc_issuer, "ed-1", email="ed@example.org", email_verified=False)
    _person(oidc_issuer, "fa-1", name="No email")
    for sub, detail in (
        ("cy-1", "cy@sub.example.com may not sign in here: its domain is not allowed."),
        ("ed-1", "Your account has no verified email address; it cannot sign in here."),
        ("fa-1", "Your account has no verified email address; it cannot sign in here."),
    ):
        browser.cookies.clear()
        refused = await _sign_in(browser, oidc_issuer, sub)
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == detail
        assert "almanac_session" not in refused.headers.get("set-cookie", "")
    browser.cookies.clear()
    assert (await _sign_in(browser, oidc_issuer, "di-1")).status_code == 303


async def test_a_callback_that_did_not_start_here_or_was_tampered_with_signs_nobody_in(
    browser: httpx.AsyncClient, oidc_issuer: str
) -> None:
    _person(oidc_issuer, "gu-1", email="gu@example.org", email_verified=True)
    login = await browser.get("/api/auth/login")
    back = await _at_provider(login.headers["location"], "gu-1")
    path = back.removeprefix("http://almanac.test")

    browser.cookies.clear()  # another browser: it has no pending sign-in
    stranger = await browser.get(path)
    assert stranger.status_code == 401
    assert "not started in this browser" in stranger.json()["detail"]

    kept = json.loads(base64.urlsafe_b64decode(login.cookies["almanac_oidc"]))
    forged = base64.urlsafe_b64encode(json.dumps(kept | {"nonce": "forged"}).encode()).decode()
    browser.cookies.set("almanac_oidc", forged, domain="almanac.test", path="/api/auth/callback")
    replayed = await browser.get(path)  # the ID token's nonce is not this sign-in's
    assert replayed.status_code == 401
    assert replayed.json()["detail"].startswith("The ID token does not check out")

    denied = await browser.get("/api/auth/callback", params={"error": "access_denied"})
    assert denied.status_code == 401 and "access_denied" in denied.json()["detail"]
    assert (await browser.get("/api/me")).status_code == 401


CALLBACK = "/api/auth/callback"
#: A sign-in cookie of arrays nested 5,000 deep (13 KB: fits a browser's cookie and a
#: server's header limits): `json.loads` raised RecursionError, a 500.
DEEP_COOKIE = base64.urlsafe_b64encode(hostile_inputs.deep_json(5_000)).decode()


async def test_a_deeply_nested_sign_in_cookie_counts_as_none(browser: httpx.AsyncClient) -> None:
    browser.cookies.set(
        "almanac_oidc", DEEP_COOKIE, domain="almanac.test", path="/api/auth/callback"
    )
    reply = await browser.get("/api/auth/callback", params={"code": "x", "state": "y"})
    assert reply.status_code == 401, reply.text
    assert "not started in this browser" in reply.json()["detail"]


#: The probe's cookie: a string then arrays nested 5,000 deep, in UTF-16 (no byte-order
#: mark). `json.loads(bytes)` reads UTF-16, but the depth scan read the bytes as UTF-8 (its
#: `00 22` looks like a quote) and found depth 1: RecursionError, a 500 with no key.
UTF16_DEEP_COOKIE = base64.urlsafe_b64encode(
    ('["\u2200",' + "[" * 5000 + "]" * 5000 + "]").encode("utf-16-le")
).decode()


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16", "utf-32"])
async def test_a_sign_in_cookie_in_another_encoding_counts_as_none(
    browser: httpx.AsyncClient, encoding: str
) -> None:
    deep = ('["\u2200",' + "[" * 5000 + "]" * 5000 + "]").encode(encoding)
    for cookie in (base64.urlsafe_b64encode(deep).decode(), UTF16_DEEP_COOKIE):
        browser.cookies.set("almanac_oidc", cookie, domain="almanac.test", path=CALLBACK)
        reply = await browser.get(CALLBACK, params={"code": "x", "state": "y"})
        assert reply.status_code == 401, reply.text
        assert "not started in this browser" in reply.json()["detail"]


async def test_without_the_provider_set_up_the_routes_say_so(tmp_path: Path) -> None:
    container = bootstrap(
        make_settings(tmp_path / "data", load_sample_data=False, auth_enabled=True),
        clock=FixedClock(),
    )
    try:
        transport = httpx.ASGITransport(app=create_app(container=container))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for path, headers in (
                ("/api/auth/login", {}),
                ("/api/auth/callback?code=x&state=y", {}),
                ("/api/auth/callback?code=x&state=y", {"cookie": f"almanac_oidc={DEEP_COOKIE}"}),
                (
                    "/api/auth/callback?code=x&state=y",
                    {"cookie": f"almanac_oidc={UTF16_DEEP_COOKIE}"},
                ),
            ):
                reply = await http.get(path, headers=headers)
                assert reply.status_code == 501 and reply.json()["code"] == "not_configured"
                assert "not set up on this server (OIDC_CLIENT_ID)" in reply.json()["detail"]
    finally:
        container.close()


def test_the_provider_settings_come_together(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="so must OIDC_CLIENT_SECRET and OIDC_ALLOWED_DOMAINS"):
        make_settings(tmp_path, oidc_client_id="x")


@pytest.mark.parametrize(
    ("asked", "lands"),
    [
        ("/app/x?y=1#z", "/app/x?y=1#z"),
        ("/", "/"),
        ("//elsewhere.example", "/"),
        ("/\t/elsewhere.example", "/"),  # browsers drop the tab: "//elsewhere.example"
        ("/\n/elsewhere.example", "/"),
        ("/\\elsewhere.example", "/"),
        ("https://elsewhere.example", "/"),
        ("elsewhere", "/"),
        ("", "/"),
    ],
)
def test_after_signing_in_the_browser_lands_only_on_this_site(asked: str, lands: str) -> None:
    assert safe_next(asked) == lands
