"""`almanac mcp`: the MCP server over stdio, started by the official clients as Claude Desktop
starts it (a command and its environment), the Python SDK's and the TypeScript SDK's."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import TextResourceContents

from backend.bootstrap import bootstrap
from tests.conftest import make_settings
from tests.mcp_clients import run_ts_client
from tests.narrowing import of_type
from use_cases.access.domain import CLI_ADMIN

ALMANAC = str(Path(sys.executable).parent / "almanac")
QUESTION = "How often must passwords change?"


@pytest.fixture
def env(data_dir: Path) -> dict[str, str]:
    """The command's environment: the sample's data dir, nothing from the developer's."""
    values = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        "ANSWER_PROCESSES": "false",
    }
    for name in ("OPENAI_API_KEY", "DEFAULT_MODEL", "OPENAI_DEFAULT_MODEL", "ALLOWED_MODELS"):
        values.pop(name, None)
    return values


async def test_the_python_sdk_lists_searches_asks_and_reads_over_stdio(
    env: dict[str, str], data_dir: Path
) -> None:
    params = StdioServerParameters(command=ALMANAC, args=["mcp"], env=env)
    async with Client(params) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        search = await client.call_tool("search_knowledge_base", {"query": "password rotation"})
        ask = await client.call_tool("ask", {"question": QUESTION})
        first = (await client.list_resources()).resources[0]
        read = await client.read_resource(str(first.uri))
    assert {"search_knowledge_base", "ask", "get_document"} <= tools
    assert search.structured_content["hits"][0]["source"] == "policies/password-policy-2025.md"
    assert "[1]" in ask.structured_content["answer"]
    assert of_type(TextResourceContents, read.contents[0]).text.startswith("# ")
    container = bootstrap(make_settings(data_dir))
    try:  # the local admin's chat, as `almanac ask` keeps it
        user = container.settings.auth.default_user_id
        chats = await container.chat.chats.list(user, limit=10, offset=0)
    finally:
        container.close()
    assert [chat.id for chat in chats] == [ask.structured_content["chat_id"]]


async def test_with_user_it_acts_as_that_user_and_the_audit_log_says_so(
    env: dict[str, str], data_dir: Path
) -> None:
    params = StdioServerParameters(command=ALMANAC, args=["mcp", "--user", "bob"], env=env)
    async with Client(params) as client:
        ask = await client.call_tool("ask", {"question": QUESTION})
    container = bootstrap(make_settings(data_dir))
    try:
        bobs = await container.chat.chats.list("bob", limit=10, offset=0)
        audit = await container.access.list_audit.execute(CLI_ADMIN, action="user.act_for")
    finally:
        container.close()
    assert [chat.id for chat in bobs] == [ask.structured_content["chat_id"]]
    assert [(e.target, e.after["via"]) for e in audit.entries] == [
        ("user:bob", "almanac mcp --user")
    ]


def test_the_typescript_sdk_starts_almanac_mcp_and_uses_it(env: dict[str, str]) -> None:
    seen = run_ts_client("stdio", ALMANAC, "mcp", env=env)
    assert seen["refused"] is False and seen["server"]["name"] == "almanac"
    assert seen["search"]["structured"]["hits"]
    assert "[1]" in seen["ask"]["structured"]["answer"]
    assert seen["read"][0]["text"].startswith("# ")
    assert seen["invalid"]["code"] == -32602
