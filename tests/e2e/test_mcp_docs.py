"""The examples of docs/mcp.md run: each client configuration is started or connected to as
its client would (stdio: the command with its arguments and environment; HTTP: the URL with
its headers, the key put where the client would put it), the curl and Python examples run
against a live server with a real key, and the `.env` example is read by the settings."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import PROJECT_ROOT, Settings
from tests.conftest import issue_key
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve

DOC = (PROJECT_ROOT / "docs" / "mcp.md").read_text()
DOCUMENTED_URL = "http://127.0.0.1:8000"
ALMANAC = str(Path(sys.executable).parent / "almanac")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def _configurations() -> list[dict[str, Any]]:
    """Every server entry of the JSON client configurations."""
    entries = []
    for block in _blocks("json"):
        config = json.loads(block)
        entries += list((config.get("mcpServers") or config.get("servers") or {}).values())
    return entries


async def _tools_over(client: Client) -> set[str]:
    async with client:
        return {tool.name for tool in (await client.list_tools()).tools}


async def test_the_stdio_configurations_start_almanac_mcp(data_dir: Path) -> None:
    stdio = [entry for entry in _configurations() if "command" in entry]
    assert [entry["args"] for entry in stdio] == [["mcp"], ["mcp", "--user", "ana"]]
    for entry in stdio:
        assert entry["command"] == "almanac"
        env = {**os.environ, **entry["env"], "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
        env.pop("OPENAI_API_KEY", None)
        params = StdioServerParameters(command=ALMANAC, args=entry["args"], env=env)
        assert "ask" in await _tools_over(Client(params))


async def test_the_http_configurations_connect_with_the_key_where_the_client_puts_it(
    auth_container: Container,
) -> None:
    key = (await issue_key(auth_container, "ana"))["Authorization"].removeprefix("Bearer ")
    http_entries = [entry for entry in _configurations() if "url" in entry]
    assert len(http_entries) == 2
    with serve(create_app(container=auth_container)) as url:
        for entry in http_entries:
            assert entry["url"] == f"{DOCUMENTED_URL}/mcp"
            headers = {
                name: value.replace("${env:ALMANAC_KEY}", key).replace("${input:almanac-key}", key)
                for name, value in entry["headers"].items()
            }
            async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
                transport = streamable_http_client(f"{url}/mcp", http_client=http)
                assert "search_knowledge_base" in await _tools_over(Client(transport))


async def test_the_curl_and_python_examples_run_against_a_live_server(
    auth_container: Container, tmp_path: Path
) -> None:
    key = (await issue_key(auth_container, "ana"))["Authorization"].removeprefix("Bearer ")
    curl = [b.strip() for b in _blocks("bash") if b.strip().startswith("curl ")]
    (python,) = _blocks("python")
    with serve(create_app(container=auth_container)) as url:
        (command,) = curl
        result = _run_curl(command.replace(DOCUMENTED_URL, url), url, {"ALMANAC_KEY": key})
        _check(command, result)
        hits = json.loads(result.stdout)["result"]["structuredContent"]["hits"]
        assert len(hits) == 2
        script = tmp_path / "example.py"
        script.write_text(python.replace(DOCUMENTED_URL, url))
        ran = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(script)],
            env={**os.environ, "ALMANAC_KEY": key},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert "[1]" in lines[0]  # the answer, then one line per source: number, title, section
    assert any(line.startswith("1 Password and Credential Rotation Policy ") for line in lines)


def test_the_env_example_is_read_by_the_settings(tmp_path: Path) -> None:
    (block,) = [b for b in _blocks("bash") if b.startswith("MCP_SERVERS=")]
    env_file = tmp_path / ".env"
    env_file.write_text(block)
    settings = Settings(_env_file=env_file).mcp_tools
    servers = settings.server_configs
    assert servers["tickets"].command == "python"
    assert servers["crm"].headers_from_env == {"Authorization": "CRM_MCP_AUTH"}
    assert settings.allowed_tool_list == ("tickets__lookup_ticket", "crm__*")
    assert (settings.timeout, settings.max_chars) == (10, 20_000)


def test_the_api_pages_mcp_example_and_its_table_hold_in_development_mode(
    container: Container,
) -> None:
    api = (PROJECT_ROOT / "docs" / "api.md").read_text()
    section = api.split("## MCP\n", 1)[1].split("\n## ", 1)[0]
    (command,) = [
        line
        for b in re.findall(r"```bash\n(.*?)```", section, flags=re.S)
        for line in b.split("\n")
        if line.startswith("curl ")
    ]
    with serve(create_app(container=container)) as url:
        result = _run_curl(command, url, {})
        _check(command, result)
        tools = {tool["name"] for tool in json.loads(result.stdout)["result"]["tools"]}
        assert len(tools) == 6
        for method in ("GET", "DELETE"):
            reply = httpx2.request(method, f"{url}/mcp", headers={"Accept": "text/event-stream"})
            assert reply.status_code == 405, (method, reply.text)
            assert reply.headers["allow"] == "POST"
