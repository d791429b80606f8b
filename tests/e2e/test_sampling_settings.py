"""Sampling settings (`temperature`, `max_tokens`, `top_p`, `seed`) on chat, advice, the
playground and evaluation runs: validated, passed to the model as PydanticAI ModelSettings,
and recorded with the results that are stored or returned. Unknown fields of these bodies are
422 naming the field (the useChat body excepted: its clients send their own extras)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from backend.bootstrap import Container
from tests.conftest import container_with_models

SAMPLING = {"temperature": 0.2, "max_tokens": 256, "top_p": 0.9, "seed": 7}
QUESTION = "What is a mutex?"


class Recorder:
    """A test model that records the model settings of every request it gets."""

    def __init__(self) -> None:
        self.settings: list[dict[str, Any] | None] = []

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        self.settings.append(dict(info.model_settings) if info.model_settings else None)
        if info.output_tools:  # advice: structured output through the output tool
            args = {"main_advice": "Use a lock.", "reasoning": "General knowledge."}
            yield {
                0: DeltaToolCall(
                    name=info.output_tools[0].name, json_args=json.dumps(args), tool_call_id="o1"
                )
            }
            return
        yield "A mutex lets one thread at a time into a critical section."

    def sampling_seen(self) -> dict[str, Any]:
        """The sampling part of the last request's model settings."""
        last = self.settings[-1] or {}
        return {key: last.get(key) for key in SAMPLING}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def container(data_dir: Path, recorder: Recorder) -> Iterator[Container]:
    model = FunctionModel(stream_function=recorder.stream)
    with container_with_models(data_dir, {"test:recorder": model}) as built:
        yield built


def _use_chat_body(**extra: Any) -> dict[str, Any]:
    text = {"type": "text", "text": QUESTION}
    return {
        "trigger": "submit-message",
        "id": "sampling-chat",
        "messages": [{"id": "m1", "role": "user", "parts": [text]}],
        **extra,
    }


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat", {"message": QUESTION}),
        ("/chat/stream", {"message": QUESTION}),
        ("/api/chat", _use_chat_body()),
        ("/advice-non-streaming", {"conversation": [{"role": "user", "content": QUESTION}]}),
        ("/advice", {"conversation": [{"role": "user", "content": QUESTION}]}),
    ],
)
async def test_chat_and_advice_pass_the_sampling_settings_to_the_model(
    client: httpx.AsyncClient, recorder: Recorder, path: str, body: dict[str, Any]
) -> None:
    response = await client.post(path, json={**body, "model": "test:recorder", **SAMPLING})
    assert response.status_code == 200, response.text
    assert recorder.sampling_seen() == SAMPLING

    await client.post(path, json={**body, "model": "test:recorder"})
    assert recorder.settings[-1] is None or recorder.sampling_seen() == dict.fromkeys(SAMPLING)


async def test_the_playground_passes_and_records_them_for_every_model(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    response = await client.post(
        "/api/playground/run",
        json={
            "question": QUESTION,
            "models": ["test:recorder", "offline-extractive"],
            "search_override": False,
            **SAMPLING,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sampling"] == SAMPLING
    assert [r["sampling"] for r in body["results"]] == [SAMPLING, SAMPLING]
    assert recorder.sampling_seen() == SAMPLING
    # The offline model ignores them (its answer is the same) but they are recorded anyway.
    plain = await client.post(
        "/api/playground/run",
        json={"question": QUESTION, "models": ["offline-extractive"], "search_override": False},
    )
    assert plain.json()["results"][0]["output"] == body["results"][1]["output"]
    assert plain.json()["sampling"] == dict.fromkeys(SAMPLING)


async def test_an_evaluation_run_passes_and_records_them(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    case = {"id": "mutex", "question": QUESTION, "kind": "kb", "expect_any": ["mutex"]}
    files = {"file": ("one.jsonl", (json.dumps(case) + "\n").encode(), "application/x-ndjson")}
    uploaded = await client.post("/api/v1/datasets/upload", files=files, data={"name": "One"})
    assert uploaded.status_code == 201, uploaded.text
    started = await client.post(
        "/api/v1/benchmark-runs",
        json={"task_id": uploaded.json()["id"], "models": ["test:recorder"], "sampling": SAMPLING},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    for _ in range(2000):
        export = (await client.get(f"/api/v1/eval-runs/{run_id}")).json()
        if export["status"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.02)
    assert export["status"] == "completed", export
    assert export["settings"]["sampling"] == SAMPLING
    assert recorder.sampling_seen() == SAMPLING


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 2.5),
        ("temperature", -0.1),
        ("top_p", 1.5),
        ("top_p", 0),
        ("max_tokens", 0),
        ("seed", -1),
        ("max_tokens", "many"),
    ],
)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat", {"message": QUESTION}),
        ("/api/chat", _use_chat_body()),
        ("/advice", {"conversation": [{"role": "user", "content": QUESTION}]}),
        ("/api/playground/run", {"question": QUESTION}),
    ],
)
async def test_settings_out_of_range_are_422_naming_the_field(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str, value: Any
) -> None:
    response = await client.post(path, json={**body, field: value})
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


async def test_an_evaluation_run_with_a_bad_setting_is_422_naming_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/benchmark-runs", json={"task_id": "x", "sampling": {"temperature": 9}}
    )
    assert response.status_code == 422
    assert "temperature" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "unknown"),
    [
        ("/chat", {"message": QUESTION}, "prompt_type"),
        ("/chat/stream", {"message": QUESTION}, "temprature"),
        ("/advice", {"conversation": [{"role": "user", "content": QUESTION}]}, "prompt_type"),
        (
            "/advice-non-streaming",
            {"conversation": [{"role": "user", "content": QUESTION}]},
            "use_step2_architecture",
        ),
        ("/api/playground/run", {"question": QUESTION}, "max_token"),
    ],
)
async def test_unknown_fields_are_422_naming_the_field(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], unknown: str
) -> None:
    response = await client.post(path, json={**body, unknown: True})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert unknown in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == [unknown]


async def test_the_use_chat_body_keeps_its_client_extras(client: httpx.AsyncClient) -> None:
    # Clients put their own fields in the useChat body (`body:` of the transport); they are
    # not Almanac's to refuse.
    response = await client.post("/api/chat", json=_use_chat_body(messageId="m2", trace="abc"))
    assert response.status_code == 200, response.text
