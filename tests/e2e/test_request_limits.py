"""Request size limits: bodies are refused early (Content-Length) or cut off while they stream
in, long messages and long useChat conversations are refused with messages naming the setting,
and nothing is stored for a refused request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import Settings
from tests.conftest import make_settings

UPLOAD_LIMIT = 100_000
CHUNK = b"word " * 13_107  # 64 KiB


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(
        data_dir,
        max_json_body_bytes=4096,
        max_upload_bytes=UPLOAD_LIMIT,
        max_message_chars=200,
        max_conversation_messages=3,
        max_conversation_chars=500,
    )


def _problem(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    return str(response.json()["detail"])


async def test_a_too_large_content_length_is_refused_before_the_body_is_read(
    container: Container,
) -> None:
    app = create_app(container=container)
    reads = 0
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/chat",
        "raw_path": b"/chat",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"almanac.test"),
            (b"content-type", b"application/json"),
            (b"content-length", b"50000000"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("almanac.test", 80),
    }
    await app(scope, receive, send)

    assert sent[0]["status"] == 413
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["code"] == "payload_too_large" and "MAX_JSON_BODY_BYTES" in body["detail"]
    assert reads == 0


async def test_an_upload_is_cut_off_while_it_streams_in(
    client: httpx.AsyncClient, container: Container
) -> None:
    before = container.knowledge.knowledge_stats.run()
    boundary = "almanac-test-boundary"
    produced = 0

    async def multipart() -> AsyncIterator[bytes]:
        nonlocal produced
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
        ).encode()
        for _ in range(100):  # 6.4 MB if it were all read
            produced += 1
            yield CHUNK
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await client.post(
        "/api/documents",
        content=multipart(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "MAX_UPLOAD_BYTES" in _problem(response, 413, "payload_too_large")
    assert produced <= 3  # 100,000 bytes + 64 KiB of multipart allowance, then stop reading
    assert container.knowledge.knowledge_stats.run() == before


async def test_an_upload_within_the_body_allowance_but_over_the_file_limit_is_413(
    client: httpx.AsyncClient,
) -> None:
    data = b"word " * (UPLOAD_LIMIT // 5 + 10)
    response = await client.post("/api/documents", files={"file": ("big.txt", data)})
    assert "upload limit" in _problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_json_body_over_the_limit_is_413_with_or_without_a_content_length(
    client: httpx.AsyncClient, container: Container, streamed: bool
) -> None:
    payload = json.dumps({"message": "hi", "padding": "x" * 5000}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 1000):
            yield payload[start : start + 1000]

    response = await client.post(
        "/chat",
        content=chunks() if streamed else payload,
        headers={"content-type": "application/json"},
    )
    assert "4,096-byte limit (MAX_JSON_BODY_BYTES)" in _problem(response, 413, "payload_too_large")
    assert container.adapters.history.list_chats("default") == []


@pytest.mark.parametrize("endpoint", ["/chat", "/chat/stream"])
async def test_a_message_over_max_message_chars_is_a_422_naming_the_setting(
    client: httpx.AsyncClient, container: Container, endpoint: str
) -> None:
    response = await client.post(endpoint, json={"message": "x" * 201})
    detail = _problem(response, 422, "invalid_request")
    assert "201 characters" in detail and "MAX_MESSAGE_CHARS" in detail
    assert container.adapters.history.list_chats("default") == []


def _ui_request(*texts: str) -> dict[str, Any]:
    return {
        "trigger": "submit-message",
        "id": "ui-limits",
        "messages": [
            {"id": f"m{i}", "role": "user", "parts": [{"type": "text", "text": text}]}
            for i, text in enumerate(texts)
        ],
    }


@pytest.mark.parametrize(
    ("texts", "setting"),
    [
        (["a", "b", "c", "d"], "MAX_CONVERSATION_MESSAGES"),
        (["x" * 199, "y" * 199, "z" * 150], "MAX_CONVERSATION_CHARS"),
    ],
)
async def test_a_useChat_conversation_over_its_limits_is_413_and_stores_nothing(
    client: httpx.AsyncClient, container: Container, texts: list[str], setting: str
) -> None:
    response = await client.post("/api/chat", json=_ui_request(*texts))
    assert setting in _problem(response, 413, "payload_too_large")
    assert container.adapters.history.list_chats("default") == []


async def test_a_useChat_conversation_is_checked_as_advice_is(
    client: httpx.AsyncClient, container: Container
) -> None:
    """The one conversation check (`checked_conversation`): the last message must be the
    user's; a system message a client adds is no part of the conversation, but is bounded."""
    body = _ui_request("a question")
    body["messages"].append(
        {"id": "a1", "role": "assistant", "parts": [{"type": "text", "text": "an answer"}]}
    )
    response = await client.post("/api/chat", json=body)
    assert "last message must be the user's" in _problem(response, 422, "invalid_request")
    system = {"id": "s0", "role": "system", "parts": [{"type": "text", "text": "s" * 600}]}
    body = _ui_request("hi")
    body["messages"].insert(0, system)
    response = await client.post("/api/chat", json=body)
    assert "MAX_CONVERSATION_CHARS" in _problem(response, 413, "payload_too_large")
    assert container.adapters.history.list_chats("default") == []


async def test_a_useChat_last_message_over_max_message_chars_is_422(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/chat", json=_ui_request("x" * 201))
    assert "MAX_MESSAGE_CHARS" in _problem(response, 422, "invalid_request")
