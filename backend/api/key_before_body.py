"""A protected route's key is checked before its body is read.

FastAPI reads a route's body before it runs the route's dependencies, `current_caller` among
them (backend/api/deps.py). Without this middleware, a request with no key, or with a key this
server never issued, whose body arrives slowly, kept its connection busy until
REQUEST_BODY_TIMEOUT_S. It then got its 401. Meanwhile the connection counted as a request
in progress, which the HTTP server's caps never close to make room
(backend/http_connections.py). A thousand such requests filled the caps as idle sockets
once did.

Rules:
- Only with authentication on, and only for a request that has a body (a Content-Length
  above 0, or a chunked one) and goes to a route of the protected routers (the first route
  that matches it fully is one of `protected`).
- Neither a key (`Authorization: Bearer`, `X-API-Key`) nor the web app's session cookie:
  the request is answered 401 at once. A key that does not authenticate (unknown, revoked) is
  answered 401 at once too, with its reason. Either way the body is never read, the answer
  is the same 401 the dependency gives, and the connection is closed after it. Everything
  else (a valid key, a session cookie) goes on to the route, whose dependency authenticates
  it as before.
- A key is looked up the same way the dependency looks it up (`Authenticate.execute`: a hash
  and one indexed read, no write), so a request with a body and a valid key is looked up
  twice.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api.deps import SESSION_COOKIE
from backend.api.problems import problem_response
from backend.bootstrap import Container
from use_cases.access.auth import MISSING_KEY
from use_cases.shared.errors import Unauthorized

__all__ = ["KeyBeforeBodyMiddleware"]

#: What a 401 says to authenticate with (as `backend/api/errors.py` adds to every 401), and
#: that the connection ends with it: the body it did not read is never waited for.
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="almanac"', "Connection": "close"}
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


class KeyBeforeBodyMiddleware:
    """Refuses a protected route's request without a usable key before its body is read
    (module rules). `protected`: the routes of the protected routers."""

    def __init__(self, app: ASGIApp, protected: Collection[BaseRoute]) -> None:
        self.app = app
        self._protected = {id(route) for route in protected}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in _BODYLESS:
            await self.app(scope, receive, send)
            return
        container = getattr(scope["app"].state, "container", None)
        headers = Headers(scope=scope)
        if (
            container is None
            or not container.access.authenticate.enabled
            or not _has_body(headers)
            or not self._goes_to_protected(scope)
        ):
            await self.app(scope, receive, send)
            return
        refusal = await _refusal(container, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        response = problem_response(
            401, "unauthorized", refusal, instance=scope.get("path"), headers=_CHALLENGE
        )
        await response(scope, receive, send)

    def _goes_to_protected(self, scope: Scope) -> bool:
        for route in scope["app"].router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return id(route) in self._protected
        return False


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length", "")
    if length.isdigit():
        return int(length) > 0
    return "transfer-encoding" in headers


async def _refusal(container: Container, headers: Headers) -> str | None:
    """Why the request's credentials cannot authenticate it (None: they may)."""
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    secret = token.strip() if scheme.lower() == "bearer" else ""
    secret = secret or headers.get("x-api-key", "").strip()
    if not secret:
        cookies = headers.get("cookie", "")
        has_session = any(
            part.strip().startswith(f"{SESSION_COOKIE}=") for part in cookies.split(";")
        )
        return None if has_session else MISSING_KEY
    try:
        await container.access.authenticate.execute(secret)
    except Unauthorized as exc:
        return str(exc)
    return None
