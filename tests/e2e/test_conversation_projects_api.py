"""A conversation's project and its lock through the real ASGI app (the conversation backend's
`POST|GET /api/conversations/{id}/project`): no tracker adapter ships, so the container's
`TrackProject` is given the tests' fake tracker here, as a deployment's adapter would be."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.fakes.project_drafts import FakeProjectTracker
from use_cases.chat.domain import NewMessage
from use_cases.conversations.draft_chat import TrackProject

API = "/api/conversations"


@pytest.fixture(scope="module")
def tracker() -> FakeProjectTracker:
    return FakeProjectTracker()


@pytest.fixture(scope="module")
def container(
    tmp_path_factory: pytest.TempPathFactory, tracker: FakeProjectTracker
) -> Iterator[Container]:
    data_dir = tmp_path_factory.mktemp("projects") / "data"
    built = bootstrap(make_settings(data_dir), clock=FixedClock())
    drafts = built.conversation_drafts
    tracked = TrackProject(
        built.adapters.history,
        built.adapters.draft_chat_store,
        drafts.draft_versions,
        tracker,
        FixedClock(),
    )
    built.conversation_drafts = replace(drafts, tracked_projects=tracked)  # bundles are frozen
    yield built
    built.close()


@pytest.fixture(scope="module")
def app(container: Container) -> FastAPI:
    return create_app(container=container)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        yield http


def a_conversation(container: Container) -> str:
    history = container.adapters.history
    user = container.settings.auth.default_user_id
    history.ensure_user(user)
    chat = history.get_or_create_chat(None, user, "Plan the lab move")
    history.append_message(chat.id, NewMessage("user", "Plan the lab move. We need to pack."))
    return chat.id


def events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


async def test_a_project_is_created_from_the_draft_and_locks_the_conversation(
    client: httpx.AsyncClient, container: Container, tracker: FakeProjectTracker
) -> None:
    chat_id = a_conversation(container)
    turn = await client.post(
        f"{API}/{chat_id}/project-draft/chat/stream", json={"message": "set the title to Move"}
    )
    assert events(turn.text)[-1]["type"] == "done", turn.text

    created = await client.post(f"{API}/{chat_id}/project")
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["linear_project_id"] == f"proj-{len(tracker.created)}"
    assert project["linear_url"].startswith("https://tracker.test/")
    assert project["title"] == "Move" and project["conversation_id"] == chat_id
    assert (await client.get(f"{API}/{chat_id}/project")).json() == project
    assert (await client.get(f"{API}/{chat_id}")).json()["is_locked"] is True

    locked = await client.post(
        f"{API}/{chat_id}/project-draft/chat/stream", json={"message": "add a goal: tea"}
    )
    assert locked.status_code == 200
    sent = events(locked.text)
    assert [e["type"] for e in sent] == ["status", "conversation_locked", "error"]
    assert sent[-1]["code"] == "conversation_locked"
    history = (await client.get(f"{API}/{chat_id}/project-draft/chat")).json()["messages"]
    assert len(history) == 2  # the locked turn stored nothing

    edit = await client.patch(f"{API}/{chat_id}/project-draft", json={"title": "Other"})
    assert edit.status_code == 409 and edit.json()["code"] == "conversation_locked"
    again = await client.post(f"{API}/{chat_id}/project")
    assert again.status_code == 409 and again.json()["code"] == "conversation_locked"


async def test_a_conversation_without_a_project_is_unlocked_and_its_project_not_found(
    client: httpx.AsyncClient, container: Container
) -> None:
    chat_id = a_conversation(container)
    assert (await client.get(f"{API}/{chat_id}")).json()["is_locked"] is False
    missing = await client.get(f"{API}/{chat_id}/project")
    assert missing.status_code == 404
    no_draft = await client.post(f"{API}/{chat_id}/project")
    assert no_draft.status_code == 404 and "no project draft" in no_draft.json()["detail"]
