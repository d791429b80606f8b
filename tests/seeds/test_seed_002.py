"""Seed 002, the conversation backend: its client, unchanged.

Written from the document alone (`../shared/seeds/002_*.txt`, "API Routes & Endpoints", the
tables whose columns a client reads, "Authentication" and "Streaming & Real-time"): every
endpoint it lists, called as it shows it (paths under `/api`, a `/` endpoint with its
trailing slash), reading the fields it shows. The client is a service with an API key
(`X-API-Key`), as the document's service authentication; Google sign-in is not configured.
Where Almanac differs on purpose, docs/seeds.md says so and why.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from backend.bootstrap import Container
from tests.conftest import issue_key
from tests.image_samples import image_bytes
from tests.share_pages import FIXTURES, share_page_server

API = "/api/conversations"
NOTES = b"# Rota\n\nThe on-call rota changes every Monday at 09:00.\n"


@pytest.fixture(scope="module")
def share_pages() -> Iterator[str]:
    """Where the conversations a client imports are shared (a local server of share pages)."""
    with share_page_server() as url:
        yield url


@pytest.fixture(scope="module")
def seed_deployment(share_pages: str) -> dict[str, object]:
    """The document's deployment: API keys checked; imports allowed from the share host. Its
    client names no model: the default is the offline model (which drafts), not the
    `gpt-4.1-mini` stand-in the other documents' clients name (which only answers)."""
    return {
        "openai_default_model": None,
        "auth_enabled": True,
        "import_allowed_hosts": f"chatgpt.com,{share_pages.removeprefix('http://')}",
        "import_allow_http": True,
        "import_allow_private_hosts": True,
    }


@pytest.fixture(scope="module")
def keys(seed_container: Container) -> dict[str, dict[str, str]]:
    """The service's key and an admin's, sent as the document's `X-API-Key` header."""

    async def make() -> dict[str, dict[str, str]]:
        service = await issue_key(seed_container, "service-002")
        admin = await issue_key(seed_container, "admin-002", role="admin")
        return {
            name: {"X-API-Key": headers["Authorization"].removeprefix("Bearer ")}
            for name, headers in (("service", service), ("admin", admin))
        }

    return asyncio.run(make())


async def imported(client: httpx.AsyncClient, pages: str, key: dict[str, str]) -> str:
    """A conversation imported from a share link; its id."""
    response = await client.post(
        f"{API}/import", json={"url": f"{pages}/grok-share.html"}, headers=key
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["chat"]["id"])


def events(stream_text: str) -> list[dict[str, Any]]:
    """The SSE body's events: each `data:` line is one JSON object with its `type`."""
    return [
        json.loads(line.removeprefix("data:").strip())
        for line in stream_text.splitlines()
        if line.startswith("data:")
    ]


def check_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


# --- public endpoints and authentication ----------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/health", "/docs", "/openapi.json", "/redoc"])
async def test_the_public_endpoints_need_no_key(seed_client: httpx.AsyncClient, path: str) -> None:
    response = await seed_client.get(path)
    assert response.status_code == 200, response.text


async def test_auth_status_is_public_and_says_who_is_signed_in(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    anonymous = await seed_client.get("/api/auth/status")
    assert anonymous.status_code == 200
    assert anonymous.json()["authenticated"] is False and anonymous.json()["user"] is None

    signed_in = await seed_client.get("/api/auth/status", headers=keys["service"])
    assert signed_in.status_code == 200
    assert signed_in.json()["authenticated"] is True
    assert signed_in.json()["user"]["id"] == "service-002"


async def test_auth_me_is_the_current_user(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    me = await seed_client.get("/api/auth/me", headers=keys["service"])
    assert me.status_code == 200
    user = me.json()
    assert user["id"] == "service-002" and user["name"] and user["is_active"] is True
    check_problem(await seed_client.get("/api/auth/me"), 401, "unauthorized")


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/callback"])
async def test_google_sign_in_says_it_is_not_configured(
    seed_client: httpx.AsyncClient, path: str
) -> None:
    response = await seed_client.get(path, params={"code": "c", "state": "s"})
    check_problem(response, 501, "not_configured")


async def test_logout_ends_the_session_and_clears_its_cookie(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    key = keys["service"]["X-API-Key"]
    assert (await seed_client.post("/api/session", json={"key": key})).status_code == 200
    assert (await seed_client.get("/api/auth/status")).json()["authenticated"] is True

    origin = {"Origin": str(seed_client.base_url)}  # the web app's own page signs out
    response = await seed_client.post("/api/auth/logout", headers=origin)
    assert response.status_code == 200, response.text
    assert response.json()["signed_out"] is True
    assert (await seed_client.get("/api/auth/status")).json()["authenticated"] is False


async def test_cleanup_is_for_admins(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    refused = await seed_client.delete("/api/auth/cleanup", headers=keys["service"])
    check_problem(refused, 403, "forbidden")
    done = await seed_client.delete("/api/auth/cleanup", headers=keys["admin"])
    assert done.status_code == 200, done.text
    assert done.json()["deleted"] >= 0


# --- conversations --------------------------------------------------------------------------


async def test_an_imported_conversation_is_listed_read_renamed_and_deleted(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]], share_pages: str
) -> None:
    key = keys["service"]
    chat_id = await imported(seed_client, share_pages, key)

    listed = await seed_client.get(f"{API}/", params={"limit": 10, "offset": 0}, headers=key)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    mine = next(c for c in page["conversations"] if c["id"] == chat_id)
    assert mine["url"].endswith("/grok-share.html") and mine["title"]
    assert mine["import_date"] and mine["is_locked"] is False
    assert page["limit"] == 10 and page["offset"] == 0 and page["has_more"] is False

    detail = await seed_client.get(f"{API}/{chat_id}", headers=key)
    assert detail.status_code == 200
    messages = detail.json()["imported_chat"]
    assert len(messages) == 3 and {m["role"] for m in messages} == {"user", "assistant"}
    assert all(m["content"] for m in messages)

    renamed = await seed_client.patch(f"{API}/{chat_id}", json={"title": "Rota"}, headers=key)
    assert renamed.status_code == 200 and renamed.json()["title"] == "Rota"
    assert (await seed_client.get(f"{API}/{chat_id}", headers=key)).json()["title"] == "Rota"

    deleted = await seed_client.delete(f"{API}/{chat_id}", headers=key)
    assert deleted.status_code == 204
    check_problem(await seed_client.get(f"{API}/{chat_id}", headers=key), 404, "not_found")


async def test_the_list_pages(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    key = keys["service"]
    for text in ("First question about the rota", "Second question about the rota"):
        sent = await seed_client.post("/chat", json={"message": text}, headers=key)
        assert sent.status_code == 200, sent.text
    first = (await seed_client.get(f"{API}/", params={"limit": 1}, headers=key)).json()
    second = (
        await seed_client.get(f"{API}/", params={"limit": 1, "offset": 1}, headers=key)
    ).json()
    assert first["has_more"] is True and len(first["conversations"]) == 1
    assert first["conversations"][0]["id"] != second["conversations"][0]["id"]
    everything = await seed_client.get(f"{API}/", params={"limit": 500}, headers=key)
    assert everything.status_code == 200 and everything.json()["has_more"] is False


async def test_the_summary_is_read_and_edited(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]], share_pages: str
) -> None:
    key = keys["service"]
    chat_id = await imported(seed_client, share_pages, key)
    summary = await seed_client.get(f"{API}/{chat_id}/imported_chat_summary", headers=key)
    assert summary.status_code == 200, summary.text
    assert summary.json()["summary"]

    edited = await seed_client.patch(
        f"{API}/{chat_id}/summary", json={"summary": "A team talks about Grok."}, headers=key
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["summary"] == "A team talks about Grok."
    again = await seed_client.get(f"{API}/{chat_id}/imported_chat_summary", headers=key)
    assert again.json()["summary"] == "A team talks about Grok."


async def test_slack_threads_come_in_with_a_service_key(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    thread = json.loads((FIXTURES / "slack-thread.json").read_text(encoding="utf-8"))
    refused = await seed_client.post(f"{API}/import-slack", json=thread, headers=keys["service"])
    check_problem(refused, 403, "forbidden")
    response = await seed_client.post(f"{API}/import-slack", json=thread, headers=keys["admin"])
    assert response.status_code in (200, 201), response.text
    assert response.json()["chat"]["id"]


# --- files ----------------------------------------------------------------------------------


async def test_a_file_is_uploaded_listed_and_downloaded(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]], share_pages: str
) -> None:
    key = keys["service"]
    chat_id = await imported(seed_client, share_pages, key)
    uploaded = await seed_client.post(
        f"{API}/{chat_id}/files", files={"file": ("rota.md", NOTES, "text/markdown")}, headers=key
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    file = uploaded.json()
    assert file["filename"] == "rota.md" and file["file_size"] == len(NOTES)
    assert file["file_type"] == "text/markdown" and file["conversation_id"] == chat_id

    listed = await seed_client.get(f"{API}/{chat_id}/files", headers=key)
    assert listed.status_code == 200
    assert [f["id"] for f in listed.json()] == [file["id"]]

    download = await seed_client.get(f"{API}/files/{file['id']}/download", headers=key)
    assert download.status_code == 200
    assert download.content == NOTES
    missing = await seed_client.get(f"{API}/files/{'0' * 32}/download", headers=key)
    check_problem(missing, 404, "not_found")


@pytest.mark.parametrize(
    ("fmt", "name", "file_type"),
    [
        ("JPEG", "whiteboard.jpg", "image/jpeg"),
        ("PNG", "diagram.png", "image/png"),
        ("GIF", "demo.gif", "image/gif"),
        ("WEBP", "photo.webp", "image/webp"),
    ],
)
async def test_an_image_is_uploaded_listed_and_downloaded(
    seed_client: httpx.AsyncClient,
    keys: dict[str, dict[str, str]],
    share_pages: str,
    fmt: str,
    name: str,
    file_type: str,
) -> None:
    key = keys["service"]
    chat_id = await imported(seed_client, share_pages, key)
    data = image_bytes(fmt, (64, 48))
    uploaded = await seed_client.post(
        f"{API}/{chat_id}/files", files={"file": (name, data, file_type)}, headers=key
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    file = uploaded.json()
    assert (file["filename"], file["file_size"], file["file_type"]) == (name, len(data), file_type)
    assert file["conversation_id"] == chat_id and file["download_url"]

    listed = await seed_client.get(f"{API}/{chat_id}/files", headers=key)
    assert (file["id"], file_type) in [(f["id"], f["file_type"]) for f in listed.json()]

    download = await seed_client.get(f"{API}/files/{file['id']}/download", headers=key)
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"] == file_type


async def test_files_the_service_refuses_are_problems(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]], share_pages: str
) -> None:
    key = keys["service"]
    chat_id = await imported(seed_client, share_pages, key)
    before = (await seed_client.get(f"{API}/{chat_id}/files", headers=key)).json()
    # Validated by magic number: bytes that are no image are refused whatever they are called.
    fake = await seed_client.post(
        f"{API}/{chat_id}/files",
        files={"file": ("photo.jpg", b"MZ\x90\x00 not a picture", "image/jpeg")},
        headers=key,
    )
    check_problem(fake, 415, "unsupported_document")
    # Max size: 10 MB.
    big = await seed_client.post(
        f"{API}/{chat_id}/files",
        files={"file": ("big.txt", b"a" * (10 * 1024 * 1024 + 1), "text/plain")},
        headers=key,
    )
    assert big.status_code == 413, big.text
    # SVG differs on purpose (docs/seeds.md): it can carry scripts, so it is refused.
    svg = await seed_client.post(
        f"{API}/{chat_id}/files",
        files={"file": ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml")},
        headers=key,
    )
    check_problem(svg, 415, "unsupported_document")
    assert (await seed_client.get(f"{API}/{chat_id}/files", headers=key)).json() == before


# --- the draft chat, the project draft and the project --------------------------------------


async def test_the_draft_chat_streams_its_events_and_keeps_its_turns(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]], share_pages: str
) -> None:
    key = keys["service"]
    chat_id = await imported(seed_client, share_pages, key)
    response = await seed_client.post(
        f"{API}/{chat_id}/project-draft/chat/stream",
        json={"message": "add a goal: publish the on-call rota"},
        headers=key,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    sent = events(response.text)
    kinds = [event["type"] for event in sent]
    assert kinds[0] == "status" and sent[0]["status"] == "analyzing_request"
    assert kinds[-1] == "done" and "error" not in kinds
    assert "project_updated" in kinds and "content" in kinds
    updated = [e for e in sent if e["type"] == "project_updated"][-1]["project_draft"]
    assert "publish the on-call rota" in [g.lower() for g in updated["version"]["draft"]["goals"]]
    text = "".join(e["content"] for e in sent if e["type"] == "content")
    done = sent[-1]["response"]
    assert done["content"] == text and done["project_draft"]["title"]

    history = await seed_client.get(f"{API}/{chat_id}/project-draft/chat", headers=key)
    assert history.status_code == 200
    stored = history.json()["messages"]
    assert [(m["role"], m["sequence_number"]) for m in stored] == [("user", 1), ("assistant", 2)]
    assert stored[0]["content"] == "add a goal: publish the on-call rota"
    assert stored[1]["content"] == text


async def test_bad_input_to_the_draft_chat_is_a_problem_not_a_stream(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    key = keys["service"]
    missing = await seed_client.post(
        f"{API}/nope/project-draft/chat/stream", json={"message": "hi"}, headers=key
    )
    check_problem(missing, 404, "not_found")
    blank = await seed_client.post(
        f"{API}/nope/project-draft/chat/stream", json={"message": "   "}, headers=key
    )
    check_problem(blank, 422, "invalid_request")


async def test_the_project_draft_is_read_edited_and_its_versions_restored(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]], share_pages: str
) -> None:
    key = keys["service"]
    chat_id = await imported(seed_client, share_pages, key)
    started = await seed_client.post(
        f"{API}/{chat_id}/project-draft/chat/stream",
        json={"message": "set the title to Grok notes"},
        headers=key,
    )
    assert events(started.text)[-1]["type"] == "done", started.text

    draft = await seed_client.get(f"{API}/{chat_id}/project-draft", headers=key)
    assert draft.status_code == 200
    assert draft.json()["title"] == "Grok notes" and "description" in draft.json()
    first_active = draft.json()["active_version_id"]

    edited = await seed_client.patch(
        f"{API}/{chat_id}/project-draft",
        json={"title": "Grok notes, edited", "description": "Edited by hand."},
        headers=key,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Grok notes, edited"
    assert edited.json()["description"] == "Edited by hand."

    versions = await seed_client.get(f"{API}/{chat_id}/project-draft/versions", headers=key)
    assert versions.status_code == 200
    listed = versions.json()["versions"]
    assert listed[0]["is_manual_edit"] is True and listed[0]["title"] == "Grok notes, edited"
    assert all({"id", "version_number", "title", "description"} <= v.keys() for v in listed)

    restored = await seed_client.post(
        f"{API}/{chat_id}/project-draft/versions/{first_active}/activate", headers=key
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["active_version_id"] == first_active
    assert restored.json()["title"] == "Grok notes"


async def test_the_linear_project_says_it_is_not_configured(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]], share_pages: str
) -> None:
    key = keys["service"]
    chat_id = await imported(seed_client, share_pages, key)
    check_problem(
        await seed_client.post(f"{API}/{chat_id}/project", headers=key), 501, "not_configured"
    )
    check_problem(
        await seed_client.get(f"{API}/{chat_id}/project", headers=key), 501, "not_configured"
    )


# --- LLM configuration ----------------------------------------------------------------------


async def test_prompts_and_default_models_are_administered(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    admin = keys["admin"]
    prompt = "/api/llm-prompts/chat"
    assert (await seed_client.get(prompt, headers=admin)).status_code == 200
    assert (await seed_client.get(f"{prompt}/default", headers=admin)).status_code == 200
    custom = await seed_client.post(prompt, json={"text": "Answer briefly."}, headers=admin)
    assert custom.status_code in (200, 201), custom.text
    assert (await seed_client.delete(prompt, headers=admin)).status_code == 200

    providers = await seed_client.get("/api/llm-defaults/providers", headers=admin)
    assert providers.status_code == 200
    assert (await seed_client.get("/api/llm-defaults/chat", headers=admin)).status_code == 200
    chosen = await seed_client.put(
        "/api/llm-defaults/chat", json={"model": "offline-extractive"}, headers=admin
    )
    assert chosen.status_code == 200, chosen.text


# --- search ---------------------------------------------------------------------------------


async def test_search_finds_conversations_filtered_and_sorted(
    seed_client: httpx.AsyncClient, keys: dict[str, dict[str, str]], share_pages: str
) -> None:
    key = keys["service"]
    chat_id = await imported(seed_client, share_pages, key)
    params: dict[str, Any] = {
        "q": "bike chain",  # the conversation's own words
        "limit": 5,
        "offset": 0,
        "status": "complete",
        "sort_by": "updated_at",
        "sort_dir": "desc",
    }
    found = await seed_client.get("/api/search/", params=params, headers=key)
    assert found.status_code == 200, found.text
    assert chat_id in {hit["chat_id"] for hit in found.json()["hits"]}

    for name, value in (("sort_by", "rank"), ("sort_dir", "up"), ("status", "done")):
        refused = await seed_client.get("/api/search/", params={**params, name: value}, headers=key)
        check_problem(refused, 422, "invalid_request")
