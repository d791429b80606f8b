"""The JS conformance harness itself: it must pass good streams and fail bad ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

import tests.js_clients as jsc


def v4(*parts: tuple[str, object]) -> str:
    return "".join(f"{code}:{json.dumps(value)}\n" for code, value in parts)


def sse(*chunks: dict) -> str:
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


VALID_V4 = v4(
    ("f", {"messageId": "msg-1"}),
    ("0", "The answer "),
    ("9", {"toolCallId": "call-1", "toolName": "search", "args": {"query": "revenue"}}),
    ("a", {"toolCallId": "call-1", "result": {"hits": 2}}),
    ("2", [{"citations": [{"doc": "a.pdf", "page": 3}]}]),
    ("0", "is 42."),
    ("e", {"finishReason": "stop", "usage": {"promptTokens": 10, "completionTokens": 5}}),
    ("d", {"finishReason": "stop", "usage": {"promptTokens": 10, "completionTokens": 5}}),
)

VALID_UI: list[dict[str, Any]] = [
    {"type": "start", "messageId": "msg-1"},
    {"type": "start-step"},
    {"type": "text-start", "id": "t1"},
    {"type": "text-delta", "id": "t1", "delta": "Hello"},
    {"type": "text-delta", "id": "t1", "delta": ", world"},
    {"type": "text-end", "id": "t1"},
    {
        "type": "tool-input-available",
        "toolCallId": "call-1",
        "toolName": "search",
        "input": {"query": "revenue"},
    },
    {"type": "tool-output-available", "toolCallId": "call-1", "output": {"hits": 2}},
    {"type": "finish-step"},
    {"type": "finish", "finishReason": "stop"},
]


def test_valid_v4_stream_parses(js_clients: jsc.JsClients) -> None:
    out = js_clients.parse_v4(VALID_V4)
    assert out["text"] == "The answer is 42."
    assert out["toolCalls"] == [
        {"toolCallId": "call-1", "toolName": "search", "args": {"query": "revenue"}}
    ]
    assert out["toolResults"] == [{"toolCallId": "call-1", "result": {"hits": 2}}]
    assert out["data"] == [{"citations": [{"doc": "a.pdf", "page": 3}]}]
    assert out["finishReason"] == "stop"
    assert out["usage"] == {"promptTokens": 10, "completionTokens": 5}
    assert out["errors"] == []
    assert [p["type"] for p in out["parts"]] == [
        "start_step",
        "text",
        "tool_call",
        "tool_result",
        "data",
        "text",
        "finish_step",
        "finish_message",
    ]
    # The message useChat (v4) would hold: text, then the tool invocation with its result.
    message = out["message"]
    assert message["id"] == "msg-1"
    assert message["content"] == "The answer is 42."
    invocation = next(p for p in message["parts"] if p["type"] == "tool-invocation")
    assert invocation["toolInvocation"]["state"] == "result"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        pytest.param(
            v4(("a", {"toolCallId": "nope", "result": 1}), ("d", {"finishReason": "stop"})),
            "must follow a 9: tool call",
            id="result-without-call",
        ),
        pytest.param(
            '0:not-json\nd:{"finishReason":"stop"}\n', "parseDataStreamPart", id="bad-json"
        ),
        pytest.param('z:"x"\nd:{"finishReason":"stop"}\n', "Invalid code z", id="unknown-code"),
        pytest.param(
            v4(("9", {"toolCallId": "c", "toolName": "t"}), ("d", {"finishReason": "stop"})),
            "toolCallId.*toolName.*args",
            id="call-without-args",
        ),
        pytest.param(v4(("0", "hi")), "must end with a d: finish message", id="no-finish"),
    ],
)
def test_v4_client_rejects(js_clients: jsc.JsClients, body: str, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        js_clients.parse_v4(body)


def test_v4_error_part_is_reported_or_rejected(js_clients: jsc.JsClients) -> None:
    body = v4(("0", "partial"), ("3", "model exploded"), ("d", {"finishReason": "error"}))
    out = js_clients.parse_v4(body)
    assert out["errors"] == ["model exploded"]
    assert out["text"] == "partial"
    with pytest.raises(AssertionError, match="error part"):
        js_clients.parse_v4(body, allow_errors=False)


@pytest.mark.parametrize("client", ["current", "v5"])
def test_valid_ui_stream_parses(js_clients: jsc.JsClients, client: jsc.UIClient) -> None:
    out = js_clients.parse_ui_stream(sse(*VALID_UI), client=client)
    assert out["client"] == client
    assert [c["type"] for c in out["chunks"]] == [c["type"] for c in VALID_UI]
    assert out["errors"] == []
    [message] = out["messages"]
    assert message["id"] == "msg-1"
    assert message["role"] == "assistant"
    text = [p for p in message["parts"] if p["type"] == "text"]
    assert text == [{"type": "text", "text": "Hello, world", "state": "done"}]
    tool = next(p for p in message["parts"] if p["type"] == "tool-search")
    assert tool["toolCallId"] == "call-1"
    assert tool["state"] == "output-available"
    assert tool["input"] == {"query": "revenue"}
    assert tool["output"] == {"hits": 2}


@pytest.mark.parametrize(
    ("chunks", "match"),
    [
        pytest.param(
            [{"type": "start"}, {"type": "text-delta", "id": "t1", "delta": "x"}],
            "no open text-start",
            id="delta-without-start",
        ),
        pytest.param(
            [{"type": "start"}, {"type": "tool-output-available", "toolCallId": "x", "output": 1}],
            "readUIMessageStream rejected",
            id="output-for-unknown-tool-call",
        ),
        pytest.param(
            [{"type": "start"}, {"type": "text-start"}],
            "uiMessageChunkSchema rejected.*id",
            id="schema-missing-id",
        ),
        pytest.param(
            [{"type": "start"}, {"type": "bogus"}],
            "unknown chunk type bogus",
            id="unknown-chunk-type",
        ),
    ],
)
def test_ui_client_rejects(js_clients: jsc.JsClients, chunks: list[dict], match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        js_clients.parse_ui_stream(sse(*chunks, {"type": "finish"}))


def test_ui_stream_must_end_with_done(js_clients: jsc.JsClients) -> None:
    body = sse({"type": "start"}, {"type": "finish"}).removesuffix("data: [DONE]\n\n")
    with pytest.raises(AssertionError, match=r"data: \[DONE\]"):
        js_clients.parse_ui_stream(body)


def test_ui_error_chunk_needs_flag(js_clients: jsc.JsClients) -> None:
    body = sse(
        {"type": "start"},
        {"type": "error", "errorText": "model exploded"},
        {"type": "finish", "finishReason": "error"},
    )
    with pytest.raises(AssertionError, match="error chunk"):
        js_clients.parse_ui_stream(body)
    out = js_clients.parse_ui_stream(body, allow_errors=True)
    assert out["errors"] == ["model exploded"]


def test_missing_node_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsc, "_ready", False)
    monkeypatch.setattr(jsc.shutil, "which", lambda tool: None)
    with pytest.raises(RuntimeError, match="`node` is not on PATH"):
        jsc.ensure_node_modules()
