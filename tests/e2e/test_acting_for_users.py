"""Acting for another user: a request's `user_id` is honoured on reads as on writes.

Development mode (no keys; every request is the local admin): a chat written for `alice` is
listed, read, renamed and deleted with `?user_id=alice`, and stays out of the default user's
list; its messages are read as hers without `user_id` too (audited as acting for her). With
keys, the same is an admin capability, audited on reads as on writes; a user may name only
themselves."""

from __future__ import annotations

import httpx
import pytest

from backend.bootstrap import Container
from tests.conftest import asgi_client, issue_key

QUESTION = "How often must passwords be rotated?"


async def _acted_for(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    audit = await client.get(
        "/api/audit", params={"action": "user.act_for", "limit": 100}, headers=headers
    )
    assert audit.status_code == 200, audit.text
    return [entry["after"]["via"] for entry in audit.json()["entries"]]


async def _a_chat_for_alice_round_trip(
    client: httpx.AsyncClient, headers: dict[str, str], *, development: bool
) -> str:
    """Write a chat for alice, then read, rename and delete it as alice; the chat id. In
    development mode her chat's messages are read as hers without naming her too (document
    004's client reads them so); with keys, only by naming her."""
    written = await client.post(
        "/chat", json={"message": QUESTION, "user_id": "alice"}, headers=headers
    )
    assert written.status_code == 200, written.text
    chat_id = written.json()["chat_id"]
    alice = {"user_id": "alice"}

    listed = await client.get("/chats", params=alice, headers=headers)
    assert listed.status_code == 200
    assert [chat["id"] for chat in listed.json()] == [chat_id]
    read = await client.get(f"/chats/{chat_id}/messages", params=alice, headers=headers)
    assert read.status_code == 200, read.text
    assert [m["role"] for m in read.json()["messages"]] == ["user", "assistant"]

    # The caller's own view does not show alice's chat.
    own = await client.get("/chats", headers=headers)
    assert chat_id not in [chat["id"] for chat in own.json()]
    unnamed = await client.get(f"/chats/{chat_id}/messages", headers=headers)
    if development:
        assert unnamed.status_code == 200, unnamed.text
        assert unnamed.json()["messages"] == read.json()["messages"]
    else:
        assert unnamed.status_code == 404

    # A follow-up in the same chat, as alice, continues it.
    followed = await client.post(
        "/chat",
        json={"message": "And for service accounts?", "chat_id": chat_id, "user_id": "alice"},
        headers=headers,
    )
    assert followed.status_code == 200, followed.text

    renamed = await client.patch(
        f"/chats/{chat_id}", params=alice, json={"title": "Rotation"}, headers=headers
    )
    assert renamed.status_code == 200 and renamed.json()["title"] == "Rotation"
    deleted = await client.delete(f"/chats/{chat_id}", params=alice, headers=headers)
    assert deleted.status_code == 204
    assert (await client.get("/chats", params=alice, headers=headers)).json() == []
    return chat_id


async def test_development_mode_honours_user_id_on_reads_as_on_writes(
    client: httpx.AsyncClient,
) -> None:
    await _a_chat_for_alice_round_trip(client, {}, development=True)
    assert sorted(set(await _acted_for(client, {}))) == [
        "DELETE /chats/{chat_id}",
        "GET /chats",
        "GET /chats/{chat_id}/messages",
        "PATCH /chats/{chat_id}",
        "POST /chat",
    ]


async def test_with_keys_an_admin_acts_for_a_user_on_reads_as_on_writes_audited(
    auth_container: Container,
) -> None:
    root = await issue_key(auth_container, "root", "admin")
    async with asgi_client(auth_container) as client:
        await _a_chat_for_alice_round_trip(client, root, development=False)
        vias = await _acted_for(client, root)
    assert "GET /chats" in vias and "GET /chats/{chat_id}/messages" in vias
    assert "POST /chat" in vias


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/chats"),
        ("GET", "/chats/{chat_id}/messages"),
        ("PATCH", "/chats/{chat_id}"),
        ("DELETE", "/chats/{chat_id}"),
    ],
)
async def test_with_keys_a_user_may_name_only_themselves(
    auth_container: Container, method: str, path: str
) -> None:
    alice = await issue_key(auth_container, "alice")
    async with asgi_client(auth_container) as client:
        written = await client.post("/chat", json={"message": QUESTION}, headers=alice)
        chat_id = written.json()["chat_id"]
        url = path.format(chat_id=chat_id)
        body = {"title": "Mine"} if method == "PATCH" else None

        as_bob = await client.request(
            method, url, params={"user_id": "bob"}, json=body, headers=alice
        )
        as_herself = await client.request(
            method, url, params={"user_id": "alice"}, json=body, headers=alice
        )
    assert as_bob.status_code == 403
    assert as_bob.json()["code"] == "forbidden"
    assert as_herself.status_code in (200, 204)
