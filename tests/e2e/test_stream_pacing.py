"""Paced streams over HTTP (offline answers arrived all at once): with
STREAM_WORD_DELAY_MS set, the offline model's sentences reach a client a word at a time, in
the chat streams and in the advice stream, and add up to the same answer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from backend.config import Settings
from tests.conftest import make_settings
from tests.e2e.test_advice_api import advise, ask
from tests.js_clients import JsClients

QUESTION = "How often must passwords be rotated?"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """The shared `container` and `client` fixtures, with streams paced."""
    return make_settings(data_dir, stream_word_delay_ms=1)


async def test_a_chat_answer_streams_a_word_per_delta(
    client: httpx.AsyncClient, js_clients: JsClients
) -> None:
    response = await client.post("/chat/stream", json={"message": QUESTION})
    parsed = js_clients.parse_v4(response.text, allow_errors=False)
    answer = parsed["data"][0]["answer"]
    assert parsed["text"] == answer
    deltas = [p["value"] for p in parsed["parts"] if p["type"] == "text"]
    assert len(deltas) >= len(answer.split()) - 1
    assert all(len(delta.split()) <= 1 for delta in deltas)


async def test_an_advice_streams_a_word_per_event(client: httpx.AsyncClient) -> None:
    streamed = await advise(client, ask("Can I deploy to production on Friday?"))
    assert streamed.status == 200
    words = len(streamed.advice.main_advice.split())
    text_events = streamed.pieces[1:-1]  # between the opening and the rest of the object
    assert words > 3 and len(text_events) >= words - 1
