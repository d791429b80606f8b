"""Text responses travel compressed for clients that accept it; answer streams never do
(they must arrive event by event)."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import brotli
import httpx
import pytest
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from backend.api.app import create_app
from backend.api.routes.web import ASSETS_URL, WEB_DIR
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.live_server import serve

DECODE = {"gzip": gzip.decompress, "br": brotli.decompress}


async def _raw(client: httpx.AsyncClient, url: str, encoding: str) -> httpx.Response:
    """The response with its body as sent (httpx would decode it)."""
    request = client.build_request("GET", url, headers={"Accept-Encoding": encoding})
    response = await client.send(request, stream=True)
    response._content = b"".join([chunk async for chunk in response.aiter_raw()])
    return response


@pytest.mark.parametrize("encoding", ["gzip", "br"])
@pytest.mark.parametrize("url", ["/", f"{ASSETS_URL}/js/chat.js", "/openapi.json"])
async def test_the_page_a_script_and_a_json_reply_come_back_compressed(
    client: httpx.AsyncClient, url: str, encoding: str
) -> None:
    plain = await _raw(client, url, "identity")
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    packed = await _raw(client, url, encoding)
    assert packed.status_code == 200
    assert packed.headers["content-encoding"] == encoding
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert DECODE[encoding](packed.content) == plain.content
    assert len(packed.content) < len(plain.content) / 2


async def test_the_script_is_the_file_on_disk_once_decoded(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ASSETS_URL}/js/chat.js", headers={"Accept-Encoding": "br"})
    assert response.headers["content-encoding"] == "br"
    assert response.content == (WEB_DIR / "js" / "chat.js").read_bytes()


async def test_a_small_reply_is_sent_as_it_is(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200 and "content-encoding" not in response.headers


class GatedModel:
    """Streams "first", then waits for the test to have read it before streaming "second"."""

    def __init__(self) -> None:
        self.first_read = threading.Event()

    async def stream(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield "first "
        for _ in range(500):  # at most 10 s
            if self.first_read.is_set():
                break
            await asyncio.sleep(0.02)
        yield "second"


@pytest.fixture
def gated() -> GatedModel:
    return GatedModel()


@pytest.fixture
def gated_container(data_dir: Path, gated: GatedModel) -> Iterator[Container]:
    settings = make_settings(data_dir, allowed_models="offline-extractive,test:gated")
    built = bootstrap(settings, clock=FixedClock())
    built.adapters.models.register("test:gated", FunctionModel(stream_function=gated.stream))
    yield built
    built.close()


UI_CHAT = {
    "trigger": "submit-message",
    "id": "ui-compression",
    "model": "test:gated",
    "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Go on"}]}],
}


@pytest.mark.parametrize(
    ("path", "payload"),
    [("/chat/stream", {"message": "Go on", "model": "test:gated"}), ("/api/chat", UI_CHAT)],
    ids=["data stream v4", "ui message stream"],
)
def test_an_answer_stream_arrives_event_by_event_uncompressed(
    gated_container: Container, gated: GatedModel, path: str, payload: dict[str, object]
) -> None:
    """The model only writes its second word once the client has read the first: a stream
    held back by a compressor would never get there (the read times out)."""
    with (
        serve(create_app(container=gated_container)) as url,
        httpx.Client(base_url=url, timeout=5) as http,
        http.stream("POST", path, json=payload, headers={"Accept-Encoding": "gzip, br"}) as reply,
    ):
        assert reply.status_code == 200
        assert "content-encoding" not in reply.headers
        lines = reply.iter_lines()
        for line in lines:
            if "first" in line:
                break
        gated.first_read.set()
        assert any("second" in line for line in lines)
