"""What browsers see: CORS only for configured origins, security headers on every response,
and API docs pages that load nothing but self-served assets (so they work offline)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import Settings
from use_cases.shared.errors import ConfigurationError

APP_ORIGIN = "https://chat.example.com"


async def _client_with(container: Container, **settings: object) -> httpx.AsyncClient:
    configured = container.settings.updated(**settings)
    app = create_app(configured, container)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
async def cors_client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client_with(container, cors_origins=f"{APP_ORIGIN}, https://b.example") as c:
        yield c


async def test_without_cors_origins_no_cors_headers_are_sent(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"Origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options(
        "/chat", headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_a_configured_origin_may_call_the_api_and_read_its_headers(
    cors_client: httpx.AsyncClient,
) -> None:
    preflight = await cors_client.options(
        "/chat",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-user-id",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in preflight.headers

    response = await cors_client.get("/health", headers={"Origin": APP_ORIGIN})
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed and "retry-after" in exposed
    assert "x-total-count" in exposed  # the library's lists are arrays; the total is a header


async def test_an_unlisted_origin_gets_no_cors_permission(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = await cors_client.options(
        "/chat",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


async def test_credentials_are_allowed_only_for_listed_origins(container: Container) -> None:
    async with await _client_with(
        container, cors_origins=APP_ORIGIN, cors_allow_credentials=True
    ) as http:
        response = await http.get("/health", headers={"Origin": APP_ORIGIN})
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"


def test_any_origin_with_credentials_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="CORS_ORIGINS='\\*' together with CORS_ALLOW"):
        Settings(_env_file=None, cors_origins="*", cors_allow_credentials=True)


async def test_any_origin_with_authentication_off_is_refused_at_start_up(
    container: Container,
) -> None:
    """Development mode acts as the admin for every request: `*` would let any page the
    local user visits read every chat (the probe: `GET /chats` from https://evil.example
    answered 200 with `access-control-allow-origin: *`)."""
    assert not container.settings.auth.enabled
    with pytest.raises(ConfigurationError, match="Refusing CORS_ORIGINS='\\*' with authen"):
        await _client_with(container, cors_origins="*")
    with pytest.raises(ConfigurationError, match="AUTH_ENABLED=true"):
        await _client_with(container, cors_origins=f"{APP_ORIGIN}, *")


async def test_any_origin_with_authentication_on_never_carries_credentials(
    container: Container,
) -> None:
    """With a key required, `*` is allowed, but no answer ever lets a browser send or read
    with credentials: not with a cookie sent, not on a preflight, not for a private route."""
    async with await _client_with(container, cors_origins="*", auth_enabled=True) as http:
        evil = {"Origin": "https://evil.example", "Cookie": "almanac_session=stolen"}
        for response in (
            await http.get("/health", headers=evil),
            await http.get("/chats", headers=evil),
            await http.options("/chats", headers={**evil, "Access-Control-Request-Method": "GET"}),
        ):
            assert "access-control-allow-credentials" not in response.headers, response.headers


@pytest.mark.parametrize("url", ["/health", "/nope", "/openapi.json", "/docs"])
async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, url: str
) -> None:
    response = await client.get(url)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_json_responses_may_load_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    policy = response.headers["content-security-policy"]
    assert policy == "default-src 'none'; frame-ancestors 'none'"


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize(("page", "scripts"), [("/docs", 1), ("/redoc", 1)])
async def test_docs_pages_reference_only_self_served_assets_that_exist(
    client: httpx.AsyncClient, page: str, scripts: int
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    urls = _asset_urls(html)
    assert len([u for u in urls if u.endswith(".js")]) == scripts
    assert any(u.endswith(".css") for u in urls) or page == "/redoc"
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        kind = {"js": "javascript", "css": "text/css", "png": "image/png"}[url.rsplit(".", 1)[1]]
        assert kind in asset.headers["content-type"], url
        assert len(asset.content) > 1000, url
    assert "http://" not in html.replace("http://t", "") and "https://" not in html


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_policy_allows_only_self_and_their_own_inline_script(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    policy = response.headers["content-security-policy"]
    assert "http" not in policy and "*" not in policy
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    allowed_scripts = set(directives["script-src"].split())
    inline = re.findall(r"<script>(.*?)</script>", response.text, flags=re.S)
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed_scripts
    assert allowed_scripts == {"'self'"} | {s for s in allowed_scripts if s.startswith("'sha256-")}
    assert "'unsafe-inline'" not in allowed_scripts


async def test_swagger_ui_is_told_the_local_openapi_url(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text
    assert "url: '/openapi.json'" in html and '"validatorUrl": null' in html
