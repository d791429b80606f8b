"""Browser-facing protections: CORS from settings and security headers on every response.

Rules:
- CORS is off unless `CORS_ORIGINS` lists origins (or `*`). Credentials are allowed only with
  `CORS_ALLOW_CREDENTIALS=true` and never for `*` (Settings refuses that at start-up). The
  headers a client needs to read are exposed: the request id, `Retry-After`, `WWW-Authenticate`
  and the stream protocol markers.
- Every response carries `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
  `X-Frame-Options: DENY` and, unless the response set its own, the strict
  `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` (a JSON API loads
  nothing). The HTML docs pages set their own policy that allows only self-served assets.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.config import Settings
from backend.exposure import check_cors

API_CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_EXPOSED_HEADERS = [
    "x-request-id",
    "retry-after",
    "www-authenticate",
    "x-vercel-ai-data-stream",
    "x-vercel-ai-ui-message-stream",
    "x-total-count",  # the total of a list answered as a JSON array (/api/v1 library)
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", API_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_cors(app: FastAPI, settings: Settings) -> None:
    """CORS for `CORS_ORIGINS` only; `*` with authentication off is refused (`check_cors`)."""
    check_cors(settings)
    origins = list(settings.http.cors_origin_list)
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_credentials=settings.http.cors_allow_credentials,
        allow_methods=CORS_METHODS,
        allow_headers=["*"],
        expose_headers=CORS_EXPOSED_HEADERS,
        max_age=600,
    )
