"""Answering the last question again: a retry (the same text) or the last question edited
replaces the chat's last exchange, over POST /chat (`replace_last`) and useChat's
regenerate() on POST /api/chat; bad requests get a clear error and write nothing."""

from __future__ import annotations

import httpx

from backend.bootstrap import Container
from use_cases.chat.domain import NewMessage


def _stored(container: Container, chat_id: str) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in container.adapters.history.list_messages(chat_id)]


async def test_the_last_question_edited_replaces_the_last_exchange(
    client: httpx.AsyncClient, container: Container
) -> None:
    first = await client.post("/chat", json={"message": "How often must passwords be rotated?"})
    chat_id = first.json()["chat_id"]
    second = await client.post(
        "/chat", json={"message": "What is the minimum pasword lenght?", "chat_id": chat_id}
    )
    assert second.status_code == 200
    edited = await client.post(
        "/chat",
        json={
            "message": "How many vacation days do employees get?",
            "chat_id": chat_id,
            "replace_last": True,
        },
    )
    assert edited.status_code == 200, edited.text
    stored = _stored(container, chat_id)
    assert [role for role, _ in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[0][1] == "How often must passwords be rotated?"
    assert stored[2][1] == "How many vacation days do employees get?"
    assert stored[3][1] == edited.json()["answer"]
    assert "pasword" not in " ".join(text for _, text in stored)
    listed = (await client.get(f"/chats/{chat_id}/messages")).json()["messages"]
    assert [m["id"] for m in listed][-1] == edited.json()["message_id"]


async def test_use_chat_regenerate_answers_the_last_question_again_in_place(
    client: httpx.AsyncClient, container: Container
) -> None:
    question = {
        "id": "m1",
        "role": "user",
        "parts": [{"type": "text", "text": "Who approves travel?"}],
    }
    body = {"trigger": "submit-message", "id": "chat-retry-1", "messages": [question]}
    assert (await client.post("/api/chat", json=body)).status_code == 200
    before = container.adapters.history.list_messages("chat-retry-1")
    again = {**body, "trigger": "regenerate-message", "messageId": "a1"}
    response = await client.post("/api/chat", json=again)
    assert response.status_code == 200, response.text
    after = container.adapters.history.list_messages("chat-retry-1")
    assert [m.role for m in after] == ["user", "assistant"]
    assert {m.id for m in after}.isdisjoint({m.id for m in before})  # a new exchange
    assert after[1].status == "complete" and after[1].content == before[1].content


async def test_a_retry_that_cannot_be_done_says_why_and_writes_nothing(
    client: httpx.AsyncClient, container: Container
) -> None:
    retry = {"message": "Who approves travel?", "replace_last": True}
    without_chat = await client.post("/chat", json=retry)
    assert without_chat.status_code == 422
    assert "chat_id" in without_chat.json()["detail"]
    unknown = await client.post("/chat", json={**retry, "chat_id": "no-such-chat"})
    assert unknown.status_code == 404

    chat_id = (await client.post("/chat", json={"message": "Who approves travel?"})).json()[
        "chat_id"
    ]
    history = container.adapters.history
    history.append_message(chat_id, NewMessage("user", "And hotels?"))
    history.append_message(chat_id, NewMessage("assistant", "", status="streaming"))
    before = _stored(container, chat_id)
    busy = await client.post("/chat", json={**retry, "chat_id": chat_id})
    assert busy.status_code == 409, busy.text
    assert "still being written" in busy.json()["detail"]
    assert _stored(container, chat_id) == before
    regenerate = {
        "trigger": "regenerate-message",
        "id": "never-started",
        "messageId": "a1",
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}],
    }
    refused = await client.post("/api/chat", json=regenerate)
    assert refused.status_code == 422
    assert container.adapters.history.get_chat("never-started") is None


async def test_answers_given_again_stay_reachable_as_previous_versions(
    client: httpx.AsyncClient, container: Container
) -> None:
    """Retry replaced the old answer; it is kept as a previous version, with the
    question it answered (an edited question's old text included), oldest first."""
    first = await client.post("/chat", json={"message": "What is the minimum pasword lenght?"})
    chat_id = first.json()["chat_id"]
    retried = await client.post(
        "/chat",
        json={
            "message": "What is the minimum pasword lenght?",
            "chat_id": chat_id,
            "replace_last": True,
        },
    )
    edited = await client.post(
        "/chat",
        json={
            "message": "How many vacation days do employees get?",
            "chat_id": chat_id,
            "replace_last": True,
        },
    )
    assert retried.status_code == edited.status_code == 200, edited.text

    listed = (await client.get(f"/chats/{chat_id}/messages")).json()["messages"]
    assert [m["role"] for m in listed] == ["user", "assistant"]
    answer = listed[-1]
    assert answer["content"] == edited.json()["answer"]
    versions = answer["previous_versions"]
    assert [(v["question"], v["content"]) for v in versions] == [
        ("What is the minimum pasword lenght?", first.json()["answer"]),
        ("What is the minimum pasword lenght?", retried.json()["answer"]),
    ]
    assert versions[0]["sources"] and versions[0]["status"] == "complete"
    assert versions[0]["created_at"] < versions[1]["created_at"]
    assert listed[0]["previous_versions"] == []

    assert (await client.delete(f"/chats/{chat_id}")).status_code == 204
    assert container.adapters.history.list_versions(chat_id) == {}
