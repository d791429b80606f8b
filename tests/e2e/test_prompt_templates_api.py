"""Prompt templates over HTTP (ASGI app, real SQLite in tmp_path): drafts, the variables of
each version, `{{today}}` filled in what the next chat turn sends the model, and activation
refused with a 422 that names the variables the service cannot fill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic_ai.models.function import FunctionModel

from backend.api.problems import PROBLEM_MEDIA_TYPE
from backend.bootstrap import Container
from tests.conftest import container_with_models
from tests.fakes import Recorder

TEMPLATE = "You answer for the {{team}} team. Today is {{today}}."
DATED = "You are Almanac. Today is {{ today }}; prefer the newest policy."


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def container(data_dir: Path, recorder: Recorder) -> Iterator[Container]:
    model = FunctionModel(recorder.respond, stream_function=recorder.stream)
    with container_with_models(data_dir, {"test:recorder": model}) as built:
        yield built


async def _chat(client: httpx.AsyncClient) -> None:
    body = {"message": "Who runs IT?", "model": "test:recorder", "search_override": False}
    assert (await client.post("/chat", json=body)).status_code == 200


async def test_a_version_using_today_goes_in_force_and_the_model_gets_the_date(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    created = await client.post("/api/llm-prompts/chat", json={"text": DATED})
    assert created.status_code == 201, created.text
    assert (created.json()["variables"], created.json()["active"]) == (["today"], True)
    await _chat(client)
    assert recorder.instructions[-1].startswith(
        "You are Almanac. Today is 2026-03-02; prefer the newest policy."
    )


async def test_a_draft_is_listed_with_its_variables_and_cannot_be_activated(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    draft = await client.post("/api/llm-prompts/chat", json={"text": TEMPLATE, "activate": False})
    assert draft.status_code == 201
    assert (draft.json()["version"], draft.json()["active"]) == (1, False)

    listed = (await client.get("/api/llm-prompts/chat/versions")).json()
    assert listed["active"] == "default"
    assert [(v["version"], v["active"], v["variables"]) for v in listed["versions"]] == [
        (1, False, ["team", "today"])
    ]

    refused = await client.post("/api/llm-prompts/chat/versions/1/activate")
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "would need a value for team" in refused.json()["detail"]
    assert (await client.get("/api/llm-prompts/chat")).json()["version"] == "default"
    await _chat(client)
    assert "{{team}}" not in recorder.instructions[-1]


async def test_creating_an_active_version_with_unfillable_variables_writes_nothing(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.post("/api/llm-prompts/chat", json={"text": TEMPLATE})
    assert refused.status_code == 422
    assert "Save it as a draft (activate: false)" in refused.json()["detail"]
    assert (await client.get("/api/llm-prompts/chat/versions")).json()["total"] == 0
    audit = (await client.get("/api/audit", params={"action": "prompt"})).json()
    assert audit["entries"] == []


async def test_the_openapi_schema_documents_the_422_of_create_and_activate(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "422" in paths["/api/llm-prompts/{prompt_type}"]["post"]["responses"]
    activate = paths["/api/llm-prompts/{prompt_type}/versions/{version}/activate"]["post"]
    assert {"404", "422"} <= set(activate["responses"])
