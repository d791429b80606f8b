"""A client that goes away mid-stream closes the model stream (long before the model is
done) and leaves the turn stored as interrupted, with the text produced so far (real server,
real sockets)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.live_server import serve

WORDS = 400


class SlowModel:
    """Streams one word every 20 ms (8 s in all) and records whether its stream was closed."""

    def __init__(self) -> None:
        self.sent = 0
        self.closed = False

    async def stream(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        try:
            for _ in range(WORDS):
                self.sent += 1
                yield "word "
                await asyncio.sleep(0.02)
        finally:
            self.closed = True


@pytest.fixture
def slow() -> SlowModel:
    return SlowModel()


@pytest.fixture
def container(data_dir: Path, slow: SlowModel) -> Iterator[Container]:
    settings = make_settings(data_dir, allowed_models="offline-extractive,test:slow")
    built = bootstrap(settings, clock=FixedClock())
    built.adapters.models.register("test:slow", FunctionModel(stream_function=slow.stream))
    yield built
    built.close()


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/chat/stream", {"message": "Tell me everything", "model": "test:slow"}),
        (
            "/api/chat",
            {
                "trigger": "submit-message",
                "id": "ui-disconnect",
                "model": "test:slow",
                "messages": [
                    {
                        "id": "m1",
                        "role": "user",
                        "parts": [{"type": "text", "text": "Tell me everything"}],
                    }
                ],
            },
        ),
    ],
)
def test_disconnect_stops_the_model_and_stores_an_interrupted_turn(
    container: Container, slow: SlowModel, path: str, payload: dict[str, object]
) -> None:
    with (
        serve(create_app(container=container)) as url,
        httpx.Client(base_url=url, timeout=10) as http,
    ):
        with http.stream("POST", path, json=payload) as response:
            assert response.status_code == 200
            seen = 0
            for line in response.iter_lines():
                if "word" in line:
                    seen += 1
                if seen >= 5:
                    break
        # The deadline is a safety net: a stream the disconnect did not stop ends on its
        # own after WORDS words, and fails on `sent`.
        deadline = time.monotonic() + 60
        while not slow.closed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert slow.closed, "the model stream was not closed"
        assert slow.sent < WORDS  # closed by the disconnect, not by its end

        chat = container.adapters.history.list_chats("default")[0]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            assistant = container.adapters.history.list_messages(chat.id)[-1]
            if assistant.status != "streaming":
                break
            time.sleep(0.02)
        assert assistant.status == "interrupted"
        assert assistant.content.startswith("word word word")
        assert len(assistant.content.split()) < WORDS
