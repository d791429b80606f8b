"""`/docs` (Swagger UI) and `/redoc` served without a CDN, so they work offline.

The JavaScript, CSS and favicon come from the installed `fastapi-offline` package (Swagger UI 5,
which renders OpenAPI 3.1, and ReDoc 2) and are mounted under `/static/docs`. Each page sends a
Content-Security-Policy that allows only those self-served assets, the page's own inline
start-up script (by its hash), `/openapi.json` and the API itself (for "Try it out").
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/static/docs"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _page_csp(html: str, *, workers: bool = False) -> str:
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    policy = [
        "default-src 'none'",
        f"script-src 'self' {hashes}".strip(),
        # Both UIs set element styles at run time; no stylesheet is loaded from elsewhere.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    if workers:
        policy.append("worker-src 'self' blob:")  # ReDoc runs its search index in a worker
    return "; ".join(policy)


def _html(html: str, *, workers: bool = False) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": _page_csp(html, workers=workers)})


def install_docs(app: FastAPI) -> None:
    """Call with `FastAPI(docs_url=None, redoc_url=None)`. URLs honour the ASGI root path."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
        )
        return _html(bytes(html.body).decode())

    @app.get("/redoc", include_in_schema=False)
    async def redoc_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return _html(bytes(html.body).decode(), workers=True)
