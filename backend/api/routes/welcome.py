"""`GET /`: a small public HTML page naming the product, its version and model, with links.

The page has no script; its one inline stylesheet is allowed by its hash in the page's own
Content-Security-Policy (everything else stays `default-src 'none'`). Every value written into
the page is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from backend import __version__
from backend.api.deps import ContainerDep
from use_cases.llm_domain import CHAT

router = APIRouter(tags=["health"])

#: (method, path, what it does): the endpoints a newcomer looks for first.
MAIN_ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("POST", "/chat", "Ask a question; a grounded, cited answer"),
    ("POST", "/chat/stream", "The same answer, streamed"),
    ("GET", "/api/search", "Hybrid search over the knowledge base"),
    ("GET", "/api/documents", "The documents in the knowledge base"),
    ("POST", "/search-discipline", "Whether a message must, may or must not search"),
    ("GET", "/health", "Service status (no key needed)"),
)

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1f2328}code{background:#f3f4f6;padding:0 .25rem;border-radius:4px}"
    "li{margin:.2rem 0}.muted{color:#57606a}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
WELCOME_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def render_welcome(version: str, model: str) -> str:
    endpoints = "\n".join(
        f"<li><code>{escape(method)} {escape(path)}</code> {escape(text)}</li>"
        for method, path, text in MAIN_ENDPOINTS
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Almanac {escape(version)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Almanac</h1>
<p>Grounded, cited answers over your organisation's documents and tables.</p>
<p class="muted">Version <code>{escape(version)}</code> &middot; model in use
<code>{escape(model)}</code></p>
<h2>Documentation</h2>
<ul>
<li><a href="docs">API docs (Swagger UI)</a></li>
<li><a href="redoc">API reference (ReDoc)</a></li>
<li><a href="health">Health check</a></li>
</ul>
<h2>Main endpoints</h2>
<ul>
{endpoints}
</ul>
<p class="muted">Every endpoint but this page, /health and the docs needs an API key
(<code>Authorization: Bearer KEY</code>) when AUTH_ENABLED=true.</p>
</body>
</html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def welcome(container: ContainerDep) -> HTMLResponse:
    model = (await container.model_defaults.effective(CHAT)).model
    return HTMLResponse(
        render_welcome(__version__, model), headers={"Content-Security-Policy": WELCOME_CSP}
    )
