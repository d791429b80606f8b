"""Collections through the HTTP API and the CLI: bad input is a clear 4xx that changes nothing,
filters that match nothing find nothing while malformed ones are 422s, every change is
audited, `who-can-read` explains access, and a knowledge base from before collections keeps
every document in the default collection every user reads."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from backend.cli.main import app as cli_app
from services.knowledge.schema import MIGRATIONS
from services.knowledge.store import SqliteKnowledgeStore
from services.sqlite.connection import connect
from services.sqlite.migrations import apply_migrations
from tests.conftest import FixedClock, make_settings
from use_cases.access.domain import CLI_ADMIN
from use_cases.knowledge.scope import ReadScope

DOC = b"---\ntitle: Pallet rules\nowner: yard\n---\n# Pallets\n\nPallets stack four high.\n"


@pytest.fixture(scope="module")
def world(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    data_dir = tmp_path_factory.mktemp("collections-api") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    container = bootstrap(make_settings(data_dir, auth_enabled=True), clock=FixedClock())

    async def keys() -> dict[str, dict[str, str]]:
        made = {}
        for user, role in (("ana", "user"), ("root", "admin")):
            key = await container.access.create_key.execute(CLI_ADMIN, user_id=user, role=role)
            made[user] = {"Authorization": f"Bearer {key.secret}"}
        return made

    yield container, asyncio.run(keys()), data_dir
    container.close()


@pytest.fixture
async def http(world: tuple) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container=world[0]))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as client:
        yield client


def _state(container: Container) -> tuple:
    collections = container.adapters.collection_store.list_collections()
    documents = container.adapters.store.list_documents(limit=500)[1]
    return collections, documents


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/collections", {"name": "Bad Name"}, 422),
        ("post", "/api/collections", {"name": "default"}, 422),
        ("post", "/api/collections", {"name": "taken"}, 409),
        ("post", "/api/collections/taken/grants", {"user": "ghost"}, 404),
        ("post", "/api/collections/taken/grants", {"group": "no-such-group"}, 404),
        ("post", "/api/collections/taken/grants", {"user": "ana", "group": "x"}, 422),
        ("post", "/api/collections/taken/revoke", {"user": "ana"}, 404),
        ("post", "/api/collections/missing/grants", {"user": "ana"}, 404),
        ("delete", "/api/collections/missing", None, 404),
    ],
)
async def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    world: tuple, http: httpx.AsyncClient, method: str, path: str, body: dict | None, status: int
) -> None:
    container, keys, _ = world
    admin = keys["root"]
    if container.adapters.collection_store.get_collection("taken") is None:
        assert (
            await http.post("/api/collections", json={"name": "taken"}, headers=admin)
        ).status_code == 201
    before = _state(container)
    kwargs = {"json": body} if body is not None else {}
    reply = await getattr(http, method)(path, headers=admin, **kwargs)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in reply.text
    assert _state(container) == before


async def test_an_upload_naming_an_unknown_collection_is_refused_and_stores_nothing(
    world: tuple, http: httpx.AsyncClient
) -> None:
    container, keys, _ = world
    before = _state(container)
    reply = await http.post(
        "/api/documents",
        files={"file": ("pallets.md", DOC, "text/markdown")},
        data={"collection": "nope"},
        headers=keys["root"],
    )
    assert reply.status_code == 422, reply.text
    assert "nope" in reply.json()["detail"]
    assert _state(container) == before


async def test_filters_that_match_nothing_find_nothing_and_malformed_ones_are_422(
    world: tuple, http: httpx.AsyncClient
) -> None:
    _, keys, _ = world
    user = keys["ana"]
    q = {"q": "password rotation"}
    found = await http.get("/api/search", params=q, headers=user)
    unknown_key = await http.get("/api/search", params={**q, "meta": "nokey:x"}, headers=user)
    unknown_collection = await http.get(
        "/api/search", params={**q, "collection": "nowhere"}, headers=user
    )
    default = await http.get("/api/search", params={**q, "collection": "default"}, headers=user)
    assert found.json()["hits"]
    assert unknown_key.status_code == 200 and unknown_key.json()["hits"] == []
    assert unknown_collection.status_code == 200 and unknown_collection.json()["hits"] == []
    assert default.json()["hits"] == found.json()["hits"]
    for bad in (
        {"meta": "no-colon"},
        {"meta": "bad key:x"},
        {"updated_after": "yesterday"},
        {"updated_after": "2025-05-01", "updated_before": "2025-01-01"},
    ):
        reply = await http.get("/api/search", params={**q, **bad}, headers=user)
        assert reply.status_code == 422, (bad, reply.text)
        listed = await http.get("/api/documents", params=bad, headers=user)
        assert listed.status_code == 422, (bad, listed.text)


async def test_metadata_and_dates_filter_search_and_listing(
    world: tuple, http: httpx.AsyncClient
) -> None:
    _, keys, _ = world
    up = await http.post(
        "/api/documents",
        files={"file": ("pallets-meta.md", DOC, "text/markdown")},
        headers=keys["root"],
    )
    assert up.status_code == 201, up.text
    user = keys["ana"]
    owned = await http.get(
        "/api/search", params={"q": "pallets stack", "meta": "owner:yard"}, headers=user
    )
    other = await http.get(
        "/api/search", params={"q": "pallets stack", "meta": "owner:dock"}, headers=user
    )
    listed = await http.get("/api/documents", params={"meta": "owner:yard"}, headers=user)
    prefixed = await http.get("/api/documents", params={"source_prefix": "policies/"}, headers=user)
    assert [h["source"] for h in owned.json()["hits"]] == ["pallets-meta.md"]
    assert other.json()["hits"] == []
    assert [d["source"] for d in listed.json()["documents"]] == ["pallets-meta.md"]
    sources = [d["source"] for d in prefixed.json()["documents"]]
    assert sources and all(s.startswith("policies/") for s in sources)


async def test_changes_are_audited_and_who_can_read_explains_access(
    world: tuple, http: httpx.AsyncClient
) -> None:
    container, keys, data_dir = world
    admin = keys["root"]
    assert (
        await http.post(
            "/api/collections", json={"name": "legal", "description": "Contracts"}, headers=admin
        )
    ).status_code == 201
    container.knowledge.collections.set_groups("ana", ["lawyers"])
    assert (
        await http.post("/api/collections/legal/grants", json={"group": "lawyers"}, headers=admin)
    ).status_code == 200
    up = await http.post(
        "/api/documents",
        files={"file": ("nda.md", b"# NDA\n\nThe NDA lasts five years.\n", "text/markdown")},
        data={"collection": "legal"},
        headers=admin,
    )
    assert up.status_code == 201, up.text
    document_id = up.json()["document"]["id"]
    assert up.json()["document"]["collection"] == "legal"
    explained = await http.get(f"/api/collections/access/{document_id}", headers=admin)
    assert explained.json()["collection"] == "legal"
    assert explained.json()["group_members"] == {"lawyers": ["ana"]}
    revoked = await http.post(
        "/api/collections/legal/revoke", json={"group": "lawyers"}, headers=admin
    )
    assert revoked.status_code == 200
    audit = await http.get("/api/audit", params={"action": "collection"}, headers=admin)
    actions = [(e["action"], e["target"]) for e in audit.json()["entries"]]
    assert ("collection.create", "collection:legal") in actions
    assert ("collection.grant", "collection:legal") in actions
    assert ("collection.revoke", "collection:legal") in actions
    cli = await asyncio.to_thread(_almanac, data_dir, "who-can-read", str(document_id))
    assert cli.exit_code == 0, cli.stderr
    assert "collection legal" in cli.stdout and "no user or group is granted it" in cli.stdout
    listed = await asyncio.to_thread(_almanac, data_dir, "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    names = {c["name"]: c for c in json.loads(listed.stdout)["collections"]}
    assert names["legal"]["document_count"] == 1


def _almanac(data_dir: Path, *args: str) -> Result:
    """`almanac collections ARGS` on the module's data directory, through the CLI app the
    `almanac` script starts, in this process (a Python start and the app's import were
    most of this test's time)."""
    env = {"DATA_DIR": str(data_dir), "AUTH_ENABLED": "true"}
    return CliRunner().invoke(cli_app, ["collections", *args], env=env)


def test_a_knowledge_base_from_before_collections_keeps_every_document_readable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "knowledge.db"
    conn = connect(path)
    apply_migrations(conn, MIGRATIONS[:7])  # the schema before collections
    conn.execute(
        "INSERT INTO documents (id, source, title, category, updated_at, media_type, "
        "content_hash, size_bytes, metadata, ingested_at) VALUES (1, 'old.md', 'Old', NULL, "
        "NULL, 'text/markdown', 'h', 1, '{}', '2025-01-01T00:00:00')"
    )
    conn.close()
    store = SqliteKnowledgeStore(path)  # migrates
    try:
        listed, total = store.list_documents(scope=ReadScope(frozenset({None})))
        assert (total, [d.source for d in listed], listed[0].collection) == (1, ["old.md"], None)
    finally:
        store.close()


async def test_a_chat_turn_takes_filters_that_narrow_its_searches(
    world: tuple, http: httpx.AsyncClient
) -> None:
    _, keys, _ = world
    user = keys["ana"]
    question = "How often must passwords be rotated?"
    plain = await http.post("/chat", json={"message": question}, headers=user)
    narrowed = await http.post(
        "/chat",
        json={"message": question, "filters": {"meta": {"owner": "no-such-owner"}}},
        headers=user,
    )
    elsewhere = await http.post(
        "/chat",
        json={"message": question, "filters": {"source_prefix": "policies/password"}},
        headers=user,
    )
    assert plain.json()["sources"]
    assert narrowed.status_code == 200 and narrowed.json()["sources"] == []
    assert elsewhere.json()["sources"]
    assert all(s["source"].startswith("policies/password") for s in elsewhere.json()["sources"])
    for bad in ({"meta": {"bad key": "x"}}, {"updated_after": "soon"}, {"colection": "hr"}):
        refused = await http.post("/chat", json={"message": question, "filters": bad}, headers=user)
        assert refused.status_code == 422, (bad, refused.text)


async def test_advice_takes_the_same_filters(world: tuple, http: httpx.AsyncClient) -> None:
    _, keys, _ = world
    ask = [{"role": "user", "content": "How often must passwords be rotated?"}]
    narrowed = await http.post(
        "/advice-non-streaming",
        json={"conversation": ask, "filters": {"collection": "no-such-collection"}},
        headers=keys["ana"],
    )
    refused = await http.post(
        "/advice-non-streaming",
        json={"conversation": ask, "filters": {"meta": {"bad key": "x"}}},
        headers=keys["ana"],
    )
    assert narrowed.status_code == 200 and narrowed.json()["sources"] == []
    assert refused.status_code == 422


async def test_erasing_a_user_forgets_their_grants_and_groups(
    world: tuple, http: httpx.AsyncClient
) -> None:
    container, keys, _ = world
    admin = keys["root"]
    await container.access.create_key.execute(CLI_ADMIN, user_id="leaver", role="user")
    container.knowledge.collections.set_groups("leaver", ["movers"])
    assert (
        await http.post("/api/collections", json={"name": "moving"}, headers=admin)
    ).status_code == 201
    granted = await http.post(
        "/api/collections/moving/grants", json={"user": "leaver"}, headers=admin
    )
    assert granted.status_code == 200
    erased = await http.delete("/api/users/leaver", headers=admin)
    assert erased.status_code == 200, erased.text
    store = container.adapters.collection_store
    moving = store.get_collection("moving")
    assert moving is not None and moving.grants == ()
    assert store.groups_of("leaver") == ()
