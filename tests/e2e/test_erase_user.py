"""An admin deletes all of one user's data through the API, on SQLite and PostgreSQL: their
chats (with attached files and their bytes), advice threads, responses and feedback, and
profile go; their keys are revoked and their sign-ins end; other users' data and the audit
log stay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from use_cases.access.domain import CLI_ADMIN

NOTE = b"# Rooftop Beehives\n\nThe rooftop beehives are inspected every Thursday morning.\n"


@pytest.fixture(params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Container, httpx.AsyncClient, dict[str, dict[str, str]]]]:
    extra = {"database_url": request.getfixturevalue("pg_url")} if request.param != "sqlite" else {}
    settings = make_settings(tmp_path / "data", load_sample_data=False, auth_enabled=True, **extra)
    container = bootstrap(settings, clock=FixedClock())
    headers = {}
    for user, role in (("ana", "user"), ("bob", "user"), ("root", "admin")):
        created = await container.access.create_key.execute(CLI_ADMIN, user_id=user, role=role)
        headers[user] = {"Authorization": f"Bearer {created.secret}"}
    transport = httpx.ASGITransport(app=create_app(container=container))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield container, client, headers
    finally:
        container.close()


async def _leave_traces(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A chat with a file and feedback, and an advice thread; the chat's id."""
    chat = (await client.post("/chat", json={"message": "Hello?"}, headers=headers)).json()
    attached = await client.post(
        f"/api/conversations/{chat['chat_id']}/files",
        files={"file": ("bees.md", NOTE, "text/markdown")},
        headers=headers,
    )
    assert attached.status_code == 201, attached.text
    rated = await client.post(
        "/feedback", json={"response_id": chat["response_id"], "outcome": True}, headers=headers
    )
    assert rated.status_code == 200, rated.text
    advice = await client.post(
        "/advice-non-streaming",
        json={
            "conversation": [{"role": "user", "content": "Should we inspect on Thursday?"}],
            "thread_id": f"bees-{chat['chat_id'][:8]}",
        },
        headers=headers,
    )
    assert advice.status_code == 200, advice.text
    return chat["chat_id"]


async def test_an_admin_deletes_all_of_one_users_data_and_nothing_of_anyone_elses(world) -> None:
    container, client, keys = world
    anas_chat = await _leave_traces(client, keys["ana"])
    bobs_chat = await _leave_traces(client, keys["bob"])
    files_dir = container.settings.chat_files_path

    assert (await client.delete("/api/users/ana", headers=keys["bob"])).status_code == 403
    erased = await client.delete("/api/users/ana", headers=keys["root"])
    assert erased.status_code == 200, erased.text
    assert erased.json() == {
        "user_id": "ana",
        "chats": 1,
        "advice_threads": 1,
        "responses": 2,  # the chat's answer and the advice
        "keys_revoked": 1,
    }

    assert (await client.get("/api/me", headers=keys["ana"])).status_code == 401  # key revoked
    for_ana = {"user_id": "ana"}
    assert (await client.get("/chats", params=for_ana, headers=keys["root"])).json() == []
    assert not (files_dir / anas_chat).exists()
    assert container.adapters.advice_thread_store.list_threads("ana") == []
    assert [r.user_id for r in container.adapters.response_log.for_chat(anas_chat)] == []

    # Bob's data is all there.
    assert [c["id"] for c in (await client.get("/chats", headers=keys["bob"])).json()] == [
        bobs_chat
    ]
    assert (files_dir / bobs_chat).exists()
    assert len(container.adapters.advice_thread_store.list_threads("bob")) == 1
    assert len(container.adapters.response_log.for_chat(bobs_chat)) == 1

    audit = (
        await client.get("/api/audit", params={"action": "user.erase"}, headers=keys["root"])
    ).json()
    entry = audit["entries"][0]
    assert (entry["action"], entry["target"], entry["actor_user_id"]) == (
        "user.erase",
        "user:ana",
        "root",
    )
    again = await client.delete("/api/users/ana", headers=keys["root"])
    assert again.status_code == 404
    own = await client.delete("/api/users/root", headers=keys["root"])
    assert own.status_code == 409 and "their own data" in own.json()["detail"]
