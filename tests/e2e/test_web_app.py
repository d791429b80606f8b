"""The web app's page and files over HTTP (the browser tests in tests/browser drive it)."""

from __future__ import annotations

import re

import httpx
import pytest

from backend.api.routes.web import ASSETS_URL, WEB_DIR

APP_FILES = sorted(str(p.relative_to(WEB_DIR)) for p in WEB_DIR.rglob("*") if p.is_file())


async def test_the_app_page_is_served_without_a_key_under_a_strict_policy(
    auth_client: httpx.AsyncClient,
) -> None:
    response = await auth_client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'")
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    html = response.text
    assert "<style" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers


async def test_every_file_the_page_names_exists(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    linked = re.findall(r'(?:href|src)="(/app/[^"]+)"', html)
    assert len(linked) >= 3
    for url in linked:
        assert (await client.get(url)).status_code == 200, url


@pytest.mark.parametrize("name", APP_FILES)
async def test_every_app_file_loads_without_a_key(
    name: str, auth_client: httpx.AsyncClient
) -> None:
    response = await auth_client.get(f"{ASSETS_URL}/{name}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"


async def test_me_names_the_caller_and_whether_keys_are_checked(client: httpx.AsyncClient) -> None:
    me = (await client.get("/api/me")).json()
    assert me == {
        "user_id": "default",
        "role": "admin",
        "auth_enabled": False,
        "chat_placeholder": "Ask a question about your documents…",
        "advice_placeholder": "Describe the decision you need advice on…",
    }
