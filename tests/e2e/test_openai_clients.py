"""The official `openai` Python SDK against a running Almanac (a real uvicorn server on a
loopback port, authentication on): the models, a grounded answer, a streamed answer, and each
refusal as the SDK's own exception class. The offline model answers, over the sample data."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, asgi_client, make_settings
from tests.js_clients import openai_clients
from tests.live_server import serve
from tests.narrowing import of_type
from use_cases.access.domain import CLI_ADMIN

QUESTION = "How often do we have to rotate passwords?"
POLICY = "Password and Credential Rotation Policy"
#: The /api/chat limits of the server under test (lower than the defaults, so that a request
#: over them stays small).
LIMITS = {"max_conversation_messages": 12, "max_conversation_chars": 20_000}


@dataclass
class Server:
    url: str
    keys: dict[str, str]
    container: Container
    limited_url: str
    """The same data behind an app allowing one chat request a minute per key."""

    def client(self, user: str = "ana", **options: Any) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=self.keys[user], max_retries=0, **options
        )


@pytest.fixture(scope="module")
def server(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("openai-clients") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    settings = make_settings(
        data_dir, auth_enabled=True, allowed_models="offline-extractive", **LIMITS
    )
    container = bootstrap(settings, clock=FixedClock())
    keys = {user: asyncio.run(_new_key(container, user)) for user in ("ana", "bob")}
    limited = create_app(
        make_settings(data_dir, auth_enabled=True, rate_limit_per_minute=1, **LIMITS),
        container=container,
    )
    with serve(create_app(container=container)) as url, serve(limited) as limited_url:
        yield Server(url, keys, container, limited_url)
    container.close()


def test_the_models_are_almanacs_assistants_with_stable_ids(server: Server) -> None:
    client = server.client()
    ids = [model.id for model in client.models.list()]
    assert ids == ["almanac", "offline-extractive"]
    assert [model.id for model in server.client("bob").models.list()] == ids
    model = client.models.retrieve("offline-extractive")
    assert (model.id, model.object, model.owned_by) == ("offline-extractive", "model", "almanac")
    with pytest.raises(openai.NotFoundError) as refused:
        client.models.retrieve("gpt-4o")
    assert refused.value.code == "model_not_found"


def test_a_grounded_answer_cites_its_sources_and_stores_nothing(server: Server) -> None:
    completion = server.client().chat.completions.create(
        model="almanac",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": QUESTION},
        ],
        temperature=0.2,
        max_completion_tokens=300,
        user="ana@example.com",
    )
    assert completion.object == "chat.completion" and completion.model == "almanac"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "[1]" in (choice.message.content or "")
    almanac = (choice.message.model_extra or {})["almanac"]
    assert almanac["chat_id"] is None and almanac["model"] == "offline-extractive"
    first = almanac["sources"][0]
    assert (first["number"], first["title"], first["cited"]) == (1, POLICY, True)
    assert first["link"] == f"{server.url}/api/documents/{first['document_id']}"
    assert httpx.get(first["link"], headers=_bearer(server, "ana")).json()["title"] == POLICY
    assert completion.usage is None or completion.usage.total_tokens > 0
    assert _chats(server, "ana") == []  # stateless: nothing was kept


def test_a_follow_up_question_reads_the_conversation_it_brings(server: Server) -> None:
    completion = server.client().chat.completions.create(
        model="offline-extractive",
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": "Only on compromise [1]."},
            {"role": "user", "content": [{"type": "text", "text": "And service-account keys?"}]},
        ],
    )
    assert "90 days" in (completion.choices[0].message.content or "")


def test_a_streamed_answer_arrives_in_chunks_ending_with_sources_and_usage(
    server: Server,
) -> None:
    stream = server.client().chat.completions.create(
        model="almanac",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[0].choices[0].delta.role == "assistant"
    finished = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finished] == ["stop"]
    almanac = (finished[0].model_extra or {})["almanac"]
    assert text == almanac["answer"] and "[1]" in text
    assert almanac["sources"][0]["title"] == POLICY
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")


def test_store_true_keeps_the_conversation_as_a_chat_of_the_keys_user(server: Server) -> None:
    completion = server.client("bob").chat.completions.create(
        model="almanac", messages=[{"role": "user", "content": QUESTION}], store=True
    )
    chat_id = (completion.choices[0].message.model_extra or {})["almanac"]["chat_id"]
    assert [chat["id"] for chat in _chats(server, "bob")] == [chat_id]
    messages = httpx.get(
        f"{server.url}/chats/{chat_id}/messages", headers=_bearer(server, "bob")
    ).json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[-1]["content"] == completion.choices[0].message.content
    assert (
        httpx.get(
            f"{server.url}/chats/{chat_id}/messages", headers=_bearer(server, "ana")
        ).status_code
        == 404
    )  # another user's chat


def test_a_wrong_key_is_the_sdks_authentication_error(server: Server) -> None:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="almanac-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        client.models.list()
    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model="almanac", messages=[{"role": "user", "content": QUESTION}]
        )


def test_an_unknown_model_is_the_sdks_not_found_error(server: Server) -> None:
    with pytest.raises(openai.NotFoundError) as refused:
        server.client().chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    assert refused.value.code == "model_not_found" and refused.value.param == "model"


TOO_LONG = "x" * 8001


@pytest.mark.parametrize(
    ("request_options", "param", "says"),
    [
        ({"n": 2}, "n", "n must be 1"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
            "tools",
            "tools are not supported",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is this?"},
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}},
                        ],
                    }
                ]
            },
            "messages[0].content",
            "image",
        ),
        (
            {"messages": [{"role": "tool", "content": "{}", "tool_call_id": "call_1"}]},
            "messages[0].role",
            "tool message",
        ),
        (
            {"messages": [{"role": "narrator", "content": "Once upon a time"}]},
            "messages[0].role",
            "role 'narrator'",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": QUESTION},
                    {"role": "assistant", "content": "Every 90 days."},
                ]
            },
            None,
            "last message must be the user's",
        ),
        ({"messages": [{"role": "user", "content": TOO_LONG}]}, None, "limit is 8,000"),
        (
            {"messages": [{"role": "user", "content": "x" * 7000}] * 3},
            None,
            "MAX_CONVERSATION_CHARS",
        ),
        ({"messages": [{"role": "user", "content": "hi"}] * 13}, None, "MAX_CONVERSATION_MESSAGES"),
        (
            {
                "messages": [
                    {"role": "user", "content": TOO_LONG},
                    {"role": "assistant", "content": "Noted."},
                    {"role": "user", "content": QUESTION},
                ]
            },
            None,
            "MAX_MESSAGE_CHARS",
        ),
        ({"messages": []}, "messages", "at least 1"),
        ({"temperature": 3}, "temperature", "less than or equal to 2"),
    ],
)
def test_bad_input_is_the_sdks_bad_request_error_and_stores_nothing(
    server: Server, request_options: dict[str, Any], param: str | None, says: str
) -> None:
    body: dict[str, Any] = {
        "model": "almanac",
        "messages": [{"role": "user", "content": QUESTION}],
        "store": True,
        **request_options,
    }
    with pytest.raises(openai.BadRequestError) as refused:
        server.client("ana").chat.completions.create(**body)
    assert refused.value.status_code == 400
    assert says in refused.value.message
    assert refused.value.param == param
    assert of_type(dict, refused.value.body)["type"] == "invalid_request_error"
    assert _chats(server, "ana") == []


def test_too_many_requests_is_the_sdks_rate_limit_error_with_retry_after(server: Server) -> None:
    client = openai.OpenAI(
        base_url=f"{server.limited_url}/v1", api_key=server.keys["ana"], max_retries=0
    )
    ask: dict[str, Any] = {"model": "almanac", "messages": [{"role": "user", "content": "hello"}]}
    client.chat.completions.create(**ask)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(**ask)
    assert refused.value.status_code == 429
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert refused.value.code == "rate_limit_exceeded"
    assert next(model.id for model in client.models.list()) == "almanac"  # reading: no limit


def test_an_unknown_path_under_v1_answers_in_openais_shape(server: Server) -> None:
    response = httpx.post(f"{server.url}/v1/embeddings", headers=_bearer(server, "ana"), json={})
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


async def _new_key(container: Container, user: str) -> str:
    created = await container.access.create_key.execute(CLI_ADMIN, user_id=user, role="user")
    return created.secret


def _bearer(server: Server, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.keys[user]}"}


def _chats(server: Server, user: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/chats", headers=_bearer(server, user))
    assert response.status_code == 200, response.text
    chats: list[dict[str, Any]] = response.json()
    return chats


def test_the_js_clients_get_the_same_grounded_answer(server: Server) -> None:
    """npm `openai`, and the Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`, as a
    Next.js app would use it), against the same server: models, an answer, a stream, errors."""
    got = openai_clients(f"{server.url}/v1", server.keys["ana"], QUESTION)
    sdk = got["openai"]
    assert sdk["models"] == ["almanac", "offline-extractive"]
    assert "[1]" in sdk["answer"] and sdk["sources"][0]["title"] == POLICY
    assert sdk["streamed"] == sdk["streamedAnswer"] == sdk["answer"]
    assert sdk["finish"] == "stop" and sdk["usageChunk"] is True
    assert sdk["streamedSources"] == sdk["sources"]
    errors = sdk["errors"]
    assert (errors["auth"]["name"], errors["auth"]["status"]) == ("AuthenticationError", 401)
    assert (errors["notFound"]["name"], errors["notFound"]["status"]) == ("NotFoundError", 404)
    assert errors["badRequest"]["name"] == "BadRequestError"
    assert "n must be 1" in errors["badRequest"]["message"]

    vercel = got["vercel"]
    assert vercel["text"] == sdk["answer"] and vercel["finishReason"] == "stop"
    assert vercel["sources"] == sdk["sources"]
    assert vercel["streamed"] == sdk["answer"] and vercel["streamedFinishReason"] == "stop"
    assert vercel["streamedSources"] == sdk["sources"]
    refused = vercel["notFound"]
    assert refused["apiCallError"] is True and refused["status"] == 404
    assert "does not exist" in refused["message"]


async def test_a_body_over_the_size_limit_is_a_400_in_openais_shape(data_dir: Path) -> None:
    """The body-size limit answers before any route (413 elsewhere): under /v1 a 400 the SDKs
    raise as `BadRequestError`, naming the setting."""
    settings = make_settings(data_dir, max_json_body_bytes=1024)
    container = bootstrap(settings, clock=FixedClock())
    try:
        async with asgi_client(container) as http:
            body = {"model": "almanac", "messages": [{"role": "user", "content": "x" * 4096}]}
            response = await http.post("/v1/chat/completions", json=body)
            chats = (await http.get("/chats")).json()
    finally:
        container.close()
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "payload_too_large"
    assert "MAX_JSON_BODY_BYTES" in error["message"]
    assert chats == []
