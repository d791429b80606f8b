"""Almanac against a real OpenAI-compatible server: llama.cpp's `llama-server` serving
SmolLM2-135M-Instruct (tests/local_model_server.py), configured as a user would, with
OPENAI_BASE_URL, OPENAI_API_KEY and DEFAULT_MODEL alone.

A 135M model answers badly; what these tests hold is the path: the requests the server accepts,
the search that must happen happening, what comes back reaching the client in each protocol,
the token limit reaching the server, structured output validated from the model's own JSON,
and the failures of a server that dies. The model's words are never checked. Every request
samples greedily (`temperature: 0`), so the model writes the same thing on every run: left to
sample, it sometimes writes digits inside a JSON string until its token limit (an advice that
ends in a clear 502, tested with a fake in tests/integration/test_compatible_servers.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_ai import CallToolsNode
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from typer.testing import CliRunner

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from backend.cli.main import app as cli
from tests.conftest import FixedClock
from tests.js_clients import JsClients
from tests.live_server import serve
from tests.local_model.conftest import EXTERNAL, settings_for
from tests.local_model_server import MODEL_NAME, LocalModelServer
from use_cases.chat.prompts import SEARCH_TOOL, SQL_TOOL

pytestmark = pytest.mark.local_model

MODEL = f"openai:{MODEL_NAME}"
QUESTION = "How often must passwords be rotated?"
ADVICE = [{"role": "user", "content": "Do we rotate service-account keys every 90 days?"}]
#: Greedy sampling (module docstring).
GREEDY = {"temperature": 0}


async def _titles_found(client: httpx.AsyncClient, query: str) -> set[str]:
    hits = (await client.get("/api/search", params={"q": query, "limit": 5})).json()["hits"]
    return {hit["title"] for hit in hits}


async def test_a_question_that_must_search_is_answered_from_that_search(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/chat", json={"message": QUESTION, **GREEDY})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == MODEL and body["answer"].strip()
    search = body["tool_calls"][0]
    assert search["name"] == SEARCH_TOOL and search["status"] == "success"
    assert "<passage" in search["result_preview"]
    # Whatever the model cites comes from that search (a 135M model often cites nothing).
    found = await _titles_found(client, QUESTION)
    assert {source["title"] for source in body["sources"]} <= found
    if not body["not_found"]:  # what it rests on, cited or not (a 135M model rarely cites)
        assert body["sources"]
    messages = (await client.get(f"/chats/{body['chat_id']}/messages")).json()["messages"]
    answer = messages[-1]
    assert answer["status"] == "complete" and answer["input_tokens"] > 0  # the server reported


async def test_the_openai_compatible_api_answers_from_the_search(
    client: httpx.AsyncClient,
) -> None:
    body = {"model": "almanac", "messages": [{"role": "user", "content": QUESTION}], **GREEDY}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    completion = response.json()
    message = completion["choices"][0]["message"]
    fields = message["almanac"]
    assert message["content"].strip() and fields["model"] == MODEL
    assert fields["tool_calls"][0]["name"] == SEARCH_TOOL
    assert fields["not_found"] or fields["sources"]
    assert completion["usage"]["prompt_tokens"] > 0  # the server reported its usage


async def test_the_v4_stream_reads_in_the_ai4_client(
    client: httpx.AsyncClient, js_clients: JsClients
) -> None:
    response = await client.post("/chat/stream", json={"message": QUESTION, **GREEDY})
    assert response.status_code == 200
    parsed = js_clients.parse_v4(response.text, allow_errors=False)
    assert parsed["toolCalls"][0]["toolName"] == SEARCH_TOOL
    assert parsed["toolResults"][0]["toolCallId"] == parsed["toolCalls"][0]["toolCallId"]
    assert parsed["text"].strip() and parsed["finishReason"] == "stop"
    assert parsed["usage"]["promptTokens"] > 0


async def test_the_ui_message_stream_reads_in_the_ai5_and_current_clients(
    client: httpx.AsyncClient, js_clients: JsClients
) -> None:
    body = {
        "trigger": "submit-message",
        "id": "ui-local",
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}],
    }
    response = await client.post("/api/chat", json={**body, **GREEDY})
    assert response.status_code == 200
    for version in ("current", "v5"):
        message = js_clients.parse_ui_stream(response.text, client=version)["messages"][-1]
        tool = next(p for p in message["parts"] if p["type"] == f"tool-{SEARCH_TOOL}")
        assert tool["state"] == "output-available"
        assert any(p["type"] == "text" and p["text"].strip() for p in message["parts"])


async def test_a_table_question_runs_the_sql_tool_and_its_rows_reach_the_model(
    container: Container,
) -> None:
    """The 135M model does not call a tool by itself: the turn opens with the SQL tool's call
    (as a model's would arrive), the real sandbox runs it, and the real server answers the
    request that carries the rows as that call's result. (Left to itself, this model then
    imitates the call again and again: a turn stops it at its request budget.)"""
    resolved = container.prompts.chat_models.resolve(None)
    deps = container.chat.agent_deps()
    query = "SELECT * FROM kpi_catalog LIMIT 3"
    call = ToolCallPart(SQL_TOOL, {"sql_query": query}, tool_call_id="call_sql")
    history: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart("Which KPIs are in the catalog?")]),
        ModelResponse(parts=[call]),
    ]
    answered: ModelResponse | None = None
    async with container.chat.agent.iter(
        None, message_history=history, deps=deps, model=resolved.model
    ) as run:
        async for node in run:
            if isinstance(node, CallToolsNode) and node.model_response is not history[-1]:
                answered = node.model_response  # the server's answer to the rows
                break
    sent = [
        part
        for message in run.ctx.state.message_history
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart) and part.tool_name == SQL_TOOL
    ]
    assert sent and sent[0].outcome == "success"
    assert "|" in sent[0].model_response_str()  # the rows, as a markdown table
    assert deps.citations and deps.citations[0].kind == "table"
    assert answered is not None and answered.usage.output_tokens > 0
    assert answered.model_name and MODEL_NAME in answered.model_name


async def test_advice_is_validated_from_the_models_own_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/advice-non-streaming", json={"conversation": ADVICE, **GREEDY})
    assert response.status_code == 200, response.text
    advice = response.json()
    assert advice["model_identifier"] == MODEL and advice["search_decision"] == "MANDATORY"
    assert advice["fallback"] is False and advice["main_advice"].strip()


async def test_streamed_advice_ends_with_a_validated_advice(client: httpx.AsyncClient) -> None:
    response = await client.post("/advice", json={"conversation": ADVICE, **GREEDY})
    assert response.status_code == 200
    # The data of the events, joined, is one StructuredAdvice (backend/api/advice_schemas.py).
    data = "".join(
        line[len("data:") :].removeprefix(" ")
        for line in response.text.splitlines()
        if line.startswith("data:")
    )
    final = json.loads(data)
    assert final["model_identifier"] == MODEL and final["fallback"] is False, (
        final["reasoning"],
        final["main_advice"],
    )


async def test_a_conversation_is_summarised_by_the_model(client: httpx.AsyncClient) -> None:
    chat = (await client.post("/chat", json={"message": QUESTION, **GREEDY})).json()
    response = await client.post(
        f"/api/conversations/{chat['chat_id']}/summary", json={"model": MODEL}
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["model"] == MODEL and summary["summary"].strip()


async def test_max_tokens_reaches_the_server(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/chat",
        json={"message": "Write a long poem about the sea.", "max_tokens": 16, **GREEDY},
    )
    assert response.status_code == 200, response.text
    chat_id = response.json()["chat_id"]
    # The limit is per model response; a turn makes one more request per tool call it made.
    requests = 1 + len(response.json()["tool_calls"])
    answer = (await client.get(f"/chats/{chat_id}/messages")).json()["messages"][-1]
    assert answer["output_tokens"] is not None and 0 < answer["output_tokens"] <= 16 * requests


def test_an_evaluation_runs_on_the_model(
    data_dir: Path,
    model_server: LocalModelServer,
    real_model: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = tmp_path / "cases.jsonl"
    rows = [
        {"id": "rot", "question": QUESTION, "kind": "kb", "expect_any": ["90 days"]},
    ]
    cases.write_text("".join(json.dumps(row) + "\n" for row in rows))
    environment = {
        "DATA_DIR": str(data_dir),
        "LOAD_SAMPLE_DATA": "false",
        "OPENAI_BASE_URL": model_server.base_url,
        "OPENAI_API_KEY": "local",
        "DEFAULT_MODEL": MODEL,
        "LOG_LEVEL": "WARNING",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(data_dir)
    result = CliRunner().invoke(
        cli, ["eval", "answers", "--model", MODEL, "--cases", str(cases), "--json"]
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["model"] == MODEL and report["cases"] == 1 and len(report["results"]) == 1
    assert report["latency_p50_ms"] > 0  # measured, not the 0 of a run that never happened


@pytest.mark.skipif(bool(EXTERNAL), reason="kills a llama-server of its own, not an external one")
def test_a_model_server_killed_mid_stream_ends_the_stream_and_keeps_the_question(
    data_dir: Path, real_model: None, tmp_path: Path
) -> None:
    server = LocalModelServer(tmp_path / "server.log").start()
    container = bootstrap(settings_for(data_dir, server), clock=FixedClock())  # type: ignore[arg-type]  # settings_for returns Settings
    try:
        with serve(create_app(container=container)) as base:
            body = {
                "message": "Tell a long story about a lighthouse.",
                "search_override": False,
                **GREEDY,
            }
            lines: list[str] = []
            with httpx.stream("POST", f"{base}/chat/stream", json=body, timeout=300) as stream:
                for line in stream.iter_lines():
                    lines.append(line)
                    if line.startswith("0:") and server.process is not None:
                        server.kill()  # as soon as the answer has begun
            assert any(line.startswith("0:") for line in lines)
            assert any(line.startswith("3:") for line in lines)  # an error part
            assert lines[-1].startswith('d:{"finishReason":"error"')
            chat_id = json.loads(lines[0][2:])["messageId"] and _chat_id(base)
            messages = httpx.get(f"{base}/chats/{chat_id}/messages").json()["messages"]
            assert messages[0]["content"] == body["message"]
            assert messages[-1]["status"] in ("failed", "interrupted")

            gone = httpx.post(f"{base}/chat", json={"message": QUESTION}, timeout=120)
            assert gone.status_code == 503, gone.text
            assert gone.json()["code"] == "upstream_unavailable"
    finally:
        server.stop()
        container.close()


def _chat_id(base: str) -> str:
    chats = httpx.get(f"{base}/chats").json()
    return str(chats["chats"][0]["id"] if isinstance(chats, dict) else chats[0]["id"])
