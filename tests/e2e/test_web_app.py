"""The web app's page and files over HTTP (the browser tests in tests/browser drive it)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from backend.api.routes.web import ASSETS_URL, WEB_DIR, asset_version

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


async def test_the_page_names_versioned_files_cached_for_a_year_and_compressed(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/")).text
    version = asset_version()
    assert re.fullmatch(r"[0-9a-f]{12}", version)
    linked = re.findall(r'(?:href|src)="(/app/[^"]+)"', html)
    assert linked and all(url.startswith(f"{ASSETS_URL}/{version}/") for url in linked)
    # the chat page's modules are preloaded together, not found import by import
    preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
    names = {url.rsplit("/js/", 1)[1] for url in preloaded}
    assert {"main.js", "chat.js", "api.js", "dom.js", "markdown.js", "answer.js"} <= names
    assert not any("admin/" in name for name in names)  # admin pages load when opened
    script = await client.get(
        f"{ASSETS_URL}/{version}/js/chat.js", headers={"Accept-Encoding": "gzip"}
    )
    assert script.status_code == 200
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert script.headers["content-encoding"] == "gzip"
    assert int(script.headers["content-length"]) < len(script.content) / 2  # httpx decoded it
    assert script.content == (WEB_DIR / "js" / "chat.js").read_bytes()
    plain = await client.get(
        f"{ASSETS_URL}/{version}/js/chat.js", headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers and plain.content == script.content
    assert (await client.get(f"{ASSETS_URL}/000000000000/js/chat.js")).status_code == 404


def test_the_version_changes_with_any_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from backend.api.routes import web

    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "main.js").write_text("export const a = 1;\n")
    monkeypatch.setattr(web, "WEB_DIR", tmp_path)
    web.asset_version.cache_clear()
    try:
        first = web.asset_version()
        (tmp_path / "js" / "main.js").write_text("export const a = 2;\n")
        web.asset_version.cache_clear()
        assert web.asset_version() != first
    finally:
        web.asset_version.cache_clear()
