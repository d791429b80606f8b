"""With authentication on, the public `/health` tells an anonymous caller only that the service
is up and which version it runs; what the knowledge base holds (documents per category, the
embedding model) is for admins, at `/health/details`. In development (authentication off)
`/health` still says everything."""

from __future__ import annotations

import httpx

from backend.bootstrap import Container
from tests.conftest import issue_key


async def test_the_public_health_says_only_status_and_version_when_authentication_is_on(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    user = await issue_key(auth_container, "ana")
    admin = await issue_key(auth_container, "root", role="admin")
    for headers in ({}, user, admin):
        response = await auth_client.get("/health", headers=headers)
        assert response.status_code == 200
        assert response.json() == {"status": "healthy", "version": response.json()["version"]}
        assert "policies" not in response.text and "categories" not in response.text


async def test_admins_read_the_details_and_no_one_else(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    user = await issue_key(auth_container, "ana")
    admin = await issue_key(auth_container, "root", role="admin")
    assert (await auth_client.get("/health/details")).status_code == 401
    assert (await auth_client.get("/health/details", headers=user)).status_code == 403
    details = await auth_client.get("/health/details", headers=admin)
    assert details.status_code == 200
    body = details.json()
    assert body["status"] == "healthy" and body["problems"] == []
    assert body["knowledge_base"]["documents"] > 0
    assert body["knowledge_base"]["categories"]["policies"] > 0


async def test_in_development_the_public_health_keeps_its_details(
    client: httpx.AsyncClient,
) -> None:
    public = (await client.get("/health")).json()
    assert public["knowledge_base"]["categories"]["policies"] > 0
    assert public["problems"] == []
    assert (await client.get("/health/details")).json() == public


async def test_the_api_description_says_where_the_details_are(
    auth_client: httpx.AsyncClient,
) -> None:
    spec = (await auth_client.get("/openapi.json")).json()
    assert "security" not in spec["paths"]["/health"]["get"]
    details = spec["paths"]["/health/details"]["get"]
    assert details["security"] and "403" in details["responses"]
    public = spec["components"]["schemas"]["HealthOut"]
    assert public["required"] == ["status", "version"]
