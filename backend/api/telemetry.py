"""The HTTP edge's part of observability: request metrics and traces (see
`services/observability` and docs/operations.md).

- `TelemetryMiddleware` counts and times each request under its route's template
  (`/chats/{chat_id}`, never the path itself) and, with tracing on, wraps it in a server span
  (OpenTelemetry's ASGI instrumentation) carrying the request id (`almanac.request_id`),
  its URL without the query string (search terms and filter values are what people look
  for: docs/operations.md).
  The container, and so the tracer provider, exists only once the lifespan has built it,
  hence the span middleware is made at the first request rather than with the app.
- `instrument_agents` turns on PydanticAI's own instrumentation (agent runs, model requests
  and tool calls, with the OpenTelemetry GenAI conventions) on the same provider; message
  contents are left out of the spans (they hold users' questions and documents).
"""

from __future__ import annotations

import time

from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from pydantic_ai import Agent
from pydantic_ai.models.instrumented import InstrumentationSettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.observability import Observability

#: The span attribute and the request-state key naming a request's id.
REQUEST_ID_ATTRIBUTE = "almanac.request_id"


class TelemetryMiddleware:
    """Inside `RequestLogMiddleware` (which sets the request id), outside everything else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._traced: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        observability = _observability(scope)
        if scope["type"] != "http" or observability is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self._inner(observability)(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            observability.metrics.request_answered(
                scope.get("method", "-"), route, status["code"], time.perf_counter() - started
            )

    def _inner(self, observability: Observability) -> ASGIApp:
        if observability.tracer_provider is None:
            return self.app
        if self._traced is None:
            self._traced = OpenTelemetryMiddleware(
                _TagRequest(self.app),
                tracer_provider=observability.tracer_provider,
                exclude_spans=["receive", "send"],
                server_request_hook=_without_query,
            )
        return self._traced


class _TagRequest:
    """Puts the request id on the server span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = scope.get("state", {}).get("request_id")
        if request_id:
            trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        await self.app(scope, receive, send)


#: The server span's attributes that hold the request's URL, query string included.
_URL_ATTRIBUTES = ("http.url", "http.target", "url.full")


def _without_query(span: trace.Span, scope: Scope) -> None:
    """The server span's URL attributes cut at the query string, and `url.query` (newer
    conventions) replaced by its length, as the request's log line gives it."""
    query = scope.get("query_string")
    attributes = getattr(span, "attributes", None)
    if not query or not attributes:
        return
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", f"[{len(query)} chars]")


def _observability(scope: Scope) -> Observability | None:
    container = getattr(scope["app"].state, "container", None) if "app" in scope else None
    return getattr(container, "observability", None)


def instrument_agents(observability: Observability) -> bool:
    """Instrument every PydanticAI agent of the process on the provider; False if tracing is
    off (nothing done)."""
    if observability.tracer_provider is None:
        return False
    Agent.instrument_all(
        InstrumentationSettings(
            tracer_provider=observability.tracer_provider, include_content=False
        )
    )
    return True


def stop_instrumenting_agents() -> None:
    Agent.instrument_all(False)
