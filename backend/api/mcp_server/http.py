"""The MCP server over streamable HTTP at `/mcp` of the API server.

Rules:
- `/mcp` is a route of the protected route table: the caller dependency runs first, so a
  request without a valid key (when AUTH_ENABLED=true) is refused with the same 401 problem
  and `WWW-Authenticate` as any route, before the MCP SDK reads a byte of it. The caller it
  leaves on the request is who the tools act for (`caller_of`).
- Stateless and JSON: every POST is answered on its own with `application/json`, with no
  session kept in the process, so `almanac serve --workers N` and replicas behind a load
  balancer serve it like any route. Only POST is routed: a GET (a server-to-client event
  stream, which a stateless server would hold open with nothing to send) and a DELETE (no
  session to end) get 405 with `Allow: POST`, as the protocol allows.
- Host and Origin are checked by the app's site guard (ALLOWED_HOSTS, and another site's
  changes refused when authentication is off), not again by the SDK.
- The SDK's session manager runs in the app's lifespan (`serving_mcp`); before it has started
  (an app whose lifespan did not run) `/mcp` answers 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from starlette.types import Receive, Scope, Send

from backend.api.deps import CallerDep
from backend.api.openapi import problem_responses
from backend.api.rate_limit import take_token
from backend.bootstrap import Container
from use_cases.access.domain import Caller
from use_cases.shared.errors import ServiceBusy

if TYPE_CHECKING:  # the SDK is imported when the server starts (~1 s): not by every importer
    from mcp.server.mcpserver import Context
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

router = APIRouter(tags=["mcp"])


def _request_of(ctx: Context) -> Request:
    request = ctx.request_context.request
    if not isinstance(request, Request):  # never over HTTP: the SDK hands the request on
        raise RuntimeError("An MCP call over HTTP without its request")
    return request


def _caller(ctx: Context) -> Caller:
    caller = _request_of(ctx).state.caller
    assert isinstance(caller, Caller)  # set by the caller dependency before the SDK ran
    return caller


async def _token(ctx: Context) -> float:
    request = _request_of(ctx)
    return await take_token(request, request.state.caller)


@asynccontextmanager
async def serving_mcp(app: FastAPI, container: Container) -> AsyncIterator[None]:
    """Build the MCP server over `container` and run its session manager while the app
    serves (the app's lifespan enters it)."""
    from mcp.server.transport_security import TransportSecuritySettings

    from backend.api.mcp_server.tools import McpEdge, build_mcp_server

    edge = McpEdge(
        container,
        caller_of=_caller,
        take_token=_token,
        per_minute=container.settings.http.rate_limit_per_minute,
    )
    server = build_mcp_server(edge)
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    async with manager.run():
        app.state.mcp = manager
        try:
            yield
        finally:
            app.state.mcp = None


def _check_headers(request: Request) -> None:
    """What the SDK would refuse with a bare text reply, refused here as problems: a body
    that is not declared JSON (415) or a client that does not accept JSON (406)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("application/json"):
        raise HTTPException(415, "An MCP message is JSON: send Content-Type: application/json.")
    accepted = {
        kind.split(";")[0].strip().lower() for kind in request.headers.get("accept", "").split(",")
    }
    if not accepted & {"application/json", "application/*", "*/*"}:
        raise HTTPException(
            406, "The MCP server answers in JSON: send Accept: application/json, text/event-stream."
        )


class _McpResponse(Response):
    """Hands the request, as received, to the SDK's session manager, which answers it."""

    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self._manager = manager
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._manager.handle_request(scope, receive, send)


@router.post(
    "/mcp",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "A JSON-RPC response."},
        202: {"description": "A notification or a response: accepted, no body."},
        400: {
            "content": {"application/json": {}},
            "description": "Not JSON, or not a JSON-RPC message: a JSON-RPC error object.",
        },
        **problem_responses(406, 413, 415, 503),
    },
    summary="The MCP server (streamable HTTP, stateless): tools, and documents as resources",
    description="Model Context Protocol clients (Claude Desktop, Cursor, the MCP SDKs) "
    "connect here with an API key as `Authorization: Bearer KEY`. See docs/mcp.md.",
)
async def mcp_endpoint(request: Request, caller: CallerDep) -> Any:
    _check_headers(request)
    manager = getattr(request.app.state, "mcp", None)
    if manager is None:
        raise ServiceBusy("The MCP server is not running in this process yet.", retry_after_s=1)
    return _McpResponse(manager)
