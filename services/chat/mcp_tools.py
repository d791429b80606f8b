"""The `ExternalTools` port over MCP servers, with the official SDK's client (`mcp.Client`).

Rules:
- A server is a local command (stdio: started for each connection, and stopped when it ends)
  or a streamable-HTTP URL with its headers (their values already read from the environment
  by the wiring). Each listing and each call opens its own connection: nothing is held
  between turns, so a server that restarts or dies costs one call, and a hung one is abandoned
  with its connection when the caller's time limit cancels it.
- Only allowed tools are offered: `server__tool`, or `server__*` for all of a server's tools.
  A tool whose name would not make a valid tool name (letters, digits, `_` and `-`, at most 64
  characters with its server) is left out.
- Listings are kept `LIST_TTL_S` seconds, per server; a server that could not be listed
  (down, too slow, not MCP) is logged and offers nothing until the next listing, so a turn
  never waits on it twice in that time.
- A call's result is its text content joined (an image or other binary block is named, not
  sent), else its structured content as JSON; read up to `max_chars` (the total is counted).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from loguru import logger
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from use_cases.chat.external_tools import ExternalReply, ExternalTool

#: Seconds a server's tool list is kept before it is listed again.
LIST_TTL_S = 60.0
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class McpServer:
    """One configured server: `command` (with `args`, `env`) or `url` (with `headers`)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class McpTools:
    """The allowed tools of `servers` (see the module rules); `timeout_s` bounds a listing."""

    def __init__(
        self,
        servers: Sequence[McpServer],
        allowed: Sequence[str],
        *,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._servers = {server.name: server for server in servers}
        self._allowed = frozenset(allowed)
        self._timeout_s = timeout_s
        self._clock = clock
        self._listed: dict[str, tuple[float, list[ExternalTool]]] = {}
        self._lock = asyncio.Lock()

    async def list_tools(self) -> list[ExternalTool]:
        async with self._lock:  # one listing at a time: concurrent turns share it
            now = self._clock()
            stale = [
                name
                for name in self._servers
                if name not in self._listed or now - self._listed[name][0] > LIST_TTL_S
            ]
            listed = await asyncio.gather(*(self._list(self._servers[n]) for n in stale))
            for name, tools in zip(stale, listed, strict=True):
                self._listed[name] = (now, tools)
            return [tool for _, tools in self._listed.values() for tool in tools]

    async def _list(self, server: McpServer) -> list[ExternalTool]:
        try:
            async with asyncio.timeout(self._timeout_s), self._connect(server) as client:
                found = (await client.list_tools()).tools
        except Exception as exc:
            logger.warning("MCP server {} could not be listed: {!r}", server.name, exc)
            return []
        tools = []
        for tool in found:
            name = f"{server.name}__{tool.name}"
            allowed = name in self._allowed or f"{server.name}__*" in self._allowed
            if allowed and _TOOL_NAME.fullmatch(name):
                tools.append(
                    ExternalTool(
                        name=name,
                        server=server.name,
                        tool=tool.name,
                        description=(tool.description or tool.title or tool.name)[:2000],
                        parameters=tool.input_schema,
                    )
                )
        return tools

    async def call(
        self, tool: ExternalTool, arguments: dict[str, Any], *, max_chars: int
    ) -> ExternalReply:
        async with self._connect(self._servers[tool.server]) as client:
            result = await client.call_tool(tool.tool, arguments)
        if not isinstance(result, CallToolResult):  # an input request Almanac cannot answer
            return ExternalReply("The tool asked for input Almanac cannot give.", 0, True)
        text, total = _text_of(result, max_chars)
        return ExternalReply(text, total, bool(result.is_error))

    def _connect(self, server: McpServer) -> AbstractAsyncContextManager[Client]:
        if server.command is not None:
            params = StdioServerParameters(
                command=server.command, args=list(server.args), env=dict(server.env) or None
            )
            return Client(params)
        assert server.url is not None
        # The transport's own timeout comes a little after the call's limit (asyncio.timeout
        # around each call and listing), so that the limit is what cuts a hanging call and
        # the model reads why, never a transport error raced out of the SDK's task group.
        return _HttpClient(server.url, dict(server.headers), self._timeout_s + _TRANSPORT_GRACE_S)


#: Seconds the HTTP transport waits past the call's own limit (`_connect`).
_TRANSPORT_GRACE_S = 5.0


class _HttpClient:
    """`Client` over streamable HTTP with the server's headers, closing its HTTP client too."""

    def __init__(self, url: str, headers: dict[str, str], timeout_s: float) -> None:
        self._http = httpx2.AsyncClient(headers=headers, timeout=timeout_s)
        self._client = Client(streamable_http_client(url, http_client=self._http))

    async def __aenter__(self) -> Client:
        try:
            return await self._client.__aenter__()
        except BaseException:
            await self._http.aclose()
            raise

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._client.__aexit__(*exc)  # type: ignore[arg-type]  # __aexit__'s own arguments, passed on
        finally:
            await self._http.aclose()


def _text_of(result: CallToolResult, max_chars: int) -> tuple[str, int]:
    """The result's text, at most `max_chars` of it, and how many characters it had."""
    pieces: list[str] = []
    for block in result.content:
        if isinstance(block, TextContent):
            pieces.append(block.text)
        else:
            pieces.append(f"[{block.type} content, not shown]")
    if not pieces and result.structured_content is not None:
        pieces.append(json.dumps(result.structured_content, ensure_ascii=False))
    kept: list[str] = []
    room, total = max_chars, 0
    for piece in pieces:
        total += len(piece) + (1 if total else 0)
        if room > 0:
            kept.append(piece[:room])
            room -= len(piece) + 1
    return "\n".join(kept)[:max_chars], total
