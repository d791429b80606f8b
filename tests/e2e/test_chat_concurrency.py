"""Many parallel turns on one chat lose and duplicate no message."""

from __future__ import annotations

import asyncio

import httpx

from backend.bootstrap import Container


async def test_parallel_turns_on_one_chat_keep_every_message_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    first = (
        await client.post("/chat", json={"message": "What is the SEV1 acknowledgement time?"})
    ).json()
    chat_id = first["chat_id"]
    questions = [f"Question {i}: how long are raw pings kept?" for i in range(24)]

    async def turn(question: str) -> httpx.Response:
        return await client.post("/chat", json={"message": question, "chat_id": chat_id})

    responses = await asyncio.gather(*(turn(q) for q in questions))
    assert all(r.status_code == 200 for r in responses)

    messages = container.adapters.history.list_messages(chat_id)
    assert len(messages) == 2 + 2 * len(questions)
    assert len({m.id for m in messages}) == len(messages)
    user_texts = [m.content for m in messages if m.role == "user"]
    assert sorted(user_texts[1:]) == sorted(questions)
    assert all(m.status == "complete" for m in messages)
    assert {r.json()["message_id"] for r in responses} == {
        m.id for m in messages if m.role == "assistant"
    } - {first["message_id"]}
