"""Request ids and one log line per request, as plain ASGI (safe for streaming bodies).

A request's line has its method, path, status, duration and request id; of its query string
(search terms, filter values: what people look for), only its length (`?[37 chars]`), unless
content logging is on (LOG_REQUEST_CONTENT, a debugging aid: `use_cases/shared/content_log.py`).
No hash of it either: a hash of a short search term is undone by hashing guesses (every name
on a staff list).

The logged path, and with content logging on the logged query string, have anything shaped
like a key, a session secret or a Bearer token redacted whatever the parameter's name
(`backend.logging.redact_secrets`), and the query string the values of credential-like
parameters (`api_key`, `token`, `password`, `almanac_session`, ...) replaced by `REDACTED`,
so a credential passed in a URL does not end up in the log. Control characters in them are
escaped by the log's patcher (`backend/logging.py`).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.logging import redact_secrets
from use_cases.shared.content_log import content_logged

REQUEST_ID_HEADER = "x-request-id"
_CREDENTIAL_PARAM = re.compile(
    r"(^|&)([^=&]*(?:key|token|secret|password|passwd|signature|session)|auth|authorization)=[^&]*",
    re.I,
)


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            with logger.contextualize(request_id=request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            path = redact_secrets(scope.get("path", ""))
            query = scope.get("query_string", b"").decode("latin-1")
            logger.info(
                "{} {}{} -> {} in {:.1f} ms [request {}]",
                scope.get("method", "-"),
                path,
                logged_query(query),
                status["code"],
                elapsed_ms,
                request_id,
            )


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            candidate = value.decode("latin-1")[:64]
            if candidate.replace("-", "").replace("_", "").isalnum():
                return candidate
    return None


def logged_query(query: str) -> str:
    """What a request's log line shows of its query string: nothing for none, the whole of it
    with credentials redacted while content logging is on, else its length alone."""
    if not query:
        return ""
    if content_logged():
        return f"?{redact_query(query)}"
    return f"?[{len(query)} chars]"


def redact_query(query: str) -> str:
    return redact_secrets(_CREDENTIAL_PARAM.sub(r"\1\2=REDACTED", query))
