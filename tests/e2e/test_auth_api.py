"""Authentication and authorisation over HTTP: keys, isolation of chats, acting for a user,
the audit log, and development mode (AUTH_ENABLED=false)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from loguru import logger
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, asgi_client, issue_key, make_settings
from use_cases.access.domain import CLI_ADMIN, Caller

QUESTION = "What is the minimum password length required by the current password policy?"


def _note(name: str, text: str) -> dict[str, tuple[str, bytes]]:
    return {"file": (name, f"# {name}\n\n{text}\n".encode())}


async def test_a_key_works_in_either_header_and_names_the_caller(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    bearer = await issue_key(auth_container, "ana")
    secret = bearer["Authorization"].removeprefix("Bearer ")
    first = await auth_client.post("/chat", json={"message": QUESTION}, headers=bearer)
    second = await auth_client.post(
        "/chat", json={"message": QUESTION}, headers={"X-API-Key": secret}
    )
    assert first.status_code == second.status_code == 200
    ana = [chat.id for chat in auth_container.adapters.history.list_chats("ana")]
    assert sorted(ana) == sorted([first.json()["chat_id"], second.json()["chat_id"]])


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, "Missing API key"),
        ({"Authorization": "Basic YW5hOnNlY3JldA=="}, "Missing API key"),
        ({"Authorization": "Bearer alm_made-up"}, "Invalid API key"),
        ({"X-API-Key": "alm_made-up"}, "Invalid API key"),
    ],
)
async def test_no_key_or_an_unknown_key_gets_401_with_a_bearer_challenge(
    auth_client: httpx.AsyncClient, headers: dict[str, str], fragment: str
) -> None:
    for method, path in (("GET", "/chats"), ("POST", "/chat/stream")):
        response = await auth_client.request(
            method, path, headers=headers, json={"message": QUESTION}
        )
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unauthorized"
        assert response.json()["title"] == "Not authenticated"
        assert fragment in response.json()["detail"]


async def test_a_revoked_key_gets_401_at_once(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    ana = await issue_key(auth_container, "ana")
    assert (await auth_client.get("/chats", headers=ana)).status_code == 200
    [key] = await auth_container.access.list_keys.execute(CLI_ADMIN)
    await auth_container.access.revoke_key.execute(CLI_ADMIN, key.id)
    response = await auth_client.get("/chats", headers=ana)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_someone_elses_chat_answers_exactly_like_a_missing_one(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    ana, bob = await issue_key(auth_container, "ana"), await issue_key(auth_container, "bob")
    chat_id = (await auth_client.post("/chat", json={"message": QUESTION}, headers=ana)).json()[
        "chat_id"
    ]
    missing = "0" * 32
    calls = [
        ("GET", "/chats/{}/messages", None),
        ("PATCH", "/chats/{}", {"title": "Mine now"}),
        ("DELETE", "/chats/{}", None),
        ("POST", "/chat", {"message": "Tell me more", "chat_id": "{}"}),
        ("POST", "/chat/stream", {"message": "Tell me more", "chat_id": "{}"}),
    ]
    for method, path, body in calls:

        async def call(target: str, method: str = method, path: str = path, body=body):
            json = None if body is None else {k: v.format(target) for k, v in body.items()}
            return await auth_client.request(method, path.format(target), json=json, headers=bob)

        theirs, absent = await call(chat_id), await call(missing)
        assert theirs.status_code == absent.status_code == 404, (method, path)
        assert theirs.json() == json.loads(absent.text.replace(missing, chat_id))
        assert theirs.headers["content-type"] == absent.headers["content-type"]
    use_chat = {
        "trigger": "submit-message",
        "id": chat_id,
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}],
    }
    assert (await auth_client.post("/api/chat", json=use_chat, headers=bob)).status_code == 404

    messages = auth_container.adapters.history.list_messages(chat_id)
    assert [m.role for m in messages] == ["user", "assistant"]  # nothing added or changed
    chat = auth_container.adapters.history.get_chat(chat_id)
    assert chat is not None and chat.title == QUESTION
    assert auth_container.adapters.history.list_chats("bob") == []  # and nothing created for bob
    assert auth_container.adapters.history.get_chat(missing) is None


async def test_a_user_naming_another_user_is_forbidden_and_nothing_is_stored(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    bob = await issue_key(auth_container, "bob")
    response = await auth_client.post(
        "/chat", json={"message": QUESTION, "user_id": "ana"}, headers=bob
    )
    assert response.status_code == 403
    assert "only an admin may act for another user" in response.json()["detail"]
    own = await auth_client.post("/chat", json={"message": QUESTION, "user_id": "bob"}, headers=bob)
    assert own.status_code == 200  # naming yourself is fine
    assert auth_container.adapters.history.list_chats("ana") == []
    page = await auth_container.access.list_audit.execute(CLI_ADMIN, action="user")
    assert page.total == 0


async def test_an_admin_acting_for_a_user_is_audited(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    root = await issue_key(auth_container, "root", role="admin")
    response = await auth_client.post(
        "/chat", json={"message": QUESTION, "user_id": "ana"}, headers=root
    )
    assert response.status_code == 200
    assert [c.id for c in auth_container.adapters.history.list_chats("ana")] == [
        response.json()["chat_id"]
    ]
    [entry] = (
        await auth_container.access.list_audit.execute(CLI_ADMIN, action="user.act_for")
    ).entries
    [key] = [
        k for k in await auth_container.access.list_keys.execute(CLI_ADMIN) if k.user_id == "root"
    ]
    assert (entry.actor_user_id, entry.actor_key_id, entry.target) == ("root", key.id, "user:ana")
    assert entry.after == {"via": "POST /chat"}


async def test_document_changes_are_audited_with_before_and_after(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    root = await issue_key(auth_container, "root", role="admin")
    added = await auth_client.post(
        "/api/documents", files=_note("kettle.md", "The kettle is in room 4."), headers=root
    )
    document_id = added.json()["document"]["id"]
    refused = await auth_client.post(
        "/api/documents", files=_note("kettle.md", "The kettle moved to room 9."), headers=root
    )
    put = await auth_client.put(
        f"/api/documents/{document_id}",
        files=_note("kettle.md", "The kettle moved to room 9."),
        headers=root,
    )
    unchanged = await auth_client.post(
        "/api/documents", files=_note("kettle.md", "The kettle moved to room 9."), headers=root
    )
    replaced = await auth_client.post(
        "/api/documents",
        files=_note("kettle.md", "The kettle moved to room 11."),
        data={"replace": str(document_id)},
        headers=root,
    )
    statuses = [r.status_code for r in (added, refused, put, unchanged, replaced)]
    assert statuses == [201, 409, 200, 200, 200]
    assert refused.json()["code"] == "document_exists"
    assert [r.json()["status"] for r in (put, unchanged, replaced)] == [
        "updated",
        "unchanged",
        "updated",
    ]
    deleted = await auth_client.delete(f"/api/documents/{document_id}", headers=root)
    assert deleted.status_code == 204

    response = await auth_client.get("/api/audit", params={"action": "document"}, headers=root)
    assert response.status_code == 200
    body = response.json()
    # Newest first; the refused and the unchanged upload changed nothing.
    delete, replace, put_entry, ingest = body["entries"]
    assert body["total"] == 4
    assert [e["action"] for e in (ingest, put_entry, replace, delete)] == [
        "document.ingest",
        "document.replace",
        "document.replace",
        "document.delete",
    ]
    assert {e["target"] for e in body["entries"]} == {f"document:{document_id}"}
    assert all(e["actor_user_id"] == "root" and e["actor_key_id"] for e in body["entries"])
    assert ingest["before"] is None and ingest["after"]["source"] == "kettle.md"
    assert put_entry["before"]["content_hash"] == ingest["after"]["content_hash"]
    assert put_entry["after"]["content_hash"] != put_entry["before"]["content_hash"]
    assert replace["before"]["content_hash"] == put_entry["after"]["content_hash"]
    assert replace["after"]["content_hash"] != replace["before"]["content_hash"]
    assert {put_entry["after"]["source"], replace["after"]["source"]} == {"kettle.md"}
    assert delete["before"]["content_hash"] == replace["after"]["content_hash"]
    assert delete["after"] is None


async def test_a_background_upload_is_audited_as_its_admin_and_shown_to_admins_only(
    data_dir: Path,
) -> None:
    container = bootstrap(
        make_settings(data_dir, auth_enabled=True, upload_job_bytes=200), clock=FixedClock()
    )
    try:
        root = await issue_key(container, "root", role="admin")
        ops = await issue_key(container, "ops", role="admin")
        ana = await issue_key(container, "ana")
        text = "The long note says the kettle is in room 4. " * 20
        async with asgi_client(container) as client:
            response = await client.post(
                "/api/documents", files=_note("long-note.md", text), headers=root
            )
            assert response.status_code == 202, response.text
            location = response.headers["location"]
            assert response.json()["created_by"] == "root"
            job = response.json()
            for _ in range(600):
                job = (await client.get(location, headers=root)).json()
                if job["status"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.05)
            assert job["status"] == "done", job
            by_other_admin = await client.get(location, headers=ops)
            by_user = await client.get(location, headers=ana)
            by_nobody = await client.get(location)
        assert by_other_admin.status_code == 200
        assert (by_user.status_code, by_user.json()["code"]) == (404, "not_found")
        assert by_nobody.status_code == 401

        [entry] = (await container.access.list_audit.execute(CLI_ADMIN, action="document")).entries
        [key] = [
            k for k in await container.access.list_keys.execute(CLI_ADMIN) if k.user_id == "root"
        ]
        document_id = job["result"]["document"]["id"]
        assert (entry.action, entry.target) == ("document.ingest", f"document:{document_id}")
        assert (entry.actor_user_id, entry.actor_key_id) == ("root", key.id)
        assert entry.before is None and entry.after["source"] == "long-note.md"
    finally:
        container.close()


async def test_refused_admin_calls_change_nothing_and_are_not_audited(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    ana = await issue_key(auth_container, "ana")
    before = (await auth_container.knowledge.list_documents.execute()).total
    upload = await auth_client.post("/api/documents", files=_note("x.md", "No."), headers=ana)
    delete = await auth_client.delete("/api/documents/1", headers=ana)
    assert upload.status_code == delete.status_code == 403
    assert (await auth_container.knowledge.list_documents.execute()).total == before
    assert (await auth_container.knowledge.get_document.execute(1)).document.id == 1
    page = await auth_container.access.list_audit.execute(CLI_ADMIN, action="document")
    assert page.total == 0


async def test_the_audit_endpoint_pages_and_refuses_bad_filters(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    root = await issue_key(auth_container, "root", role="admin")
    for user in ("ana", "bob", "cy"):
        await issue_key(auth_container, user)
    page = (await auth_client.get("/api/audit?limit=2&offset=1", headers=root)).json()
    assert page["total"] == 4 and page["limit"] == 2 and page["offset"] == 1
    assert [e["after"]["user_id"] for e in page["entries"]] == ["bob", "ana"]
    assert all(e["actor_user_id"] == "cli" and e["actor_key_id"] is None for e in page["entries"])
    for query in ("action=drop+table", "limit=0", "limit=501", "offset=-1"):
        response = await auth_client.get(f"/api/audit?{query}", headers=root)
        assert response.status_code == 422, query


async def test_without_authentication_every_request_is_the_local_admin(
    client: httpx.AsyncClient, container: Container
) -> None:
    chat = await client.post("/chat", json={"message": QUESTION})
    upload = await client.post("/api/documents", files=_note("dev.md", "Local notes."))
    keyed = await client.get("/chats", headers={"Authorization": "Bearer alm_ignored"})
    assert (chat.status_code, upload.status_code, keyed.status_code) == (200, 201, 200)
    assert [c.id for c in container.adapters.history.list_chats("default")] == [
        chat.json()["chat_id"]
    ]
    audit = (await client.get("/api/audit")).json()
    assert [(e["action"], e["actor_user_id"], e["actor_key_id"]) for e in audit["entries"]] == [
        ("document.ingest", "default", None)
    ]
    header = await client.get("/chats", headers={"X-User-Id": "ana"})
    assert [c["id"] for c in header.json()] == [chat.json()["chat_id"]]  # a header picks no one
    # `user_id` acts for ana, on reads as on writes (see test_acting_for_users.py).
    assert (await client.get("/chats", params={"user_id": "ana"})).json() == []


class _RecordCaller:
    """A stand-in for middleware that reads the caller (e.g. a per-key rate limiter)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[Caller | None] = []
        _RecordCaller.last = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.seen.append(scope.get("state", {}).get("caller"))

    last: _RecordCaller


async def test_the_caller_is_left_on_the_request_state_for_middleware(
    auth_container: Container,
) -> None:
    ana = await issue_key(auth_container, "ana")
    app = create_app(container=auth_container)
    app.add_middleware(_RecordCaller)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        assert (await http.get("/chats", headers=ana)).status_code == 200
        assert (await http.get("/health")).status_code == 200
    [key] = await auth_container.access.list_keys.execute(CLI_ADMIN)
    assert _RecordCaller.last.seen == [Caller("ana", "user", key.id), None]


async def test_openapi_declares_the_key_schemes_and_leaves_health_public(
    auth_client: httpx.AsyncClient,
) -> None:
    spec = (await auth_client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["Bearer"]["scheme"] == "bearer"
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "in": "header", "name": "X-API-Key"}
    assert "security" not in spec["paths"]["/health"]["get"]
    assert spec["paths"]["/chats"]["get"]["security"]
    assert "401" in spec["paths"]["/api/search"]["get"]["responses"]
    assert "403" in spec["paths"]["/api/audit"]["get"]["responses"]
    assert "401" not in spec["paths"]["/health"]["get"]["responses"]


async def test_starting_with_authentication_and_no_key_says_how_to_create_one(
    data_dir: Path,
) -> None:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="INFO")
    app = create_app(make_settings(data_dir, auth_enabled=True))
    try:
        async with app.router.lifespan_context(app):
            pass
    finally:
        logger.remove(sink)
    [notice] = [line for line in lines if "no API key exists yet" in line]
    assert "almanac keys create --user YOUR_ID --role admin" in notice
