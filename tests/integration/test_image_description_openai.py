"""Attached images described by an OpenAI model that reads images: the real app, OpenAI SDK
and PydanticAI model, HTTP mocked with respx at the httpcore2 layer (PITFALLS). The image
goes to the model as a base64 data URL; its description is stored, listed, indexed for the
chat's search and cited by an answer there; a provider failure stores the image without a
description and says so; a model that does not read images is never asked."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic_ai import models as ai_models

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.image_samples import image_bytes
from tests.respx_httpcore2 import HTTPCore2Mocker  # noqa: F401 - registers the mocker

COMPLETIONS = "https://api.openai.com/v1/chat/completions"
VISION = "openai:gpt-4.1-mini"  # in VISION_MODELS by default
TEXT_ONLY = "openai:gpt-3.5-turbo"
DESCRIPTION = (
    "A photo of a flat roof with two white beehives. A hand-written sign on the fence reads: "
    "Hive inspections every Thursday at 8:00, wear a veil."
)


@pytest.fixture(scope="module")
def container(
    sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    data_dir = tmp_path_factory.mktemp("image-descriptions") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    settings = make_settings(
        data_dir,
        openai_api_key="sk-test",
        default_model=VISION,
        allowed_models=f"{VISION},{TEXT_ONLY},offline-extractive",
        provider_max_retries=0,
        provider_timeout=5.0,
    )
    built = bootstrap(settings, clock=FixedClock())
    yield built
    built.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container=container))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        yield http


@pytest.fixture
def mock_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.Router]:
    monkeypatch.setattr(ai_models, "ALLOW_MODEL_REQUESTS", True)
    with respx.mock(using="httpcore2", assert_all_called=False) as router:
        yield router


def completion(content: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4.1-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
        },
    )


def a_chat(container: Container) -> str:
    history = container.adapters.history
    user = container.settings.auth.default_user_id
    history.ensure_user(user)
    return history.get_or_create_chat(None, user, "Our rooftop").id


def images_sent(request: httpx.Request) -> list[str]:
    body: dict[str, Any] = json.loads(request.content)
    return [
        part["image_url"]["url"]
        for message in body["messages"]
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "image_url"
    ]


async def test_the_image_is_sent_as_a_data_url_and_its_description_is_stored_and_found(
    client: httpx.AsyncClient, container: Container, mock_openai: respx.Router
) -> None:
    chat_id = a_chat(container)
    photo = image_bytes("PNG", (32, 24))
    route = mock_openai.post(COMPLETIONS).mock(return_value=completion(DESCRIPTION))

    response = await client.post(
        f"/api/conversations/{chat_id}/files", files={"file": ("roof.png", photo, "image/png")}
    )

    assert response.status_code == 201, response.text
    file = response.json()
    assert route.call_count == 1
    sent = json.loads(route.calls[0].request.content)
    assert sent["model"] == "gpt-4.1-mini"
    assert images_sent(route.calls[0].request) == [
        "data:image/png;base64," + base64.b64encode(photo).decode()
    ]
    assert (file["description"], file["description_note"], file["chunk_count"]) == (
        DESCRIPTION,
        None,
        1,
    )
    listed = (await client.get(f"/api/conversations/{chat_id}/files")).json()
    assert [(f["id"], f["description"]) for f in listed] == [(file["id"], DESCRIPTION)]
    download = await client.get(f"/api/conversations/{chat_id}/files/{file['id']}/content")
    assert download.content == photo and download.headers["content-type"] == "image/png"

    # A turn in that chat (the offline model, so no provider is mocked) finds and cites it.
    reply = await client.post(
        "/chat",
        json={
            "message": "When are the hive inspections on the roof?",
            "chat_id": chat_id,
            "model": "offline-extractive",
        },
    )
    assert reply.status_code == 200, reply.text
    assert "attachment:roof.png" in {s["source"] for s in reply.json()["sources"]}
    assert "thursday" in reply.json()["answer"].lower(), reply.json()["answer"]


async def test_a_provider_failure_stores_the_image_without_a_description_and_says_so(
    client: httpx.AsyncClient, container: Container, mock_openai: respx.Router
) -> None:
    chat_id = a_chat(container)
    mock_openai.post(COMPLETIONS).mock(
        return_value=httpx.Response(500, json={"error": {"message": "sk-test exploded"}})
    )

    response = await client.post(
        f"/api/conversations/{chat_id}/files",
        files={"file": ("plan.gif", image_bytes("GIF"), "image/gif")},
    )

    assert response.status_code == 201, response.text
    file = response.json()
    assert file["description"] is None and file["chunk_count"] == 0
    assert file["description_note"].startswith(f"Not described: {VISION} failed")
    assert "sk-test" not in response.text and "Traceback" not in response.text
    listed = (await client.get(f"/api/conversations/{chat_id}/files")).json()
    assert [(f["id"], f["description"]) for f in listed] == [(file["id"], None)]
    assert container.adapters.chat_files.chunks(chat_id)[0] == []


async def test_a_chat_whose_model_does_not_read_images_never_sends_one(
    client: httpx.AsyncClient, container: Container, mock_openai: respx.Router
) -> None:
    chat_id = a_chat(container)
    route = mock_openai.post(COMPLETIONS).mock(return_value=completion(DESCRIPTION))
    put = await client.put("/api/llm-defaults/chat", json={"model": TEXT_ONLY})
    assert put.status_code == 200, put.text
    try:
        response = await client.post(
            f"/api/conversations/{chat_id}/files",
            files={"file": ("scan.webp", image_bytes("WEBP"), "image/webp")},
        )
    finally:
        cleared = await client.put("/api/llm-defaults/chat", json={"model": None})
        assert cleared.status_code == 200, cleared.text

    assert response.status_code == 201, response.text
    assert route.call_count == 0
    assert response.json()["description"] is None
    assert TEXT_ONLY in response.json()["description_note"]
