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
