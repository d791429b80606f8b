"""The OpenAI path end to end: the real OpenAI SDK and PydanticAI model, HTTP mocked with respx
at the httpcore2 layer (see PITFALLS), through the ASGI app. Includes the fault cases."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpcore2
import httpx
import pytest
import respx
from pydantic_ai import models as ai_models

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.js_clients import JsClients, UIClient
from tests.respx_httpcore2 import HTTPCore2Mocker  # noqa: F401 - registers the mocker

COMPLETIONS = "https://api.openai.com/v1/chat/completions"
QUESTION = "How often do passwords have to be rotated?"
UNSEARCHED = "Passwords are only changed on compromise or suspected compromise."
FINAL = (
    "Passwords are only changed on compromise or suspected compromise [1].\n\n"
    "**Sources**\n[1] Password and Credential Rotation Policy, Rotation (2025-09-15)"
)


@pytest.fixture
def container(data_dir: Path) -> Iterator[Container]:
    settings = make_settings(
        data_dir,
        openai_api_key="sk-test",
        provider_max_retries=1,
        provider_timeout=5.0,
        agent_tool_retries=1,
    )
    built = bootstrap(settings, clock=FixedClock())
    yield built
    built.close()


@pytest.fixture
def mock_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.Router]:
    # Real OpenAI model objects may run here: their HTTP goes to respx, sockets stay blocked.
    monkeypatch.setattr(ai_models, "ALLOW_MODEL_REQUESTS", True)
    with respx.mock(using="httpcore2", assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container=container))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        yield http


def completion(*, content: str | None = None, tool_args: str | None = None) -> httpx.Response:
    """One model reply, as the streamed completion every turn asks for (`"stream": true`):
    the text or the tool call, the finish reason, then the usage chunk."""
    events = [_chunk({"role": "assistant", "content": content or ""})]
    finish = "stop"
    if tool_args is not None:
        finish = "tool_calls"
        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "search_knowledge_base", "arguments": tool_args},
        }
        events.append(_chunk({"tool_calls": [call]}))
    events.append(_chunk({}, finish))
    usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    events.append(f"data: {json.dumps({**_body([]), 'usage': usage})}\n\n")
    events.append("data: [DONE]\n\n")
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, text="".join(events))


def _body(choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4.1-mini",
        "choices": choices,
    }


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    body = _body([{"index": 0, "delta": delta, "finish_reason": finish}])
    return f"data: {json.dumps(body)}\n\n"


def streamed_tool_call(args_pieces: list[str]) -> httpx.Response:
    head = {
        "role": "assistant",
        "tool_calls": [
            {
                "index": 0,
                "id": "call_s1",
                "type": "function",
                "function": {"name": "search_knowledge_base", "arguments": ""},
            }
        ],
    }
    events = [_chunk(head)]
    events += [
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        for piece in args_pieces
    ]
    events += [_chunk({}, "tool_calls"), "data: [DONE]\n\n"]
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, text="".join(events))


def streamed_text(pieces: list[str]) -> httpx.Response:
    events = [_chunk({"role": "assistant", "content": ""})]
    events += [_chunk({"content": piece}) for piece in pieces]
    events += [_chunk({}, "stop"), "data: [DONE]\n\n"]
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, text="".join(events))


def error(status: int, code: str = "server_error") -> httpx.Response:
    return httpx.Response(
        status,
        headers={"retry-after-ms": "1"},
        json={"error": {"message": f"mocked {status}", "type": code, "code": code}},
    )


async def test_tool_call_then_tool_result_then_cited_answer(
    client: httpx.AsyncClient, mock_openai: respx.Router, container: Container
) -> None:
    route = mock_openai.post(COMPLETIONS).mock(
        side_effect=[
            completion(tool_args='{"query": "password rotation frequency"}'),
            completion(content=FINAL),
        ]
    )
    response = await client.post("/chat", json={"message": QUESTION})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "openai:gpt-4.1-mini"
    assert body["answer"] == FINAL
    assert body["tool_calls"][0]["name"] == "search_knowledge_base"
    assert body["sources"][0]["number"] == 1

    first, second = (json.loads(call.request.content) for call in route.calls)
    assert first["stream"] is True  # the blocking answer is the streamed turn, drained
    user_turn = first["messages"][-1]["content"]
    assert user_turn.startswith("Current Date: 2026-03-02\n\n") and user_turn.endswith(QUESTION)
    assert {tool["function"]["name"] for tool in first["tools"]} == {
        "search_knowledge_base",
        "lookup_structured_data",
    }
    system = "\n".join(m["content"] for m in first["messages"] if m["role"] == "system")
    assert "I can't find this in the knowledge base." in system and "kpi_catalog" in system
    tool_message = second["messages"][-1]
    assert (
        tool_message["role"] == "tool"
        and "[1] Password and Credential Rotation Policy" in tool_message["content"]
    )

    stored = container.adapters.history.list_messages(body["chat_id"])
    assert stored[0].content == QUESTION  # the date anchor is not stored
    assert (
        stored[1].status == "complete" and stored[1].usage and stored[1].usage.input_tokens == 240
    )


async def test_streamed_tool_call_deltas_reach_the_ai4_client(
    client: httpx.AsyncClient,
    mock_openai: respx.Router,
    js_clients: JsClients,
) -> None:
    mock_openai.post(COMPLETIONS).mock(
        side_effect=[
            streamed_tool_call(['{"que', 'ry": "password ', 'rotation"}']),
            streamed_text(
                ["Passwords are changed ", "only on compromise [1].", "\n\n**Sources**\n[1] P"]
            ),
        ]
    )
    response = await client.post("/chat/stream", json={"message": QUESTION})
    assert response.status_code == 200
    parsed = js_clients.parse_v4(response.text, allow_errors=False)
    assert parsed["toolCalls"] == [
        {
            "toolCallId": "call_s1",
            "toolName": "search_knowledge_base",
            "args": {"query": "password rotation"},
        }
    ]
    assert parsed["toolResults"][0]["toolCallId"] == "call_s1"
    assert parsed["text"].startswith("Passwords are changed only on compromise [1].")
    assert parsed["finishReason"] == "stop"


async def test_a_429_is_retried_and_then_answered(
    client: httpx.AsyncClient, mock_openai: respx.Router
) -> None:
    route = mock_openai.post(COMPLETIONS).mock(
        side_effect=[error(429, "rate_limit_exceeded"), completion(content=UNSEARCHED)]
    )
    # The reply does not search, so this turn is told not to (search discipline), and it
    # cites nothing (a citation without a search would be sent back).
    response = await client.post("/chat", json={"message": QUESTION, "search_override": False})
    assert response.status_code == 200
    assert route.call_count == 2


async def test_repeated_500s_end_in_a_502_after_bounded_retries(
    client: httpx.AsyncClient, mock_openai: respx.Router, container: Container
) -> None:
    route = mock_openai.post(COMPLETIONS).mock(return_value=error(500))
    response = await client.post("/chat", json={"message": QUESTION})
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_error"
    assert "mocked" not in response.text and "Traceback" not in response.text
    assert route.call_count == 2  # one try + PROVIDER_MAX_RETRIES=1
    chat = container.adapters.history.list_chats("default")[0]
    assert [m.status for m in container.adapters.history.list_messages(chat.id)] == [
        "complete",
        "failed",
    ]


async def test_persistent_rate_limiting_is_a_503(
    client: httpx.AsyncClient, mock_openai: respx.Router
) -> None:
    mock_openai.post(COMPLETIONS).mock(return_value=error(429, "rate_limit_exceeded"))
    response = await client.post("/chat", json={"message": QUESTION})
    assert response.status_code == 503


async def test_a_read_timeout_is_a_504(
    client: httpx.AsyncClient, mock_openai: respx.Router
) -> None:
    route = mock_openai.post(COMPLETIONS).mock(side_effect=httpcore2.ReadTimeout("timed out"))
    response = await client.post("/chat", json={"message": QUESTION})
    assert response.status_code == 504
    assert response.json()["code"] == "upstream_timeout"
    assert route.call_count == 2


async def test_malformed_tool_arguments_once_are_retried_by_the_model(
    client: httpx.AsyncClient, mock_openai: respx.Router
) -> None:
    route = mock_openai.post(COMPLETIONS).mock(
        side_effect=[
            completion(tool_args='{"query": '),
            completion(tool_args='{"query": "password rotation"}'),
            completion(content=FINAL),
        ]
    )
    response = await client.post("/chat", json={"message": QUESTION})
    assert response.status_code == 200
    assert route.call_count == 3
    retry_prompt = json.loads(route.calls[1].request.content)["messages"][-1]
    assert retry_prompt["role"] == "tool" and "invalid json" in retry_prompt["content"].lower()


INVENTED = "12*7 is 84 [1].\n\n**Sources**\n[1] Arithmetic Handbook, Multiplication"


async def test_an_answer_citing_a_source_that_does_not_exist_is_retried_then_cleaned(
    client: httpx.AsyncClient, mock_openai: respx.Router, container: Container
) -> None:
    """The case seen once: with search off, the model cited [1] and listed a source that
    no tool returned. It is told so once; when it does it again the answer is stored
    without the marker and its Sources list, and with a lower confidence."""
    route = mock_openai.post(COMPLETIONS).mock(
        side_effect=[completion(content=INVENTED), completion(content=INVENTED)]
    )
    response = await client.post("/chat", json={"message": "/nosrch what is 12*7?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["answer"], body["sources"]) == ("12*7 is 84.", [])
    assert route.call_count == 2
    retry = json.loads(route.calls[1].request.content)["messages"][-1]
    assert "cites [1]" in retry["content"] and "no passage was returned" in retry["content"]
    _, stored = container.adapters.history.list_messages(body["chat_id"])
    assert stored.content == "12*7 is 84."

    route.side_effect = [completion(content="12*7 is 84.")]
    honest = (await client.post("/chat", json={"message": "/nosrch what is 12*7?"})).json()
    assert body["confidence"] < honest["confidence"]


async def test_malformed_tool_arguments_every_time_end_in_a_502(
    client: httpx.AsyncClient, mock_openai: respx.Router
) -> None:
    route = mock_openai.post(COMPLETIONS).mock(return_value=completion(tool_args="{not json"))
    response = await client.post("/chat", json={"message": QUESTION})
    assert response.status_code == 502
    assert route.call_count == 2  # AGENT_TOOL_RETRIES=1: bounded


async def test_a_stream_failure_becomes_an_error_part_and_a_failed_turn(
    client: httpx.AsyncClient,
    mock_openai: respx.Router,
    container: Container,
    js_clients: JsClients,
) -> None:
    mock_openai.post(COMPLETIONS).mock(return_value=error(500))
    response = await client.post("/chat/stream", json={"message": QUESTION})
    assert response.status_code == 200  # the stream had started: the error is in-band
    parsed = js_clients.parse_v4(response.text)
    assert parsed["errors"] == ["The model provider failed (HTTP 500). Try again later."]
    assert parsed["finishReason"] == "error"
    chat = container.adapters.history.list_chats("default")[0]
    assert container.adapters.history.list_messages(chat.id)[-1].status == "failed"


async def test_a_content_filter_refusal_is_a_polite_answer(
    client: httpx.AsyncClient, mock_openai: respx.Router
) -> None:
    mock_openai.post(COMPLETIONS).mock(
        return_value=httpx.Response(
            400,
            json={
                "error": {
                    "message": "The response was filtered due to the prompt triggering "
                    "content management policy.",
                    "type": None,
                    "param": "prompt",
                    "code": "content_filter",
                }
            },
        )
    )
    # A question the search discipline lets through: a turn it declines ("ignore your
    # rules ...") is answered before any model is called.
    question = "What does the travel policy say about hotels?"
    response = await client.post("/chat", json={"message": question})
    assert response.status_code == 200
    assert response.json()["answer"].startswith("I'm sorry, but I can't help with that")
    assert response.json()["sources"] == []


async def test_ui_message_stream_carries_tool_calls_and_errors_to_useChat_clients(
    client: httpx.AsyncClient, mock_openai: respx.Router, js_clients: JsClients
) -> None:
    body = {
        "trigger": "submit-message",
        "id": "ui-openai",
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}],
    }
    mock_openai.post(COMPLETIONS).mock(
        side_effect=[
            streamed_tool_call(['{"query": "password rotation"}']),
            streamed_text(["Only on compromise [1].", "\n\n**Sources**\n[1] P"]),
        ]
    )
    ok = await client.post("/api/chat", json=body)
    for version in ("current", "v5"):
        message = js_clients.parse_ui_stream(ok.text, client=version)["messages"][-1]
        tool = next(p for p in message["parts"] if p["type"] == "tool-search_knowledge_base")
        assert tool["state"] == "output-available" and tool["input"] == {
            "query": "password rotation"
        }

    mock_openai.post(COMPLETIONS).mock(return_value=error(500))
    failed = await client.post("/api/chat", json={**body, "id": "ui-openai-2"})
    versions: tuple[UIClient, ...] = ("current", "v5")
    for version in versions:
        parsed = js_clients.parse_ui_stream(failed.text, allow_errors=True, client=version)
        assert parsed["errors"] == ["The model provider failed (HTTP 500). Try again later."]


async def test_the_sampling_settings_reach_the_provider(
    client: httpx.AsyncClient, mock_openai: respx.Router
) -> None:
    route = mock_openai.post(COMPLETIONS).mock(return_value=completion(content=UNSEARCHED))
    sampling = {"temperature": 0.2, "max_tokens": 256, "top_p": 0.9, "seed": 7}
    response = await client.post(
        "/chat", json={"message": QUESTION, "search_override": False, **sampling}
    )
    assert response.status_code == 200, response.text
    sent = json.loads(route.calls.last.request.content)
    assert (sent["temperature"], sent["top_p"], sent["seed"]) == (0.2, 0.9, 7)
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 256

    await client.post("/chat", json={"message": QUESTION, "search_override": False})
    plain = json.loads(route.calls.last.request.content)
    assert not {"temperature", "top_p", "seed", "max_tokens"} & plain.keys()
