"""Citations are numbered 1..n in the order of first use by the server, so every
client gets the same numbers: the stored and streamed chat answer (v4 data stream, UI message
stream, the JSON of the blocking form, the stored messages), its sources, and an advice with
its reasoning, alternatives and sources.

The scripted models search, then cite the third passage search returned before the first
(as models do), with markers split across stream deltas."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from backend.bootstrap import Container
from tests.conftest import asgi_client, container_with_models
from tests.e2e.test_advice_api import advise, ask
from tests.js_clients import JsClients
from use_cases.chat.prompts import SEARCH_TOOL

QUERY = "password rotation length"
#: What the chat model streams: [3] before [1], markers split across deltas.
CHUNKS = [
    "Passwords change only on compromise [",
    "3",
    "]. They have 14 characters [1",
    "]. Rotation is not periodic [3].",
]
ANSWER = (
    "Passwords change only on compromise [1]. They have 14 characters [2]. Rotation is not "
    "periodic [1]."
)


def _search_results(messages: list[ModelMessage]) -> str:
    latest = max(
        i
        for i, m in enumerate(messages)
        if isinstance(m, ModelRequest) and any(isinstance(p, UserPromptPart) for p in m.parts)
    )
    return "".join(
        str(p.content)
        for m in messages[latest:]
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart) and p.tool_name == SEARCH_TOOL
    )


async def citing(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[Any]:
    if not _search_results(messages):
        yield {0: DeltaToolCall(SEARCH_TOOL, json.dumps({"query": QUERY}), tool_call_id="s1")}
        return
    for chunk in CHUNKS:
        yield chunk


async def adviser(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[DeltaToolCalls]:
    if not _search_results(messages):
        yield {0: DeltaToolCall(SEARCH_TOOL, json.dumps({"query": QUERY}), tool_call_id="s1")}
        return
    args = json.dumps(
        {
            "main_advice": "Change passwords only on compromise [3].",
            "reasoning": "The policy [3] drops rotation; the length rule is [1].",
            "alternatives": [{"option": "Rotate yearly [2]", "reason": "Only if required [2]."}],
            "cited_passages": [1, 3, 4],
        }
    )
    for start in range(0, len(args), 4):
        yield {
            0: DeltaToolCall(
                name=info.output_tools[0].name if start == 0 else None,
                json_args=args[start : start + 4],
                tool_call_id="out" if start == 0 else None,
            )
        }


@pytest.fixture
def container(data_dir: Path) -> Iterator[Container]:
    models = {
        "test:citing": FunctionModel(stream_function=citing),
        "test:adviser": FunctionModel(stream_function=adviser),
    }
    with container_with_models(data_dir, models) as built:
        yield built


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(container) as http:
        yield http


def _titles_as_searched(tool_result: str) -> dict[int, str]:
    """The title of each passage number as the search tool gave it to the model."""
    return {int(n): t.strip() for n, t in re.findall(r"^\[(\d+)\] ([^|\n]+)\|", tool_result, re.M)}


def _checked_sources(sources: list[dict[str, Any]], searched: dict[int, str]) -> None:
    """Sources 1 and 2 are the passages the model cited as [3] and [1]."""
    assert [s["number"] for s in sources] == [1, 2]
    assert [s["title"] for s in sources] == [searched[3], searched[1]]


async def test_the_v4_stream_and_the_stored_answer_number_citations_in_order_of_first_use(
    client: httpx.AsyncClient, js_clients: JsClients
) -> None:
    response = await client.post(
        "/chat/stream", json={"message": "How do passwords work?", "model": "test:citing"}
    )
    assert response.status_code == 200
    parsed = js_clients.parse_v4(response.text, allow_errors=False)
    data = parsed["data"][0]
    assert parsed["text"] == data["answer"] == ANSWER
    searched = _titles_as_searched(str(parsed["toolResults"][0]["result"]))
    _checked_sources(data["sources"], searched)
    stored = (await client.get(f"/chats/{data['chat_id']}/messages")).json()["messages"][-1]
    assert stored["content"] == ANSWER
    _checked_sources(stored["sources"], searched)


async def test_the_ui_message_stream_and_the_blocking_answer_number_alike(
    client: httpx.AsyncClient, js_clients: JsClients
) -> None:
    payload = {
        "trigger": "submit-message",
        "id": "chat-numbers",
        "model": "test:citing",
        "messages": [
            {"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Passwords?"}]}
        ],
    }
    response = await client.post("/api/chat", json=payload)
    assert response.status_code == 200
    message = js_clients.parse_ui_stream(response.text)["messages"][-1]
    text = "".join(p.get("text", "") for p in message["parts"] if p["type"] == "text")
    data = next(p["data"] for p in message["parts"] if p["type"] == "data-almanac")
    assert text == data["answer"] == ANSWER
    blocking = await client.post("/chat", json={"message": "Passwords?", "model": "test:citing"})
    assert blocking.status_code == 200
    assert blocking.json()["answer"] == ANSWER
    assert [s["number"] for s in blocking.json()["sources"]] == [1, 2]


async def test_advice_numbers_its_text_reasoning_alternatives_and_sources_alike(
    client: httpx.AsyncClient,
) -> None:
    streamed = await advise(client, ask("Should we rotate passwords?", model="test:adviser"))
    assert streamed.status == 200
    advice = streamed.advice
    # Cited as [3], then [1], then [2] (an alternative), then [4] (only in cited_passages).
    assert advice.main_advice == "Change passwords only on compromise [1]."
    assert advice.reasoning == "The policy [1] drops rotation; the length rule is [2]."
    assert advice.alternatives[0].option == "Rotate yearly [3]"
    assert advice.alternatives[0].reason == "Only if required [3]."
    assert [s.n for s in advice.sources] == [1, 2, 3, 4]
    # The advice's text streamed with the number it is kept with.
    assert "[1]" in "".join(streamed.pieces[1:-1]) and "[3]" not in streamed.pieces[1]
    whole = await client.post(
        "/advice-non-streaming", json=ask("Should we rotate passwords?", model="test:adviser")
    )
    assert whole.status_code == 200
    assert whole.json()["main_advice"] == advice.main_advice
    assert [s["document"] for s in whole.json()["sources"]] == [s.document for s in advice.sources]
