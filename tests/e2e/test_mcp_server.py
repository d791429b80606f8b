"""Almanac's MCP server at `/mcp` of a running server, driven by the official MCP clients: the
Python SDK's `mcp.Client` (streamable HTTP, the key sent as `Authorization: Bearer`) and the
TypeScript SDK's client from npm. Also what a hand-written bad request gets: a JSON-RPC error
or a 4xx, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent, TextResourceContents

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, issue_key, make_settings
from tests.live_server import serve
from tests.mcp_clients import run_ts_client
from tests.narrowing import of_type

QUESTION = "How often must passwords change?"
TOOLS = {
    "search_knowledge_base",
    "ask",
    "get_advice",
    "lookup_structured_data",
    "list_tables",
    "get_document",
}
JSON_RPC = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def server(auth_container: Container) -> Iterator[str]:
    with serve(create_app(container=auth_container)) as url:
        yield url


@asynccontextmanager
async def connected(url: str, headers: dict[str, str]) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield client


async def test_the_python_sdk_lists_typed_tools_each_saying_when_to_use_it(
    server: str, auth_container: Container
) -> None:
    key = await issue_key(auth_container, "ana")
    async with connected(server, key) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and "use it" in tool.description.lower(), tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
    search = tools["search_knowledge_base"].input_schema
    assert search["required"] == ["query"]
    assert set(search["properties"]) == {
        "query",
        "limit",
        "category",
        "collection",
        "source_prefix",
        "updated_after",
        "updated_before",
        "meta",
    }
    ask = tools["ask"].output_schema
    assert ask is not None
    assert "sources" in ask["properties"]
    assert "confidence" in ask["properties"]


async def test_search_and_ask_give_structured_grounded_results(
    server: str, auth_container: Container
) -> None:
    key = await issue_key(auth_container, "ana")
    async with connected(server, key) as client:
        search = await client.call_tool(
            "search_knowledge_base", {"query": "password rotation", "limit": 3}
        )
        ask = await client.call_tool("ask", {"question": QUESTION})
    assert not search.is_error and search.structured_content is not None
    hits = search.structured_content["hits"]
    assert 1 <= len(hits) <= 3
    assert hits[0]["source"] == "policies/password-policy-2025.md"
    assert not ask.is_error and ask.structured_content is not None
    answer = ask.structured_content
    assert "[1]" in answer["answer"] and "compromise" in answer["answer"]
    assert answer["sources"][0]["source"] == "policies/password-policy-2025.md"
    assert 0 < answer["confidence"] <= 1 and answer["not_found"] is False


async def test_the_search_tools_filters_narrow_what_it_finds(
    server: str, auth_container: Container
) -> None:
    key = await issue_key(auth_container, "ana")
    query = {"query": "password rotation", "limit": 10}
    async with connected(server, key) as client:
        prefixed = await client.call_tool(
            "search_knowledge_base", {**query, "source_prefix": "policies/password"}
        )
        other = await client.call_tool("search_knowledge_base", {**query, "collection": "hr"})
        unknown_key = await client.call_tool(
            "search_knowledge_base", {**query, "meta": {"no-such-key": "x"}}
        )
        malformed = await client.call_tool(
            "search_knowledge_base", {**query, "meta": {"owner; drop": "x"}}
        )
        backwards = await client.call_tool(
            "search_knowledge_base",
            {**query, "updated_after": "2025-06-01", "updated_before": "2025-01-01"},
        )
    assert not prefixed.is_error and prefixed.structured_content is not None
    sources = {hit["source"] for hit in prefixed.structured_content["hits"]}
    assert sources and all(s.startswith("policies/password") for s in sources)
    for empty in (other, unknown_key):
        assert not empty.is_error and empty.structured_content is not None
        assert empty.structured_content["hits"] == []
    for refused in (malformed, backwards):
        assert refused.is_error
        assert "Invalid arguments" in refused.content[0].text  # type: ignore[union-attr]  # an error is text


async def test_documents_are_resources_listed_and_read_with_their_sections(
    server: str, auth_container: Container
) -> None:
    key = await issue_key(auth_container, "ana")
    async with connected(server, key) as client:
        listed = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        policy = next(r for r in listed if r.title == "Password and Credential Rotation Policy")
        read = await client.read_resource(str(policy.uri))
        document = await client.call_tool(
            "get_document", {"id": int(str(policy.uri).rsplit("/", 1)[1])}
        )
        with pytest.raises(MCPError, match="No document with id 999999"):
            await client.read_resource("almanac://documents/999999")
    assert len(listed) == 33 and all(str(r.uri).startswith("almanac://documents/") for r in listed)
    assert [t.uri_template for t in templates] == ["almanac://documents/{id}"]
    text = of_type(TextResourceContents, read.contents[0]).text
    assert text.startswith("# Password and Credential Rotation Policy\n")
    sections = document.structured_content["sections"]
    assert len(sections) >= 2
    for section in sections:  # every section, under its heading, in the resource's text
        assert section["text"] in text
        assert f"## {' > '.join(section['heading_path'])}" in text


async def test_tables_and_the_sql_sandbox_answer_admins_as_for_the_assistant(
    server: str, auth_container: Container
) -> None:
    key = await issue_key(auth_container, "root", "admin")
    async with connected(server, key) as client:
        tables = await client.call_tool("list_tables", {})
        name = tables.structured_content["tables"][0]["name"]
        rows = await client.call_tool(
            "lookup_structured_data", {"sql": f'SELECT COUNT(*) AS n FROM "{name}"'}
        )
        refused = await client.call_tool("lookup_structured_data", {"sql": f'DELETE FROM "{name}"'})
        again = await client.call_tool(
            "lookup_structured_data", {"sql": f'SELECT COUNT(*) AS n FROM "{name}"'}
        )
    assert rows.structured_content == {
        "columns": ["n"],
        "rows": [[rows.structured_content["rows"][0][0]]],
        "truncated": False,
    }
    assert rows.structured_content["rows"][0][0] > 0
    assert refused.is_error
    assert "read-only SELECT" in of_type(TextContent, refused.content[0]).text
    assert again.structured_content == rows.structured_content  # nothing was deleted


async def test_a_user_may_not_browse_the_tables_through_mcp(
    server: str, auth_container: Container
) -> None:
    """The MCP table tools are admins'; over HTTP a user lists the tables of their own
    collections (docs/collections.md#tables), here the sample's, in the default one."""
    key = await issue_key(auth_container, "ana")
    async with connected(server, key) as client:
        listed = await client.call_tool("list_tables", {})
        queried = await client.call_tool("lookup_structured_data", {"sql": "SELECT 1"})
    async with httpx.AsyncClient() as plain:
        over_http = await plain.get(f"{server}/api/tables", headers=key)
    assert over_http.status_code == 200
    assert {t["collection"] for t in over_http.json()["tables"]} == {None}
    for refused in (listed, queried):
        assert refused.is_error
        assert "needs the admin role" in of_type(TextContent, refused.content[0]).text


async def test_without_a_key_or_with_a_wrong_one_mcp_is_refused_401(server: str) -> None:
    for headers in ({}, {"Authorization": "Bearer alm_not-a-key"}):
        statuses: list[int] = []

        async def record(response: httpx2.Response) -> None:
            statuses.append(response.status_code)  # noqa: B023 - read before the next loop

        async with httpx2.AsyncClient(headers=headers, event_hooks={"response": [record]}) as http:
            with pytest.raises(ExceptionGroup):  # the SDK's error, in its task group's
                async with Client(streamable_http_client(f"{server}/mcp", http_client=http)) as c:
                    await c.list_tools()
        assert statuses and set(statuses) == {401}
        async with httpx.AsyncClient() as plain:
            raw = await plain.post(
                f"{server}/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={**JSON_RPC, **headers},
            )
        assert raw.status_code == 401
        assert raw.headers["www-authenticate"].startswith("Bearer")
        assert raw.json()["code"] == "unauthorized"


async def test_chats_made_through_mcp_are_the_callers_own(
    server: str, auth_container: Container
) -> None:
    ana, bob = await issue_key(auth_container, "ana"), await issue_key(auth_container, "bob")
    async with connected(server, ana) as client:
        asked = await client.call_tool("ask", {"question": QUESTION})
    chat_id = asked.structured_content["chat_id"]
    async with connected(server, bob) as client:
        continued = await client.call_tool("ask", {"question": "And why?", "chat_id": chat_id})
    assert continued.is_error and "chat" in of_type(TextContent, continued.content[0]).text.lower()
    async with httpx.AsyncClient(base_url=server) as http:
        anas = (await http.get("/chats", headers=ana)).json()
        bobs = (await http.get("/chats", headers=bob)).json()
    assert [c["id"] for c in anas] == [chat_id]
    assert bobs == []


async def test_the_turn_tools_share_the_http_rate_limit_of_the_key(data_dir: Path) -> None:
    container = bootstrap(
        make_settings(data_dir, auth_enabled=True, rate_limit_per_minute=2), clock=FixedClock()
    )
    try:
        key = await issue_key(container, "ana")
        with serve(create_app(container=container)) as url:
            async with connected(url, key) as client:
                first = await client.call_tool("ask", {"question": QUESTION})
                searched = await client.call_tool("search_knowledge_base", {"query": "vpn"})
                second = await client.call_tool("get_advice", {"question": QUESTION})
                third = await client.call_tool("ask", {"question": QUESTION})
            async with httpx.AsyncClient() as plain:
                over_http = await plain.post(f"{url}/chat", json={"message": QUESTION}, headers=key)
    finally:
        container.close()
    assert not first.is_error and not second.is_error and not searched.is_error
    assert third.is_error
    assert "at most 2 per minute" in of_type(TextContent, third.content[0]).text
    assert over_http.status_code == 429  # the same bucket


async def test_get_advice_returns_the_structured_advice(
    server: str, auth_container: Container
) -> None:
    key = await issue_key(auth_container, "ana")
    async with connected(server, key) as client:
        advice = await client.call_tool(
            "get_advice", {"question": "Can I deploy to production on Friday afternoon?"}
        )
    assert not advice.is_error
    structured: dict[str, Any] = advice.structured_content
    assert structured["main_advice"] and structured["response_id"].startswith("resp_")
    assert 0 <= structured["confidence_score"] <= 1
    assert structured["model_identifier"] == "offline-extractive"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, -32700),  # not JSON
        (b'{"jsonrpc": "2.0", "id": 1}', 400, None),  # no method: not a JSON-RPC message
        (b"[1, 2, 3]", 400, None),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "no/such"}', 200, -32601),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call",'
            b' "params": {"name": "no_such_tool", "arguments": {}}}',
            200,
            -32602,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call",'
            b' "params": {"name": "search_knowledge_base", "arguments": {"query": 42}}}',
            200,
            -32602,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name":'
            b' "get_document", "arguments": {"id": 99999999999999999999999999}}}',
            200,
            -32602,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name":'
            b' "search_knowledge_base", "arguments": {"query": "x", "limit": 5000}}}',
            200,
            -32602,
        ),
    ],
)
async def test_bad_json_rpc_gets_a_protocol_error_never_a_500(
    server: str, auth_container: Container, body: bytes, status: int, code: int | None
) -> None:
    key = await issue_key(auth_container, "ana")
    async with httpx.AsyncClient() as plain:
        reply = await plain.post(f"{server}/mcp", content=body, headers={**JSON_RPC, **key})
    assert reply.status_code == status, reply.text
    if code is not None:
        assert reply.json()["error"]["code"] == code, reply.text
    assert "Traceback" not in reply.text


async def test_a_body_not_declared_json_or_a_client_not_taking_json_gets_a_problem(
    server: str, auth_container: Container
) -> None:
    key = await issue_key(auth_container, "ana")
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
    async with httpx.AsyncClient() as plain:
        untyped = await plain.post(f"{server}/mcp", content=body, headers=key)
        text_only = await plain.post(
            f"{server}/mcp",
            content=body,
            headers={**key, "Content-Type": "application/json", "Accept": "text/html"},
        )
    assert (untyped.status_code, untyped.json()["code"]) == (415, "unsupported_media_type")
    assert (text_only.status_code, text_only.json()["code"]) == (406, "not_acceptable")


def test_the_typescript_sdk_lists_calls_and_reads_and_is_refused_without_a_key(
    server: str, auth_container: Container
) -> None:
    import asyncio

    key = asyncio.run(issue_key(auth_container, "ana"))["Authorization"].removeprefix("Bearer ")
    seen = run_ts_client("http", f"{server}/mcp", key)
    refused = run_ts_client("http", f"{server}/mcp")
    assert seen["refused"] is False and seen["server"]["name"] == "almanac"
    assert {tool["name"] for tool in seen["tools"]} == TOOLS
    assert all(tool["outputSchema"] for tool in seen["tools"])
    assert seen["search"]["structured"]["hits"][0]["source"] == "policies/password-policy-2025.md"
    assert "[1]" in seen["ask"]["structured"]["answer"]
    assert seen["ask"]["structured"]["sources"]
    assert seen["templates"] == ["almanac://documents/{id}"]
    assert seen["read"][0]["mimeType"] == "text/markdown"
    assert seen["read"][0]["text"].startswith("# ")
    assert seen["invalid"]["code"] == -32602
    assert refused["refused"] is True and "401" in refused["message"]
