"""Project drafts through the real ASGI app and the offline default model: a conversation
becomes a draft, goes through three versions and back, is exported; bad input gets a problem
and writes nothing; another user's conversation is a missing one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.postgres import fresh_database
from use_cases.chat.domain import MessageRole, NewMessage
from use_cases.shared.errors import NotFound

CONVERSATION: tuple[tuple[MessageRole, str], ...] = (
    ("user", "Help me plan a community newsletter. We want to reach 500 subscribers in the "
     "first year. I also need to find a local sponsor."),
    ("assistant", "Here is a plan:\n1. Set up the mailing list by 2027-01-15\n"
     "2. Publish the first issue on March 1, 2027\n3. Review the numbers after three issues"),
    ("user", "Who should write the editorials? We're not sure whether to charge for it."),
)  # fmt: skip


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    # Drafts read conversations only: an empty knowledge base will do (no sample to copy).
    data_dir = tmp_path_factory.mktemp("drafts") / "data"
    built = bootstrap(make_settings(data_dir), clock=FixedClock())
    yield built
    built.close()


@pytest.fixture(scope="module")
def app(container: Container) -> FastAPI:
    return create_app(container=container)  # once: building an app is most of a test's time


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        yield http


def conversation(container: Container, user: str) -> tuple[str, list[str]]:
    """A chat of `user` holding CONVERSATION; its id and its messages' ids."""
    history = container.adapters.history
    history.ensure_user(user)
    chat = history.get_or_create_chat(None, user, CONVERSATION[0][1])
    ids = [
        history.append_message(chat.id, NewMessage(role, text)).id for role, text in CONVERSATION
    ]
    return chat.id, ids


@pytest.fixture(scope="module")
def pg_app(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The same service with every store on PostgreSQL."""
    with fresh_database(pg_server_url) as url:
        data_dir = tmp_path_factory.mktemp("drafts-pg") / "data"
        built = bootstrap(make_settings(data_dir, database_url=url), clock=FixedClock())
        try:
            yield create_app(container=built)
        finally:
            built.close()


async def test_a_conversation_becomes_a_draft_that_goes_through_three_versions_and_back(
    container: Container, client: httpx.AsyncClient
) -> None:
    await three_versions_and_back(container, client)


async def test_on_postgresql_too(pg_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=pg_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        await three_versions_and_back(pg_app.state.container, http)


async def three_versions_and_back(container: Container, client: httpx.AsyncClient) -> None:
    chat_id, ids = conversation(container, container.settings.auth.default_user_id)
    base = f"/api/conversations/{chat_id}/project-draft"

    created = await client.post(base)
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["active_version"] == first["latest_version"] == 1
    v1 = first["version"]
    assert (v1["author"], v1["model"]) == ("model", "offline-extractive")
    draft = v1["draft"]
    assert draft["title"] == "Plan a community newsletter"
    assert draft["goals"] == ["Reach 500 subscribers in the first year", "Find a local sponsor"]
    assert [(m["title"], m["due"]) for m in draft["milestones"]] == [
        ("Set up the mailing list", "2027-01-15"),
        ("Publish the first issue", "2027-03-01"),
        ("Review the numbers after three issues", None),
    ]
    assert draft["open_questions"] == [
        "Who should write the editorials?",
        "We're not sure whether to charge for it",
    ]
    assert [s["message_id"] for s in draft["sources"]] == ids

    turn = await client.post(
        f"{base}/turns", json={"message": "add a milestone: beta by 2027-03-01"}
    )
    assert turn.status_code == 200, turn.text
    assert turn.json()["versions_added"] == [2]
    assert "beta" in turn.json()["reply"].lower()
    milestones = turn.json()["project_draft"]["version"]["draft"]["milestones"]
    assert milestones[-1] == {"title": "Beta", "due": "2027-03-01", "description": None}

    edited = await client.patch(base, json={"title": "Town Letter", "note": "Named it."})
    assert edited.status_code == 200, edited.text
    v3 = edited.json()["version"]
    assert (v3["number"], v3["author"], v3["model"], v3["note"]) == (3, "user", None, "Named it.")
    assert v3["draft"]["title"] == "Town Letter"
    assert v3["draft"]["milestones"] == milestones  # what the edit did not name stays

    page = (await client.get(f"{base}/versions", params={"limit": 2})).json()
    assert (page["total"], page["active_version"]) == (3, 3)
    assert [v["number"] for v in page["versions"]] == [3, 2]

    back = await client.post(f"{base}/versions/1/activate")
    assert back.status_code == 200, back.text
    assert (back.json()["active_version"], back.json()["latest_version"]) == (1, 3)
    active = (await client.get(base)).json()["version"]
    assert active["number"] == 1 and active["draft"] == draft
    assert (await client.get(f"{base}/versions/3")).json()["draft"]["title"] == "Town Letter"
    moves = (await client.get(f"{base}/versions")).json()["activations"]
    assert [(m["version"], m["previous"]) for m in moves] == [(1, 3)]

    # A change made now builds on version 1, the active one, as version 4.
    again = await client.post(f"{base}/turns", json={"message": "remove milestone 3"})
    assert again.json()["versions_added"] == [4]
    assert len(again.json()["project_draft"]["version"]["draft"]["milestones"]) == 2


async def test_the_draft_exports_as_markdown_and_json(
    container: Container, client: httpx.AsyncClient
) -> None:
    chat_id, _ = conversation(container, container.settings.auth.default_user_id)
    base = f"/api/conversations/{chat_id}/project-draft"
    await client.post(base)

    markdown = await client.get(f"{base}/export")
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.headers["content-disposition"].startswith("attachment; filename=")
    assert ".md" in markdown.headers["content-disposition"]
    text = markdown.text
    assert text.startswith("# Plan a community newsletter\n")
    for heading in ("## Goals", "## Milestones", "## Open questions", "## Sources"):
        assert f"\n{heading}\n" in text
    assert "1. Set up the mailing list (due 2027-01-15)" in text
    assert "- Find a local sponsor" in text

    exported = await client.get(f"{base}/export", params={"format": "json", "version": 1})
    assert exported.headers["content-type"].startswith("application/json")
    body = exported.json()
    assert body["version"] == 1 and body["draft"]["title"] == "Plan a community newsletter"


async def test_a_turn_applies_each_instruction_as_its_own_version_and_refuses_what_it_cannot(
    container: Container, client: httpx.AsyncClient
) -> None:
    chat_id, _ = conversation(container, container.settings.auth.default_user_id)
    base = f"/api/conversations/{chat_id}/project-draft"
    await client.post(base)
    message = (
        "rename the project to Town Letter\nadd a goal: print 200 copies; "
        "add an open question: Which platform?; remove goal 1; set the description to A "
        "monthly letter."
    )
    turn = (await client.post(f"{base}/turns", json={"message": message})).json()
    assert turn["versions_added"] == [2, 3, 4, 5, 6]
    draft = turn["project_draft"]["version"]["draft"]
    assert draft["title"] == "Town Letter"
    assert draft["description"] == "A monthly letter"
    assert draft["goals"] == ["Find a local sponsor", "Print 200 copies"]
    assert draft["open_questions"][-1] == "Which platform?"
    notes = [v["note"] for v in (await client.get(f"{base}/versions")).json()["versions"]]
    assert notes[:2] == ["Set the description.", "Removed goal 1."]

    refused = (await client.post(f"{base}/turns", json={"message": "remove milestone 9"})).json()
    assert refused["versions_added"] == []
    assert "no milestone 9" in refused["reply"]
    assert refused["project_draft"]["latest_version"] == 6

    unknown = (await client.post(f"{base}/turns", json={"message": "what's up?"})).json()
    assert unknown["versions_added"] == [] and "add a goal" in unknown["reply"]


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"),
    [
        ("PATCH", "", {"milestones": [{"title": "x", "due": "2027-02-30"}]}, 422),
        ("PATCH", "", {"goals": [""]}, 422),
        ("PATCH", "", {"sources": [{"quote": "no origin"}]}, 422),
        ("PATCH", "", {"colour": "red"}, 422),
        ("PATCH", "", {}, 422),
        ("POST", "/turns", {"message": "   "}, 422),
        ("POST", "/turns", {"message": "x" * 8001}, 422),
        ("POST", "", {"model": "nope:missing"}, 422),
        ("GET", "/versions/99", None, 404),
        ("POST", "/versions/99/activate", None, 404),
        ("GET", "/export?format=pdf", None, 422),
    ],
)
async def test_bad_input_gets_a_problem_and_writes_nothing(
    method: str,
    suffix: str,
    body: dict[str, object] | None,
    status: int,
    container: Container,
    client: httpx.AsyncClient,
) -> None:
    chat_id, _ = conversation(container, container.settings.auth.default_user_id)
    base = f"/api/conversations/{chat_id}/project-draft"
    await client.post(base)
    response = await client.request(method, base + suffix, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    state = (await client.get(base)).json()
    assert (state["active_version"], state["latest_version"]) == (1, 1)


async def test_a_conversation_without_a_draft_or_messages_says_so(
    container: Container, client: httpx.AsyncClient
) -> None:
    history = container.adapters.history
    chat = history.get_or_create_chat(None, container.settings.auth.default_user_id, "Empty")
    base = f"/api/conversations/{chat.id}/project-draft"
    missing = await client.get(base)
    assert missing.status_code == 404 and "no project draft yet" in missing.json()["detail"]
    assert (
        await client.post(f"{base}/turns", json={"message": "add a goal: x"})
    ).status_code == 404
    empty = await client.post(base)
    assert empty.status_code == 422 and "no messages" in empty.json()["detail"]
    assert (await client.get("/api/conversations/no-such-chat/project-draft")).status_code == 404


async def test_another_users_conversation_is_a_missing_one(
    container: Container, client: httpx.AsyncClient
) -> None:
    chat_id, _ = conversation(container, "ana")
    with pytest.raises(NotFound, match="No chat"):
        await container.conversation_drafts.draft_versions.active("bob", chat_id)
    response = await client.post(f"/api/conversations/{chat_id}/project-draft")
    assert response.status_code == 404  # the local admin is not ana
    assert container.adapters.project_draft_store.get_draft(chat_id) is None
