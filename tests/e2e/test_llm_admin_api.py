"""Prompt and model administration over HTTP (ASGI app, real SQLite in tmp_path): a change
reaches the very next chat request, wrong input is a problem that writes nothing, every
change is audited, and no provider key is ever shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from backend.api.app import create_app
from backend.api.problems import PROBLEM_MEDIA_TYPE
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, issue_key, make_settings
from tests.fakes import Recorder, streamed
from use_cases.chat.prompts import INSTRUCTIONS_WITHHELD, PROMPT_VERSION, SYSTEM_PROMPT
from use_cases.prompts.manage_prompts import MAX_PROMPT_CHARS

ALLOWED = "offline-extractive,test:recorder,test:reciter,openai:gpt-4.1-mini"
NEW_PROMPT = (
    "You are Zed, the terse assistant of the Rotterdam office. Answer in one sentence and "
    "always cite the passage you used."
)
OLD_PROMPT = "You are Ada, a patient assistant who explains every step of a procedure in turn."


def reciting_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """A model talked into reciting its instructions, whatever they are."""
    return ModelResponse(parts=[TextPart(f"Sure, my instructions: {info.instructions}")])


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def container(data_dir: Path, recorder: Recorder) -> Iterator[Container]:
    built = bootstrap(make_settings(data_dir, allowed_models=ALLOWED), clock=FixedClock())
    built.adapters.models.register(
        "test:recorder", FunctionModel(recorder.respond, stream_function=recorder.stream)
    )
    built.adapters.models.register(
        "test:reciter", FunctionModel(reciting_model, stream_function=streamed(reciting_model))
    )
    yield built
    built.close()


async def _ask(client: httpx.AsyncClient, model: str | None = "test:recorder") -> dict[str, Any]:
    # These models answer without searching: the turn may not search (search discipline).
    body: dict[str, Any] = {"message": "Who runs the Rotterdam office?", "search_override": False}
    if model is not None:
        body["model"] = model
    response = await client.post("/chat", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def _audit(client: httpx.AsyncClient, family: str) -> list[dict[str, Any]]:
    response = await client.get("/api/audit", params={"action": family})
    assert response.status_code == 200
    return response.json()["entries"]


def _is_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["code"] == code and "Traceback" not in body["detail"]
    return body


async def test_a_new_prompt_version_is_what_the_next_chat_request_sends_the_model(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    await _ask(client)
    assert recorder.instructions[-1].startswith(SYSTEM_PROMPT.strip())

    created = await client.post("/api/llm-prompts/chat", json={"text": NEW_PROMPT})
    assert created.status_code == 201
    assert (created.json()["version"], created.json()["source"]) == (1, "version")

    await _ask(client)
    sent = recorder.instructions[-1]
    assert sent.startswith(NEW_PROMPT)
    assert "Ground every statement" not in sent  # the built-in prompt is gone
    assert "Structured tables" in sent  # the tables description still follows the prompt
    shown = (await client.get("/api/llm-prompts/chat")).json()
    assert (shown["version"], shown["text"], shown["author"]) == (1, NEW_PROMPT, "default")


async def test_an_older_version_activated_and_then_the_default_reach_the_next_requests(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    await client.post("/api/llm-prompts/chat", json={"text": OLD_PROMPT})
    await client.post("/api/llm-prompts/chat", json={"text": NEW_PROMPT})

    activated = await client.post("/api/llm-prompts/chat/versions/1/activate")
    assert activated.status_code == 200 and activated.json()["version"] == 1
    await _ask(client)
    assert recorder.instructions[-1].startswith(OLD_PROMPT)

    reset = await client.delete("/api/llm-prompts/chat")
    assert reset.status_code == 200
    assert (reset.json()["version"], reset.json()["source"]) == ("default", "built-in")
    await _ask(client)
    assert recorder.instructions[-1].startswith(SYSTEM_PROMPT.strip())

    versions = (await client.get("/api/llm-prompts/chat/versions")).json()
    assert versions["active"] == "default" and versions["total"] == 2  # versions are kept
    assert [(v["version"], v["text"], v["active"]) for v in versions["versions"]] == [
        (2, NEW_PROMPT, False),
        (1, OLD_PROMPT, False),
    ]
    default = (await client.get("/api/llm-prompts/chat/default")).json()
    assert default["text"] == SYSTEM_PROMPT and default["revision"] == PROMPT_VERSION


async def test_the_streamed_chat_uses_the_prompt_in_force_too(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    await client.post("/api/llm-prompts/chat", json={"text": NEW_PROMPT})
    response = await client.post(
        "/chat/stream", json={"message": "Who runs the office?", "model": "test:recorder"}
    )
    assert response.status_code == 200 and '0:"Recorded."' in response.text
    assert recorder.instructions[-1].startswith(NEW_PROMPT)


async def test_an_answer_reciting_the_prompt_in_force_is_withheld_not_only_the_built_in_one(
    client: httpx.AsyncClient, container: Container
) -> None:
    await client.post("/api/llm-prompts/chat", json={"text": NEW_PROMPT})
    answer = await _ask(client, "test:reciter")
    assert answer["answer"] == INSTRUCTIONS_WITHHELD
    stored = container.adapters.history.list_messages(answer["chat_id"])
    assert all("terse assistant" not in message.content for message in stored)


async def test_prompt_changes_are_audited_with_the_versions_before_and_after(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/api/llm-prompts/chat", json={"text": OLD_PROMPT})
    await client.post("/api/llm-prompts/chat", json={"text": NEW_PROMPT})
    await client.post("/api/llm-prompts/chat", json={"text": NEW_PROMPT})  # no change
    await client.post("/api/llm-prompts/chat/versions/1/activate")
    await client.delete("/api/llm-prompts/chat")
    entries = await _audit(client, "prompt")
    assert [(e["action"], e["target"], e["before"], e["after"]) for e in entries] == [
        ("prompt.reset", "prompt:chat", {"version": 1}, {"version": "default"}),
        ("prompt.activate", "prompt:chat", {"version": 2}, {"version": 1}),
        ("prompt.create", "prompt:chat", {"version": 1}, {"version": 2, "chars": len(NEW_PROMPT)}),
        (
            "prompt.create",
            "prompt:chat",
            {"version": "default"},
            {"version": 1, "chars": len(OLD_PROMPT)},
        ),
    ]
    assert {e["actor_user_id"] for e in entries} == {"default"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": ""}, "text: String should have at least 1 character"),
        ({"text": "  \n "}, "The prompt text is empty"),
        ({"text": "x" * (MAX_PROMPT_CHARS + 1)}, "at most 20000 characters"),
        ({"text": 42}, "text: Input should be a valid string"),
        ({}, "text: Field required"),
        ({"text": "Be brief.\u0000"}, "NUL character"),
    ],
)
async def test_bad_prompt_text_is_a_422_problem_and_writes_nothing(
    client: httpx.AsyncClient, recorder: Recorder, body: dict[str, Any], fragment: str
) -> None:
    problem = _is_problem(
        await client.post("/api/llm-prompts/chat", json=body), 422, "invalid_request"
    )
    assert fragment in problem["detail"]
    versions = (await client.get("/api/llm-prompts/chat/versions")).json()
    assert versions["total"] == 0 and await _audit(client, "prompt") == []
    await _ask(client)
    assert recorder.instructions[-1].startswith(SYSTEM_PROMPT.strip())


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/llm-prompts/summary", None),
        ("GET", "/api/llm-prompts/summary/default", None),
        ("POST", "/api/llm-prompts/summary", {"text": "Advise."}),
        ("GET", "/api/llm-prompts/summary/versions", None),
        ("POST", "/api/llm-prompts/summary/versions/1/activate", None),
        ("DELETE", "/api/llm-prompts/summary", None),
        ("GET", "/api/llm-defaults/summary", None),
        ("PUT", "/api/llm-defaults/summary", {"model": "offline-extractive"}),
    ],
)
async def test_an_unknown_prompt_type_is_a_404_problem_naming_the_known_ones(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    problem = _is_problem(await client.request(method, path, json=body), 404, "not_found")
    assert problem["detail"] == "No prompt type 'summary'; the prompt types are: chat, advice."


async def test_activating_a_version_that_does_not_exist_is_a_404_problem(
    client: httpx.AsyncClient,
) -> None:
    problem = _is_problem(
        await client.post("/api/llm-prompts/chat/versions/3/activate"), 404, "not_found"
    )
    assert problem["detail"] == "The chat prompt has no version 3."


async def test_the_type_default_model_answers_requests_naming_none_and_a_named_model_wins(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    assert (await _ask(client, model=None))["model"] == "offline-extractive"

    put = await client.put("/api/llm-defaults/chat", json={"model": "test:recorder"})
    assert put.status_code == 200
    assert (put.json()["model"], put.json()["effective_model"], put.json()["source"]) == (
        "test:recorder",
        "test:recorder",
        "setting",
    )
    calls = len(recorder.instructions)
    assert (await _ask(client, model=None))["model"] == "test:recorder"
    assert len(recorder.instructions) == calls + 1
    assert (await client.get("/model")).json()["model"] == "test:recorder"
    assert (await _ask(client, model="offline-extractive"))["model"] == "offline-extractive"
    assert len(recorder.instructions) == calls + 1

    cleared = await client.put("/api/llm-defaults/chat", json={"model": None})
    assert (cleared.json()["model"], cleared.json()["source"]) == (None, "environment")
    assert (await _ask(client, model=None))["model"] == "offline-extractive"
    entries = await _audit(client, "model_default")
    assert [(e["target"], e["before"], e["after"]) for e in entries] == [
        ("model_default:chat", {"model": "test:recorder"}, {"model": None}),
        ("model_default:chat", {"model": None}, {"model": "test:recorder"}),
    ]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"model": "openai:gpt-9"}, "Model 'openai:gpt-9' is not allowed. Allowed models:"),
        ({"model": "openai:gpt-4.1-mini"}, "cannot be used: Model openai:gpt-4.1-mini needs"),
        ({"model": ""}, "The model is empty"),
        ({"model": "m" * 201}, "model: String should have at most 200 characters"),
        ({}, "model: Field required"),
    ],
)
async def test_a_default_model_not_allowed_or_not_usable_is_a_422_problem_and_writes_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], fragment: str
) -> None:
    problem = _is_problem(
        await client.put("/api/llm-defaults/chat", json=body), 422, "invalid_request"
    )
    assert fragment in problem["detail"]
    shown = (await client.get("/api/llm-defaults/chat")).json()
    assert shown["model"] is None and shown["effective_model"] == "offline-extractive"
    assert await _audit(client, "model_default") == []


OPENAI_KEY = "sk-test-FAKEOPENAI-31c9d0e7a4b25f68"
ANTHROPIC_KEY = "sk-ant-test-FAKEANTHROPIC-8e2f6a1c9b3d7054"


async def test_the_providers_listing_says_whether_keys_are_set_but_never_shows_one(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    settings = make_settings(
        data_dir,
        openai_api_key=OPENAI_KEY,
        allowed_models="openai:gpt-4.1-mini,anthropic:claude-sonnet-4-5,groq:llama-3.3-70b,"
        "offline-extractive",
    )
    container = bootstrap(settings, clock=FixedClock())
    try:
        transport = httpx.ASGITransport(app=create_app(container=container))
        async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
            response = await http.get("/api/llm-defaults/providers")
    finally:
        container.close()
    assert response.status_code == 200
    listed = {p["provider"]: p for p in response.json()["providers"]}
    assert {name: (p["key_setting"], p["key_present"]) for name, p in listed.items()} == {
        "openai": ("OPENAI_API_KEY", True),
        "anthropic": ("ANTHROPIC_API_KEY", True),
        "groq": ("GROQ_API_KEY", False),
        "offline": (None, None),
    }
    assert listed["openai"]["models"] == ["openai:gpt-4.1-mini"]
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, OPENAI_KEY[-12:], ANTHROPIC_KEY[-12:]):
        assert secret not in response.text


async def test_a_users_key_is_refused_and_changes_neither_prompt_nor_model(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    user = await issue_key(auth_container, "ana", "user")
    admin = await issue_key(auth_container, "root", "admin")
    writes = [
        ("POST", "/api/llm-prompts/chat", {"text": "Obey ana."}),
        ("PUT", "/api/llm-defaults/chat", {"model": "offline-extractive"}),
        ("DELETE", "/api/llm-prompts/chat", None),
    ]
    for method, path, body in writes:
        refused = await auth_client.request(method, path, json=body, headers=user)
        _is_problem(refused, 403, "forbidden")
        without_key = await auth_client.request(method, path, json=body)
        _is_problem(without_key, 401, "unauthorized")
    shown = (await auth_client.get("/api/llm-prompts/chat", headers=admin)).json()
    assert shown["version"] == "default"
    model = (await auth_client.get("/api/llm-defaults/chat", headers=admin)).json()
    assert model["model"] is None
    audit = await auth_client.get("/api/audit", headers=admin)
    assert [e["action"] for e in audit.json()["entries"]] == ["key.create", "key.create"]
