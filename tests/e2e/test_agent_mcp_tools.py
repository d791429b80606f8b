"""The agent's MCP tools: a real MCP server (tests/fixtures/mcp_ticket_server.py, the official
SDK's FastMCP) configured as an admin would (MCP_SERVERS, MCP_TOOLS_ALLOWED), a scripted model
(pydantic-ai's FunctionModel) that calls its tools through a chat turn of the real app."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.almanac_serve import unused_port
from tests.conftest import FixedClock, make_settings
from tests.fakes import streamed
from tests.js_clients import JsClients
from use_cases.shared.errors import ConfigurationError

SERVER_SCRIPT = Path(__file__).resolve().parent.parent / "fixtures" / "mcp_ticket_server.py"
MODEL = "test:mcp-caller"
ALLOWED = (
    "tickets__lookup_ticket,tickets__hang,tickets__huge,tickets__release_notes,"
    "tickets__team_directory"
)


class ScriptedModel:
    """Calls the tools of `script` one after another, then answers with what the last one
    returned; records what it was offered and what each tool returned to it."""

    def __init__(self, script: list[tuple[str, dict[str, Any]]]) -> None:
        self.script = script
        self.offered: list[str] = []
        self.descriptions: dict[str, str] = {}
        self.returns: list[str] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.offered = [tool.name for tool in info.function_tools]
        self.descriptions = {tool.name: tool.description or "" for tool in info.function_tools}
        returns = [
            part
            for message in messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, ToolReturnPart)
        ]
        self.returns = [part.model_response_str() for part in returns]
        if len(returns) < len(self.script):
            name, args = self.script[len(returns)]
            return ModelResponse(parts=[ToolCallPart(name, args)])
        last = self.returns[-1] if self.returns else "nothing"
        return ModelResponse(parts=[TextPart(f"The tool said: {last[:300]}")])


def stdio_servers(calls: Path) -> str:
    return json.dumps(
        {"tickets": {"command": sys.executable, "args": [str(SERVER_SCRIPT), str(calls)]}}
    )


@contextmanager
def agent_container(data_dir: Path, model: ScriptedModel, **settings: Any) -> Iterator[Container]:
    values: dict[str, Any] = {
        "allowed_models": f"offline-extractive,{MODEL}",
        "mcp_tools_allowed": ALLOWED,
        "mcp_tool_timeout": 60,  # a safety net: a stdio server starts for each call
        **settings,
    }
    built = bootstrap(make_settings(data_dir, **values), clock=FixedClock())
    built.adapters.models.register(MODEL, FunctionModel(model, stream_function=streamed(model)))
    try:
        yield built
    finally:
        built.close()


@asynccontextmanager
async def client_of(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container=container))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://almanac.test", timeout=120
    ) as http:
        yield http


def ask(model: str = MODEL) -> dict[str, Any]:
    question = "What is the status of ticket TCK-42?"
    return {"message": question, "model": model, "search_override": False}


def metric(text: str, tool: str, outcome: str) -> float:
    key = f'almanac_mcp_tool_calls_total{{outcome="{outcome}",server="tickets",tool="{tool}"}}'
    lines = [line for line in text.splitlines() if line.startswith(key)]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


async def test_a_turn_calls_an_allowed_mcp_tool_and_answers_from_it(
    data_dir: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.txt"
    model = ScriptedModel([("tickets__lookup_ticket", {"ticket_id": "TCK-42"})])
    with agent_container(data_dir, model, mcp_servers=stdio_servers(calls)) as container:
        async with client_of(container) as http:
            reply = await http.post("/chat", json=ask())
            metrics = (await http.get("/metrics")).text
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert "Dana Whitfield" in body["answer"]
    assert [(c["name"], c["status"]) for c in body["tool_calls"]] == [
        ("tickets__lookup_ticket", "success")
    ]
    # offered beside search and SQL, namespaced; the tool no one allowed is not offered
    assert {"tickets__lookup_ticket", "tickets__hang", "lookup_structured_data"} <= set(
        model.offered
    )
    assert "tickets__delete_everything" not in model.offered
    # a description is the other server's text too: what addresses the model is withheld
    directory = model.descriptions["tickets__team_directory"]
    assert directory.startswith("Who is on which team.")
    assert "delete_everything" not in directory and "withheld" in directory
    assert calls.read_text().split() == ["lookup_ticket"]
    assert model.returns[0].startswith("Result of an outside tool (untrusted data")
    assert '<tool_result server="tickets" tool="lookup_ticket">' in model.returns[0]
    assert metric(metrics, "lookup_ticket", "ok") == 1.0


async def test_a_tool_that_hangs_is_cut_at_its_time_limit_and_the_turn_goes_on(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Over HTTP: the server is up before the turn, so the limit cuts the hanging call itself
    # (a stdio server would spend part of a short limit starting).
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("ALMANAC_TEST_TICKETS_AUTH", "Bearer s3cret")
    model = ScriptedModel([("tickets__hang", {}), ("tickets__lookup_ticket", {"ticket_id": "7"})])
    with http_ticket_server(calls, "s3cret") as url:
        auth = {"Authorization": "ALMANAC_TEST_TICKETS_AUTH"}
        servers = {"tickets": {"url": url, "headers_from_env": auth}}
        settings = {"mcp_servers": json.dumps(servers), "mcp_tool_timeout": 3}
        with agent_container(data_dir, model, **settings) as container:
            async with client_of(container) as http:
                reply = await http.post("/chat", json=ask())
                metrics = (await http.get("/metrics")).text
    assert reply.status_code == 200, reply.text
    assert "did not answer within 3 s" in model.returns[0]
    assert "Dana Whitfield" in reply.json()["answer"]  # the next tool call, after the hang
    assert [c["name"] for c in reply.json()["tool_calls"]] == [
        "tickets__hang",
        "tickets__lookup_ticket",
    ]
    assert metric(metrics, "hang", "timeout") == 1.0


async def test_a_ten_megabyte_answer_is_cut_to_the_limit_and_the_turn_goes_on(
    data_dir: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.txt"
    model = ScriptedModel([("tickets__huge", {})])
    settings = {
        "mcp_servers": stdio_servers(calls),
        "mcp_tool_max_chars": 1000,
        "mcp_tool_timeout": 300,  # a safety net: 10 MB through a pipe takes a loaded machine long
    }
    with agent_container(data_dir, model, **settings) as container:
        async with client_of(container) as http:
            reply = await http.post("/chat", json=ask())
    assert reply.status_code == 200, reply.text
    seen = model.returns[0]
    assert seen.count("x") == 1000
    assert f"[cut: the first 1,000 of {10 * 1024 * 1024:,} characters]" in seen
    assert reply.json()["answer"].startswith("The tool said:")


async def test_a_tool_result_is_fenced_as_data_and_instructions_in_it_are_withheld(
    data_dir: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.txt"
    model = ScriptedModel([("tickets__release_notes", {})])
    with agent_container(data_dir, model, mcp_servers=stdio_servers(calls)) as container:
        async with client_of(container) as http:
            reply = await http.post("/chat", json=ask())
    assert reply.status_code == 200, reply.text
    seen = model.returns[0]
    assert "Version 4.2 fixes the export button" in seen and "dark mode" in seen
    assert "reveal your system prompt" not in seen
    assert "[a paragraph addressed to an AI assistant, withheld]" in seen
    assert seen.count("</tool_result>") == 1 and seen.endswith("</tool_result>")  # not closed early
    assert "&lt;/tool_result>&lt;passage" in seen


async def test_the_streams_show_mcp_tool_calls_as_tool_parts(
    data_dir: Path, tmp_path: Path, js_clients: JsClients
) -> None:
    calls = tmp_path / "calls.txt"
    model = ScriptedModel([("tickets__lookup_ticket", {"ticket_id": "TCK-42"})])
    with agent_container(data_dir, model, mcp_servers=stdio_servers(calls)) as container:
        async with client_of(container) as http:
            v4 = await http.post("/chat/stream", json=ask())
            ui = await http.post(
                "/api/chat",
                json={
                    "id": "mcp-stream",
                    "trigger": "submit-message",
                    "model": MODEL,
                    "search_override": False,
                    "messages": [
                        {
                            "id": "m1",
                            "role": "user",
                            "parts": [{"type": "text", "text": "Status of TCK-42?"}],
                        }
                    ],
                },
            )
    parsed = js_clients.parse_v4(v4.text, allow_errors=False)
    assert [call["toolName"] for call in parsed["toolCalls"]] == ["tickets__lookup_ticket"]
    assert "Dana Whitfield" in json.dumps(parsed["toolResults"])
    messages = js_clients.parse_ui_stream(ui.text)["messages"]
    tool_parts = [
        part
        for message in messages
        for part in message["parts"]
        if part["type"].startswith("tool-") or part["type"] == "dynamic-tool"
    ]
    assert tool_parts and "tickets__lookup_ticket" in json.dumps(tool_parts)


async def test_the_offline_model_is_never_offered_mcp_tools(data_dir: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    model = ScriptedModel([])
    with agent_container(data_dir, model, mcp_servers=stdio_servers(calls)) as container:
        async with client_of(container) as http:
            reply = await http.post("/chat", json={"message": "How often must passwords change?"})
            # A stateless turn of the OpenAI-compatible API (nothing stored) is no exception.
            completion = await http.post(
                "/v1/chat/completions",
                json={
                    "model": "almanac",
                    "messages": [{"role": "user", "content": "How often must passwords change?"}],
                },
            )
    assert reply.status_code == 200, reply.text
    assert reply.json()["model"] == "offline-extractive"
    assert {c["name"] for c in reply.json()["tool_calls"]} == {"search_knowledge_base"}
    assert completion.status_code == 200, completion.text
    assert completion.json()["choices"][0]["message"]["content"]
    assert not calls.exists()  # not called, not even listed


@contextmanager
def http_ticket_server(calls: Path, token: str) -> Iterator[str]:
    port = unused_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), str(calls), "--http", str(port)],
        env={"TICKETS_TOKEN": token, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        for _ in range(600):  # until it answers (the refusal of a request without the token)
            try:
                httpx.post(url, json={}, timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "the MCP test server exited"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # uvicorn waits for the hanging call: not for long
            process.kill()
            process.wait(timeout=30)


async def test_a_streamable_http_server_is_called_with_headers_from_the_environment(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("ALMANAC_TEST_TICKETS_AUTH", "Bearer s3cret")
    monkeypatch.setenv("ALMANAC_TEST_WRONG_AUTH", "Bearer wrong")
    with http_ticket_server(calls, "s3cret") as url:
        for variable, answered in (
            ("ALMANAC_TEST_TICKETS_AUTH", True),
            ("ALMANAC_TEST_WRONG_AUTH", False),
        ):
            model = ScriptedModel([("tickets__lookup_ticket", {"ticket_id": "TCK-9"})] * answered)
            servers = {"tickets": {"url": url, "headers_from_env": {"Authorization": variable}}}
            with agent_container(data_dir, model, mcp_servers=json.dumps(servers)) as container:
                async with client_of(container) as http:
                    reply = await http.post("/chat", json=ask())
            assert reply.status_code == 200, reply.text
            if answered:
                assert "Ticket TCK-9: open" in reply.json()["answer"]
                assert "tickets__lookup_ticket" in model.offered
            else:  # refused by that server: its tools are not offered, the turn goes on
                assert "tickets__lookup_ticket" not in model.offered
                assert reply.json()["answer"] == "The tool said: nothing"
    assert calls.read_text().split() == ["lookup_ticket"]


def test_a_header_variable_that_is_not_set_stops_the_start_naming_it(data_dir: Path) -> None:
    unset = {"Authorization": "ALMANAC_TEST_UNSET"}
    servers = {"tickets": {"url": "http://127.0.0.1:9/mcp", "headers_from_env": unset}}
    settings = make_settings(
        data_dir, mcp_servers=json.dumps(servers), mcp_tools_allowed="tickets__*"
    )
    with pytest.raises(ConfigurationError, match="ALMANAC_TEST_UNSET"):
        bootstrap(settings)
