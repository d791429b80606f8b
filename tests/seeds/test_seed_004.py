"""Seed 004, the knowledge assistant: its client, unchanged.

Written from the document alone (`../shared/seeds/004_*.txt`, "API Endpoints", "Chat Request
Format", the two responses and "Chat History Persistence"): every endpoint it lists, called
as it shows it, reading the fields it shows. Where Almanac differs on purpose, docs/seeds.md
says so and why.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

USER = "user-123"
#: The document's client sends no key: Almanac in development mode as `make run` starts it
#: (its one user is `default`; the client's `user_id` is a claim there, and a chat is read as
#: its owner's: docs/seeds.md).
DEPLOYMENT: dict[str, object] = {}
QUESTION = "What is the password rotation policy?"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def chat_request(message: str = QUESTION, chat_id: str | None = None) -> dict[str, Any]:
    """The document's request: `user_id`, `chat_id` (null starts a chat), `message`."""
    return {"user_id": USER, "chat_id": chat_id, "message": message}


def check_tool_calls(tool_calls: list[dict[str, Any]]) -> None:
    assert tool_calls, "the answer was looked up"
    assert all({"name", "args", "result"} <= call.keys() for call in tool_calls)
    search = next(call for call in tool_calls if call["name"] == "search_knowledge_base")
    assert search["args"]["query"] and search["result"]


def check_sources(sources: list[dict[str, Any]]) -> None:
    assert sources, "the answer cites its sources"
    for source in sources:
        assert source["document"] and isinstance(source["section"], str)
        assert source["date"] is None or DATE.match(source["date"]), source["date"]


async def test_health_is_live(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.get("/health")
    assert response.status_code == 200 and response.json()["status"]


async def test_chat_answers_grounded_and_cited(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.post("/chat", json=chat_request())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["chat_id"] and body["message_id"]
    assert "[1]" in body["answer"]
    check_tool_calls(body["tool_calls"])
    check_sources(body["sources"])


async def test_the_backend_keeps_the_history_the_client_sends_only_the_new_message(
    seed_client: httpx.AsyncClient,
) -> None:
    first = (await seed_client.post("/chat", json=chat_request())).json()
    follow_up = chat_request("What is the SEV1 acknowledgement time?", chat_id=first["chat_id"])
    second = await seed_client.post("/chat", json=follow_up)
    assert second.status_code == 200, second.text
    assert second.json()["chat_id"] == first["chat_id"]
    assert second.json()["message_id"] != first["message_id"]

    chats = await seed_client.get("/chats", params={"user_id": USER})
    assert chats.status_code == 200
    listed = {chat["id"]: chat for chat in chats.json()}
    assert listed[first["chat_id"]]["title"] == QUESTION  # titled by its first message
    history = await seed_client.get(f"/chats/{first['chat_id']}/messages")
    assert history.status_code == 200
    messages = history.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in messages[::2]] == [QUESTION, follow_up["message"]]
    answer = messages[1]
    assert answer["id"] == first["message_id"] and answer["content"] == first["answer"]
    check_tool_calls(answer["tool_calls"])
    check_sources(answer["sources"])
    assert answer["model"] and answer["latency_ms"] is not None and answer["created_at"]


async def test_another_users_chats_are_not_listed(seed_client: httpx.AsyncClient) -> None:
    mine = (await seed_client.post("/chat", json=chat_request())).json()["chat_id"]
    theirs = await seed_client.get("/chats", params={"user_id": "user-456"})
    assert theirs.status_code == 200
    assert mine not in {chat["id"] for chat in theirs.json()}


def data_stream_parts(text: str) -> list[tuple[str, Any]]:
    """The stream's lines as (prefix, JSON value), as the protocol writes them."""
    parts = []
    for line in text.splitlines():
        prefix, _, value = line.partition(":")
        parts.append((prefix, json.loads(value)))
    return parts


async def test_chat_stream_speaks_the_data_stream_protocol(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.post("/chat/stream", json=chat_request())
    assert response.status_code == 200, response.text
    parts = data_stream_parts(response.text)
    text = "".join(value for prefix, value in parts if prefix == "0")
    assert "[1]" in text
    (annotation,) = [value for prefix, value in parts if prefix == "2"]
    (data,) = annotation
    assert data["chat_id"] and data["message_id"]
    check_tool_calls(data["tool_calls"])
    check_sources(data["sources"])
    assert parts[-1] == ("d", parts[-1][1]) and parts[-1][1]["finishReason"] == "stop"
    prefixes = [prefix for prefix, _ in parts]
    assert prefixes.index("2") > max(i for i, p in enumerate(prefixes) if p == "0")

    history = await seed_client.get(f"/chats/{data['chat_id']}/messages")
    stored = history.json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["id"] == data["message_id"]


async def test_the_api_documentation_is_served(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
