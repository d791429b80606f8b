"""The knowledge-base HTTP API end to end, on the bundled sample (real SQLite, real model)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


async def test_health_reports_version_and_knowledge_base_statistics(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"]
    kb = body["knowledge_base"]
    assert kb["documents"] >= 30
    assert kb["chunks"] >= kb["documents"]
    assert kb["embedding_model"] == "all-MiniLM-L6-v2"
    assert kb["embedding_dimension"] == 384
    assert set(kb["categories"]) == {"domain", "policies", "runbooks"}
    assert response.headers["x-request-id"]


async def test_search_finds_the_current_password_policy_before_superseded_versions(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/api/search", params={"q": "How often must passwords be rotated?", "limit": 5}
    )
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert hits, "expected hits"
    first = hits[0]
    assert first["title"].startswith("Password and Credential Rotation Policy")
    assert first["updated_at"] == "2025-09-15", [(h["title"], h["updated_at"]) for h in hits]
    assert first["category"] == "policies"
    assert first["section_text"] and first["text"] in first["section_text"]
    assert first["scores"]["fused"] > 0
    assert any("<mark>" in hit["highlight"] for hit in hits)


async def test_search_hits_carry_document_section_date_and_all_scores(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/search", params={"q": "database failover Patroni"})
    hit = response.json()["hits"][0]
    assert hit["title"].startswith("Database Failover Runbook")
    assert hit["section_path"]
    assert set(hit["scores"]) == {
        "fused",
        "bm25_rank",
        "bm25_score",
        "vector_rank",
        "vector_distance",
        "rerank_score",
    }
    assert hit["scores"]["bm25_rank"] is not None and hit["scores"]["vector_rank"] is not None
    assert hit["scores"]["rerank_score"] is None
    assert response.json()["reranked"] is False


async def test_search_filters_by_category(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/search", params={"q": "password rotation", "category": "runbooks", "limit": 10}
    )
    hits = response.json()["hits"]
    assert hits and all(hit["category"] == "runbooks" for hit in hits)


async def test_search_pages_with_limit_and_offset(client: httpx.AsyncClient) -> None:
    first = (await client.get("/api/search", params={"q": "incident", "limit": 4})).json()["hits"]
    second = (
        await client.get("/api/search", params={"q": "incident", "limit": 2, "offset": 2})
    ).json()["hits"]
    assert [h["chunk_id"] for h in second] == [h["chunk_id"] for h in first[2:4]]
    assert [h["rank"] for h in second] == [3, 4]


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "NEAR(a b", "a AND OR NOT", "title:foo*", "^start", "((((", "🙂🔥", "-- DROP"],
)
async def test_search_never_fails_on_hostile_query_text(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get("/api/search", params={"q": query})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "empty"),
        ({"q": "x", "limit": 0}, "limit"),
        ({"q": "x", "limit": 51}, "limit"),
        ({"q": "x", "offset": -1}, "offset"),
        ({"q": "x" * 1001}, "q"),
        ({}, "q"),
    ],
)
async def test_search_rejects_bad_parameters_with_a_clear_422(
    client: httpx.AsyncClient, params: dict[str, Any], fragment: str
) -> None:
    response = await client.get("/api/search", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert fragment in str(body["detail"])


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_openapi_docs_are_served_with_examples(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/search" in spec["paths"] and "/api/documents" in spec["paths"]
    assert "examples" in str(spec["components"]["schemas"]["SearchOut"])
    assert (await client.get("/docs")).status_code == 200
