"""What MCP costs: the same search through `/mcp` and through `GET /api/search`, and the
agent's MCP tool calls over stdio and streamable HTTP.

    .venv/bin/python bench/bench_mcp.py                 # 200 calls each
    .venv/bin/python bench/bench_mcp.py --calls 50

Printed, p50 / p95 in milliseconds, sequential calls after 10 warm-up calls:
- `GET /api/search` (limit 5) and `tools/call search_knowledge_base` on `/mcp` (one JSON-RPC
  POST, as a stateless client sends it) on one `almanac serve` (sample data, offline
  defaults, no rate limit): the difference is the MCP layer's overhead per call;
- the same tool through the MCP Python SDK's client (`mcp.Client`, one connection);
- an agent's MCP tool call (`McpTools.call`, services/chat/mcp_tools.py) of
  tests/fixtures/mcp_ticket_server.py over stdio (a process started per call) and over
  streamable HTTP (a connection per call): what one `server__tool` call adds to a turn.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_chat import free_port, wait_ready  # noqa: E402
from bench.served import almanac_served  # noqa: E402
from services.chat.mcp_tools import McpServer, McpTools  # noqa: E402
from use_cases.chat.external_tools import ExternalTool  # noqa: E402

SERVER_SCRIPT = ROOT / "tests" / "fixtures" / "mcp_ticket_server.py"
QUERY = "How often must passwords change?"
JSON_RPC = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
WARM_UP = 10


async def timed(call: Callable[[], Awaitable[object]], count: int) -> tuple[float, float]:
    for _ in range(min(WARM_UP, count)):
        await call()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def report(name: str, figures: tuple[float, float]) -> None:
    print(f"{name:<58} p50 {figures[0]:8.1f} ms   p95 {figures[1]:8.1f} ms", flush=True)


async def server_side(calls: int) -> None:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    with almanac_served("almanac-bench-mcp-") as served:
        async with httpx.AsyncClient(timeout=120) as http:
            await wait_ready(http, served.child, f"{served.url}/health", within_s=300)

            async def route() -> None:
                reply = await http.get(f"{served.url}/api/search", params={"q": QUERY, "limit": 5})
                reply.raise_for_status()

            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "name": "search_knowledge_base",
                    "arguments": {"query": QUERY, "limit": 5},
                },
            }

            async def raw_mcp() -> None:
                reply = await http.post(f"{served.url}/mcp", json=body, headers=JSON_RPC)
                assert "structuredContent" in reply.text, reply.text[:300]

            report("GET /api/search", await timed(route, calls))
            report("POST /mcp tools/call search_knowledge_base", await timed(raw_mcp, calls))
        async with (
            httpx2.AsyncClient(timeout=120) as http2,
            Client(streamable_http_client(f"{served.url}/mcp", http_client=http2)) as client,
        ):

            async def sdk() -> None:
                result = await client.call_tool(
                    "search_knowledge_base", {"query": QUERY, "limit": 5}
                )
                assert not result.is_error

            report("mcp.Client.call_tool search_knowledge_base (HTTP)", await timed(sdk, calls))


async def agent_side(calls: int) -> None:
    with tempfile.TemporaryDirectory(prefix="almanac-bench-mcp-tools-") as tmp:
        log = Path(tmp) / "calls.txt"
        stdio = McpServer("tickets", command=sys.executable, args=(str(SERVER_SCRIPT), str(log)))
        port = free_port()
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is timed
            [sys.executable, str(SERVER_SCRIPT), str(log), "--http", str(port)],
            env={"TICKETS_TOKEN": "bench", "PATH": "/usr/bin:/bin"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            http = McpServer(
                "tickets",
                url=f"http://127.0.0.1:{port}/mcp",
                headers={"Authorization": "Bearer bench"},
            )
            for name, server, count in (
                ("stdio", stdio, max(5, calls // 10)),
                ("HTTP", http, calls),
            ):
                tools = McpTools([server], ["tickets__lookup_ticket"], timeout_s=60)
                listed = await _listed(tools)
                tool = listed[0]

                async def call(tools: McpTools = tools, tool: ExternalTool = tool) -> None:
                    reply = await tools.call(tool, {"ticket_id": "TCK-1"}, max_chars=20_000)
                    assert "Dana Whitfield" in reply.text

                report(f"agent MCP tool call over {name} ({count} calls)", await timed(call, count))
        finally:
            process.kill()
            process.wait(timeout=30)


async def _listed(tools: McpTools) -> list[ExternalTool]:
    for _ in range(200):  # the HTTP server may still be starting
        listed = await tools.list_tools()
        if listed:
            return listed
        tools._listed.clear()  # list again now, not after the cache's minute
        await asyncio.sleep(0.1)
    raise RuntimeError("the MCP test server offered no tool")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(server_side(args.calls))
    asyncio.run(agent_side(args.calls))


if __name__ == "__main__":
    main()
