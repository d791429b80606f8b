"""The agent's MCP tools with a real model server (llama.cpp's `llama-server`, SmolLM2-135M,
tests/local_model_server.py) and a real MCP server (tests/fixtures/mcp_ticket_server.py).

The 135M model does not call a tool by itself, so, as in test_real_model.py's SQL test, the
turn opens with the MCP tool's call as a model's would arrive; the real MCP server answers it,
and the real model server answers the request that carries the fenced result, having been
offered the MCP tool beside search and SQL. The model's words are never checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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

from backend.bootstrap import bootstrap
from backend.config import Settings
from tests.conftest import FixedClock
from tests.local_model.conftest import settings_for
from tests.local_model_server import MODEL_NAME, LocalModelServer

pytestmark = pytest.mark.local_model

SERVER_SCRIPT = Path(__file__).resolve().parent.parent / "fixtures" / "mcp_ticket_server.py"
TOOL = "tickets__lookup_ticket"


async def test_an_mcp_tools_result_reaches_the_real_model_fenced(
    data_dir: Path, tmp_path: Path, model_server: LocalModelServer, real_model: None
) -> None:
    calls = tmp_path / "calls.txt"
    servers = {"tickets": {"command": sys.executable, "args": [str(SERVER_SCRIPT), str(calls)]}}
    base = settings_for(data_dir, model_server)
    assert isinstance(base, Settings)
    settings = base.updated(
        mcp_servers=json.dumps(servers), mcp_tools_allowed="tickets__*", mcp_tool_timeout=30.0
    )
    container = bootstrap(settings, clock=FixedClock())
    try:
        resolved = container.prompts.chat_models.resolve(None)
        assert resolved.outside_tools  # a model of a compatible server takes them
        deps = container.chat.agent_deps()
        call = ToolCallPart(TOOL, {"ticket_id": "TCK-42"}, tool_call_id="call_mcp")
        history: list[ModelMessage] = [
            ModelRequest(parts=[UserPromptPart("What is the status of ticket TCK-42?")]),
            ModelResponse(parts=[call]),
        ]
        answered: ModelResponse | None = None
        async with container.chat.agent.iter(
            None, message_history=history, deps=deps, model=resolved.model
        ) as run:
            async for node in run:
                if isinstance(node, CallToolsNode) and node.model_response is not history[-1]:
                    answered = node.model_response  # the server's answer to the result
                    break
        assert deps.external is not None
        offered = [tool.name for tool in await deps.external.tools.list_tools()]
    finally:
        container.close()
    sent = [
        part
        for message in run.ctx.state.message_history
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart) and part.tool_name == TOOL
    ]
    assert sent and sent[0].outcome == "success"
    assert '<tool_result server="tickets" tool="lookup_ticket">' in sent[0].model_response_str()
    assert "Dana Whitfield" in sent[0].model_response_str()
    assert TOOL in offered and "tickets__delete_everything" in offered  # tickets__* allows all
    assert calls.read_text().split() == ["lookup_ticket"]
    assert answered is not None and answered.usage.output_tokens > 0
    assert answered.model_name and MODEL_NAME in answered.model_name
