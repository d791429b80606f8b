"""Collections granted to groups that OpenID Connect sign-in maps from the ID token's `groups`
claim (OIDC_GROUPS_CLAIM), against a real provider (`tests/oidc_server.py`), on SQLite and
PostgreSQL: each signed-in person's every read path, asked for the other group's secret,
gives nothing of it; their own group's they read; and a group the provider stops stating is
gone at their next sign-in."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap, prepare_to_serve
from tests.conftest import FixedClock, make_settings
from tests.e2e.test_collections_leak import (
    ENG_DOC,
    ENG_FILE,
    ENG_NAME,
    ENG_QUESTION,
    ENG_SECRET,
    HR_DOC,
    HR_FILE,
    HR_NAME,
    HR_QUESTION,
    HR_SECRET,
    World,
    _database,
    _every_read,
)
from tests.live_server import serve
from use_cases.access.domain import CLI_ADMIN

pytest_plugins = ["tests.postgres", "tests.oidc_server"]


def _person(issuer: str, sub: str, email: str, groups: list[str]) -> None:
    claims = {"email": email, "email_verified": True, "groups": groups}
    httpx.put(f"{issuer}/users/{sub}", json=claims).raise_for_status()


async def _session(url: str, sub: str) -> dict[str, str]:
    """Sign in at the provider as `sub`: the session cookie, as a header (with the web
    app's own origin, which a cookie's change must come from)."""
    async with httpx.AsyncClient(base_url=url) as browser:
        login = await browser.get("/api/auth/login")
        assert login.status_code == 302, login.text
        async with httpx.AsyncClient() as provider:
            signed_in = await provider.post(login.headers["location"], data={"sub": sub})
        assert signed_in.status_code == 302, signed_in.text
        back = await browser.get(signed_in.headers["location"])
        assert back.status_code == 303, back.text
        return {
            "Cookie": f"almanac_session={browser.cookies['almanac_session']}",
            "Origin": url,
        }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    oidc_issuer: str,
    sample_data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    database = _database(request, tmp_path_factory)
    with database as url:
        data_dir = tmp_path_factory.mktemp(f"oidc-leak-{request.param}")
        oidc = {
            "auth_enabled": True,
            "oidc_client_id": "almanac-test",
            "oidc_client_secret": "almanac-test-secret",
            "oidc_issuer": oidc_issuer,
            "oidc_allowed_domains": "example.org",
            "oidc_groups_claim": "groups",
        }
        if url is None:
            shutil.copytree(sample_data_dir, data_dir, dirs_exist_ok=True)
            settings = make_settings(data_dir, **oidc)
        else:
            assert database.sample_dir is not None
            shutil.copytree(database.sample_dir, data_dir, dirs_exist_ok=True)
            settings = make_settings(data_dir, database_url=url, **oidc)
        container = bootstrap(settings, clock=FixedClock())
        try:
            prepare_to_serve(container)
            with serve(create_app(container=container)) as server:
                yield asyncio.run(_populate(server, container, oidc_issuer))
        finally:
            container.close()


async def _populate(url: str, container: Container, issuer: str) -> World:
    root = await container.access.create_key.execute(CLI_ADMIN, user_id="root", role="admin")
    admin = {"Authorization": f"Bearer {root.secret}"}
    _person(issuer, "hana-1", "hana@example.org", ["people-team"])
    _person(issuer, "ezra-1", "ezra@example.org", ["engineers", "all-staff"])
    keys = {"hana": await _session(url, "hana-1"), "ezra": await _session(url, "ezra-1")}
    ids = {}
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        for name, group in (("hr", "people-team"), ("eng", "engineers")):
            made = await http.post("/api/collections", json={"name": name}, headers=admin)
            assert made.status_code == 201, made.text
            granted = await http.post(
                f"/api/collections/{name}/grants", json={"group": group}, headers=admin
            )
            assert granted.status_code == 200, granted.text
        for name, doc, file in (("hr", HR_DOC, HR_FILE), ("eng", ENG_DOC, ENG_FILE)):
            up = await http.post(
                "/api/documents",
                files={"file": (file, doc, "text/markdown")},
                data={"collection": name},
                headers=admin,
            )
            assert up.status_code == 201, up.text
            ids[name] = up.json()["document"]["id"]
    keys["root"] = admin
    return World(url, container, keys, ids)


@pytest.mark.parametrize(
    ("reader", "name", "secret", "question", "other"),
    [
        ("hana", ENG_NAME, ENG_SECRET, ENG_QUESTION, "eng"),
        ("ezra", HR_NAME, HR_SECRET, HR_QUESTION, "hr"),
    ],
)
async def test_a_signed_in_person_gets_nothing_of_the_other_groups_secret(
    world: World, reader: str, name: str, secret: str, question: str, other: str
) -> None:
    async with httpx.AsyncClient(base_url=world.url, timeout=180) as http:
        seen = await _every_read(http, world.keys[reader], name, question, other, world.ids[other])
    file = ENG_FILE if other == "eng" else HR_FILE
    leaked = {p: t[:300] for p, t in seen.items() if secret in t.lower() or file in t.lower()}
    assert leaked == {}
    assert seen["document by id"].startswith("404"), seen["document by id"]
    assert not any(text.startswith(("401", "403", "5")) for text in seen.values()), seen


@pytest.mark.parametrize(
    ("reader", "name", "secret", "own"),
    [("hana", HR_NAME, HR_SECRET, "hr"), ("ezra", ENG_NAME, ENG_SECRET, "eng")],
)
async def test_a_signed_in_person_reads_their_groups_collection(
    world: World, reader: str, name: str, secret: str, own: str
) -> None:
    async with httpx.AsyncClient(base_url=world.url, timeout=60) as http:
        found = await http.get("/api/search", params={"q": name}, headers=world.keys[reader])
        read = await http.get(f"/api/documents/{world.ids[own]}", headers=world.keys[reader])
    assert secret in found.text.lower()
    assert read.status_code == 200 and secret in read.text.lower()


async def test_a_group_the_provider_no_longer_states_is_gone_at_the_next_sign_in(
    world: World, oidc_issuer: str
) -> None:
    _person(oidc_issuer, "ezra-1", "ezra@example.org", ["all-staff"])
    try:
        session = await _session(world.url, "ezra-1")
        async with httpx.AsyncClient(base_url=world.url, timeout=60) as http:
            found = await http.get("/api/search", params={"q": ENG_NAME}, headers=session)
        assert found.status_code == 200 and ENG_SECRET not in found.text.lower()
    finally:
        _person(oidc_issuer, "ezra-1", "ezra@example.org", ["engineers", "all-staff"])
        world.keys["ezra"] = await _session(world.url, "ezra-1")
