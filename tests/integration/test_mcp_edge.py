"""The MCP server's tools over a real container, through the SDK's in-process client: a
failure no one foresaw reaches the client as a short tool error (the traceback stays in the
log), a bad resource id as a protocol error, and the caller's rate limit as a tool error."""

from __future__ import annotations

import pytest
from loguru import logger
from mcp import Client, MCPError
from mcp.types import TextContent

from backend.api.mcp_server.tools import McpEdge, build_mcp_server
from backend.bootstrap import Container
from tests.narrowing import of_type
from use_cases.access.domain import Caller

ANA = Caller("ana", "user", "key-1")


def _edge(container: Container, *, wait: float = 0.0) -> McpEdge:
    async def take(_ctx: object) -> float:
        return wait

    return McpEdge(container, caller_of=lambda _ctx: ANA, take_token=take, per_minute=7)


async def test_an_unforeseen_failure_is_a_short_tool_error_and_its_traceback_is_logged(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("disk says /var/lib/almanac/secret.db is corrupt")

    monkeypatch.setattr(container.knowledge.get_document, "execute", broken)
    logged: list[str] = []
    sink = logger.add(lambda message: logged.append(str(message)), level="ERROR")
    try:
        async with Client(build_mcp_server(_edge(container))) as client:
            result = await client.call_tool("get_document", {"id": 1})
    finally:
        logger.remove(sink)
    assert result.is_error
    text = of_type(TextContent, result.content[0]).text
    assert "could not complete get_document; the error is logged" in text
    assert "secret.db" not in text and "Traceback" not in text
    assert any("secret.db" in line and "Traceback" in line for line in logged)


async def test_a_resource_id_that_is_not_a_number_is_a_protocol_error(
    container: Container,
) -> None:
    async with Client(build_mcp_server(_edge(container))) as client:
        with pytest.raises(MCPError, match="ids are whole numbers"):
            await client.read_resource("almanac://documents/abc")
        with pytest.raises(MCPError):
            await client.read_resource("almanac://elsewhere/1")


async def test_over_the_rate_limit_the_turn_tools_say_when_to_try_again(
    container: Container,
) -> None:
    async with Client(build_mcp_server(_edge(container, wait=2.2))) as client:
        asked = await client.call_tool("ask", {"question": "How often must passwords change?"})
        searched = await client.call_tool("search_knowledge_base", {"query": "passwords"})
    assert asked.is_error
    assert (
        "at most 7 per minute per caller. Try again in 3 s."
        in of_type(TextContent, asked.content[0]).text
    )
    assert not searched.is_error  # searching is not a model turn: not rate-limited, as over HTTP
    chats = await container.chat.chats.list("ana", limit=10, offset=0)
    assert chats == []  # the refused question stored nothing
