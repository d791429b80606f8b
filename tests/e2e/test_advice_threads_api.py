"""Advice threads over HTTP: `POST /advice` with `thread_id` keeps each finished advice on the
server; `GET /advice/threads`, `GET /advice/threads/{id}` and `DELETE /advice/threads/{id}`
list, reopen and delete them, only ever the caller's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCalls, FunctionModel

from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, asgi_client, issue_key, make_settings
from tests.e2e.test_advice_api import _output_chunks, advise, down

QUESTION = "Can I deploy to production on Friday?"


def ask(question: str, thread_id: str | None = "t-1", **extra: Any) -> dict[str, Any]:
    body = {"conversation": [{"role": "user", "content": question}], **extra}
    return body if thread_id is None else {**body, "thread_id": thread_id}


seen: list[list[ModelMessage]] = []


async def recording(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[DeltaToolCalls]:
    seen.append(messages)
    args = {"main_advice": f"Advice number {len(seen)}.", "reasoning": "Noted."}
    for chunk in _output_chunks(info, args):
        yield chunk


@pytest.fixture
def container(data_dir: Path) -> Iterator[Container]:
    settings = make_settings(
        data_dir, allowed_models="offline-extractive,test:recording,test:down", auth_enabled=True
    )
    built = bootstrap(settings, clock=FixedClock())
    built.adapters.models.register("test:recording", FunctionModel(stream_function=recording))
    built.adapters.models.register("test:down", FunctionModel(stream_function=down))
    seen.clear()
    yield built
    built.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(container) as http:
        http.headers.update(await issue_key(container, "ana"))
        yield http


async def test_advice_given_in_a_thread_is_reopened_oldest_first_as_it_was_sent(
    client: httpx.AsyncClient,
) -> None:
    first = await advise(client, ask(QUESTION))
    second = await advise(client, ask("And on Monday?"))
    assert first.status == second.status == 200

    threads = await client.get("/advice/threads")
    assert threads.status_code == 200
    assert [(t["id"], t["title"]) for t in threads.json()] == [("t-1", QUESTION)]
    reopened = await client.get("/advice/threads/t-1")
    assert reopened.status_code == 200
    entries = reopened.json()["entries"]
    assert [e["question"] for e in entries] == [QUESTION, "And on Monday?"]
    assert [e["advice"] for e in entries] == [
        first.advice.model_dump(mode="json"),
        second.advice.model_dump(mode="json"),
    ]  # the same response ids: feedback works on a reopened thread
    assert entries[0]["advice"]["sources"]  # the offline advice cites the handbook
    assert [e["feedback"] for e in entries] == [None, None]


async def test_a_reopened_thread_shows_the_verdict_given_on_each_advice(
    client: httpx.AsyncClient,
) -> None:
    first = await advise(client, ask(QUESTION))
    await advise(client, ask("And on Monday?"))
    rated = {"response_id": first.advice.response_id, "outcome": False}
    assert (await client.post("/feedback", json=rated)).status_code == 200
    entries = (await client.get("/advice/threads/t-1")).json()["entries"]
    assert [e["feedback"] for e in entries] == [False, None]
    undone = await client.delete(f"/feedback/{first.advice.response_id}")
    assert undone.status_code == 200
    entries = (await client.get("/advice/threads/t-1")).json()["entries"]
    assert [e["feedback"] for e in entries] == [None, None]


async def test_the_threads_earlier_advice_is_the_conversation_the_model_gets(
    client: httpx.AsyncClient,
) -> None:
    first, second = [
        await client.post("/advice-non-streaming", json=ask(question, model="test:recording"))
        for question in ("We froze deploys on Monday.", "Can I deploy on Friday?")
    ]
    assert first.status_code == second.status_code == 200, second.text
    prompts = [
        (type(m).__name__, str(p.content))
        for m in seen[-1]  # the last request of the second turn
        for p in m.parts
        if isinstance(p, UserPromptPart) or (isinstance(m, ModelResponse) and p.part_kind == "text")
    ]
    assert prompts[0] == ("ModelRequest", "We froze deploys on Monday.")
    assert ("ModelResponse", first.json()["main_advice"]) in prompts
    assert prompts[-1][1].endswith("Can I deploy on Friday?")


async def test_with_a_thread_the_request_sends_only_the_new_question(
    client: httpx.AsyncClient,
) -> None:
    conversation = [
        {"role": "user", "content": "Earlier?"},
        {"role": "assistant", "content": "Yes."},
        {"role": "user", "content": QUESTION},
    ]
    response = await client.post("/advice", json={"conversation": conversation, "thread_id": "t-1"})
    assert response.status_code == 422
    assert "only the new question" in response.json()["detail"]
    bad_id = await client.post("/advice", json=ask(QUESTION, thread_id="no/slash"))
    assert bad_id.status_code == 422
    assert (await client.get("/advice/threads")).json() == []


async def test_another_users_thread_answers_404_and_gains_nothing(
    container: Container, client: httpx.AsyncClient
) -> None:
    assert (await advise(client, ask(QUESTION))).status == 200
    bob = await issue_key(container, "bob")

    for method, path, body in [
        ("POST", "/advice", ask("Mine now?")),
        ("POST", "/advice-non-streaming", ask("Mine now?")),
        ("GET", "/advice/threads/t-1", None),
        ("DELETE", "/advice/threads/t-1", None),
    ]:
        response = await client.request(method, path, json=body, headers=bob)
        assert response.status_code == 404, (method, path)
        assert response.json()["detail"] == "No advice thread with id t-1."
    assert (await client.get("/advice/threads", headers=bob)).json() == []
    kept = (await client.get("/advice/threads/t-1")).json()["entries"]
    assert [e["question"] for e in kept] == [QUESTION]


async def test_a_failed_run_keeps_nothing_and_delete_removes_the_thread(
    client: httpx.AsyncClient,
) -> None:
    failed = await client.post("/advice-non-streaming", json=ask(QUESTION, model="test:down"))
    assert failed.status_code == 503
    assert (await advise(client, ask(QUESTION, model="test:down"))).advice.fallback is True
    assert (await client.get("/advice/threads")).json() == []  # nothing half-kept

    assert (await advise(client, ask(QUESTION))).status == 200
    assert (await client.delete("/advice/threads/t-1")).status_code == 204
    assert (await client.get("/advice/threads/t-1")).status_code == 404
    assert (await client.delete("/advice/threads/t-1")).status_code == 404
    assert (await client.get("/advice/threads")).json() == []


async def test_advice_without_a_thread_keeps_nothing(client: httpx.AsyncClient) -> None:
    assert (await advise(client, ask(QUESTION, thread_id=None))).status == 200
    assert (await client.get("/advice/threads")).json() == []
