"""CLI: `almanac mcp`, the MCP server over stdio for a local client (Claude Desktop, Cursor).

Rules:
- Local, like every other command: whoever can start it can read the data directory, so it
  asks for no key. It acts as the local admin (DEFAULT_USER_ID, whose chats `almanac ask`
  keeps), or with `--user NAME` as that user with the user role (their own chats); acting as
  another user is recorded in the audit log once, at the start, as an admin acting for them.
- stdout carries the protocol and nothing else: logs go to stderr.
- The turn tools take tokens of the same per-caller rate limit as HTTP (RATE_LIMIT_PER_MINUTE,
  in the shared store when one is configured), one bucket for this process's user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from backend.api.rate_limit import RateLimiter, TokenBucketLimiter, build_rate_limiter
from backend.cli.common import open_container, run_command
from services.clock import SystemClock
from use_cases.access.domain import CLI_ADMIN, Caller

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

#: What `almanac mcp` records as the way it acted for another user.
VIA = "almanac mcp --user"


def mcp(
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            help="Act as this user (their chats, the user role). Default: the local admin "
            "(DEFAULT_USER_ID).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve Almanac's MCP tools and documents over stdio (for Claude Desktop, Cursor, ...)."""

    def body() -> None:
        import anyio  # the MCP SDK costs ~1 s of start-up: only this command pays it

        from backend.api.mcp_server.tools import McpEdge, build_mcp_server

        with open_container(with_sample=True) as container:
            settings = container.settings
            if user is None:
                caller = Caller(settings.auth.default_user_id, "admin", None)
            else:
                name = asyncio.run(container.access.act_for.execute(CLI_ADMIN, user, via=VIA))
                caller = Caller(name, "user", None)
            limiter = build_rate_limiter(settings, SystemClock())
            edge = McpEdge(
                container,
                caller_of=lambda _ctx: caller,
                take_token=_token_taker(limiter, f"local:{caller.user_id}"),
                per_minute=settings.http.rate_limit_per_minute,
            )
            try:
                anyio.run(build_mcp_server(edge).run_stdio_async)
            finally:
                limiter.close()

    run_command(body)


def _token_taker(limiter: RateLimiter, key: str) -> Callable[[Context], Awaitable[float]]:
    async def take(_ctx: Context) -> float:
        if isinstance(limiter, TokenBucketLimiter):
            return limiter.acquire(key)
        return await asyncio.to_thread(limiter.acquire, key)

    return take
