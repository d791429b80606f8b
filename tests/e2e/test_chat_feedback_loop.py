"""Every chat answer is logged with its confidence, and its response id takes feedback: the
loop the calibration figures are made of, through the real app on the offline model."""

from __future__ import annotations

import httpx

from backend.bootstrap import Container


async def test_a_chat_answer_carries_a_response_id_that_takes_feedback(
    client: httpx.AsyncClient, container: Container
) -> None:
    answered = (await client.post("/chat", json={"message": "What is the SEV1 ack time?"})).json()
    refused = (await client.post("/chat", json={"message": "canteen menu today?"})).json()

    assert answered["response_id"].startswith("resp_")
    assert refused["response_id"].startswith("resp_")
    assert answered["confidence"] > refused["confidence"]
    assert answered["confidence_phrase"] and refused["confidence_phrase"]

    feedback = await client.post(
        "/feedback", json={"response_id": answered["response_id"], "outcome": True}
    )
    assert feedback.status_code == 200

    recent = (await client.get("/confidence/recent", params={"limit": 5})).json()
    logged = {item["response_id"]: item for item in recent["responses"]}
    assert set(logged) == {answered["response_id"], refused["response_id"]}
    assert logged[answered["response_id"]]["search_ran"] is True


async def test_the_streamed_answer_reports_its_response_id_in_its_data_part(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/chat/stream", json={"message": "What is the SEV1 ack time?"})

    data = [line for line in response.text.splitlines() if line.startswith("2:")]
    assert len(data) == 1 and '"response_id":"resp_' in data[0]


async def test_a_stored_chat_gives_each_answer_its_response_id_confidence_and_feedback(
    client: httpx.AsyncClient,
) -> None:
    first = (await client.post("/chat", json={"message": "What is the SEV1 ack time?"})).json()
    second = (
        await client.post(
            "/chat", json={"message": "canteen menu today?", "chat_id": first["chat_id"]}
        )
    ).json()
    await client.post("/feedback", json={"response_id": first["response_id"], "outcome": True})
    await client.post("/feedback", json={"response_id": first["response_id"], "outcome": False})

    messages = (await client.get(f"/chats/{first['chat_id']}/messages")).json()["messages"]

    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    user, answered, _, refused = messages
    assert user["response_id"] is None and user["confidence"] is None
    assert answered["response_id"] == first["response_id"]
    assert answered["confidence"] == first["confidence"]
    assert answered["confidence_phrase"] == first["confidence_phrase"]
    assert answered["feedback"] is False  # the second verdict replaced the first
    assert refused["response_id"] == second["response_id"] and refused["feedback"] is None
