"""Uploading, listing, reading and removing documents over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx

from backend.bootstrap import Container, bootstrap
from services.budgets import BUDGET
from services.knowledge.loaders import SUPPORTED_EXTENSIONS
from services.parse_pool import BudgetedLoader
from tests import hostile_inputs
from tests.conftest import FixedClock, asgi_client, make_settings

MARKDOWN = b"""---
title: Parking Policy
category: policies
updated: 2026-01-05
---
# Parking Policy

## Visitors
Visitors park in bay 7 and register at reception with a licence plate.
"""


async def _upload(client: httpx.AsyncClient, name: str, data: bytes, **form: str) -> httpx.Response:
    return await client.post("/api/documents", files={"file": (name, data)}, data=form)


async def test_upload_makes_a_document_searchable_then_delete_removes_it(
    client: httpx.AsyncClient,
) -> None:
    response = await _upload(client, "parking.md", MARKDOWN)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "added"
    document = body["document"]
    assert document["title"] == "Parking Policy"
    assert document["category"] == "policies"
    assert document["updated_at"] == "2026-01-05"

    hits = (await client.get("/api/search", params={"q": "where do visitors park"})).json()["hits"]
    assert hits[0]["document_id"] == document["id"]

    detail = (await client.get(f"/api/documents/{document['id']}")).json()
    assert detail["sections"][0]["heading_path"] == ["Parking Policy", "Visitors"]

    assert (await client.delete(f"/api/documents/{document['id']}")).status_code == 204
    assert (await client.get(f"/api/documents/{document['id']}")).status_code == 404
    hits = (await client.get("/api/search", params={"q": "visitors park bay 7"})).json()["hits"]
    assert all(hit["document_id"] != document["id"] for hit in hits)


async def test_uploading_the_same_file_again_is_unchanged(client: httpx.AsyncClient) -> None:
    first = await _upload(client, "parking.md", MARKDOWN)
    again = await _upload(client, "parking.md", MARKDOWN)
    assert again.status_code == 200
    assert again.json()["status"] == "unchanged"
    assert again.json()["document"]["id"] == first.json()["document"]["id"]


async def test_upload_of_an_unsupported_type_is_415_and_writes_nothing(
    client: httpx.AsyncClient, container: Container
) -> None:
    before = container.knowledge.knowledge_stats.run()
    response = await _upload(client, "slides.exe", b"MZ\x90\x00...")
    assert response.status_code == 415
    assert ".pdf" in response.json()["detail"]
    assert container.knowledge.knowledge_stats.run() == before


async def test_the_upload_file_types_are_those_the_loaders_read(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/documents/types")
    assert response.status_code == 200
    assert response.json() == {"extensions": list(SUPPORTED_EXTENSIONS)}
    assert ".md" in SUPPORTED_EXTENSIONS and ".pdf" in SUPPORTED_EXTENSIONS  # not empty


async def test_upload_of_a_corrupt_pdf_is_422_and_writes_nothing(
    client: httpx.AsyncClient, container: Container
) -> None:
    before = container.knowledge.knowledge_stats.run()
    response = await _upload(client, "broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_document"
    assert "Traceback" not in response.text
    assert container.knowledge.knowledge_stats.run() == before


async def test_an_uploaded_fan_out_pdf_is_413_by_the_content_budget_and_writes_nothing(
    client: httpx.AsyncClient, container: Container
) -> None:
    """8 KB, 40 pages drawing one 0.5 MiB stream (60 s of the server's CPU with
    the pypdf loader, 1.8 s with PDFium's): refused by the PDF content budget (its message
    names that budget, not the parse's CPU budget) before a page is read. What the refusal
    costs the server is measured by bench/bench_hostile_inputs.py."""
    before = container.knowledge.knowledge_stats.run()
    pdf = hostile_inputs.fan_out_pdf(pages=40)
    response = await _upload(client, "fan-out.pdf", pdf)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "input_too_costly"
    detail = response.json()["detail"]
    assert f"more than {BUDGET.max_pdf_content:,} bytes of page content" in detail
    assert "of CPU" not in detail
    assert "Traceback" not in response.text
    assert container.knowledge.knowledge_stats.run() == before


async def test_an_uploaded_pdf_whose_xmp_inflates_to_half_a_gib_is_413_and_writes_nothing(
    client: httpx.AsyncClient, container: Container
) -> None:
    """The XMP `/Metadata` stream, which PDFium inflates and parses when it opens a
    file, is charged with the page content (0.5 MB here, under the size that makes an upload
    a background job)."""
    before = container.knowledge.knowledge_stats.run()
    pdf = hostile_inputs.metadata_bomb_pdf(512 * 1024 * 1024)
    response = await _upload(client, "xmp.pdf", pdf)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "input_too_costly"
    detail = response.json()["detail"]
    assert f"more than {BUDGET.max_pdf_content:,} bytes of page content and metadata" in detail
    assert container.knowledge.knowledge_stats.run() == before


def test_uploads_and_the_cli_are_parsed_under_the_cpu_budget_and_the_sample_in_process(
    container: Container,
) -> None:
    """POST /api/documents and `almanac ingest` parse in a child process under
    PARSE_CPU_SECONDS and PARSE_MEMORY_MB (a hostile file the content budget does not see
    costs at most those; the CLI's own test, tests/e2e/test_cli_knowledge.py, stops one);
    bootstrap's bundled sample is read in process, at no cost per document."""
    uploads = container.admin.upload_document._ingest._ingest._loader
    assert isinstance(uploads, BudgetedLoader)
    cli = container.admin.admin_ingest._ingest._loader
    assert isinstance(cli, BudgetedLoader)
    memory = container.settings.documents.parse_memory_mb * 1024 * 1024
    assert uploads._memory_bytes == cli._memory_bytes == memory == BUDGET.parse_memory_bytes
    assert not isinstance(container.knowledge.ingest._loader, BudgetedLoader)


async def test_upload_of_an_empty_file_is_422(client: httpx.AsyncClient) -> None:
    response = await _upload(client, "empty.md", b"")
    assert response.status_code == 422
    assert "empty" in response.json()["detail"]


async def test_upload_over_the_size_limit_is_413(data_dir: Path) -> None:
    container = bootstrap(make_settings(data_dir, max_upload_bytes=1000), clock=FixedClock())
    try:
        async with asgi_client(container) as client:
            response = await _upload(client, "big.txt", b"word " * 500)
    finally:
        container.close()
    assert response.status_code == 413


async def test_upload_without_a_file_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/documents", data={"category": "x"})
    assert response.status_code == 422
    assert "file" in str(response.json()["detail"])


async def test_listing_pages_and_filters_by_category(client: httpx.AsyncClient) -> None:
    page = (await client.get("/api/documents", params={"limit": 5})).json()
    assert page["total"] >= 30 and len(page["documents"]) == 5
    runbooks = (
        await client.get("/api/documents", params={"category": "runbooks", "limit": 100})
    ).json()
    assert runbooks["total"] == len(runbooks["documents"]) >= 8
    assert {doc["category"] for doc in runbooks["documents"]} == {"runbooks"}


async def test_unknown_document_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/documents/999999")).status_code == 404
    assert (await client.delete("/api/documents/999999")).status_code == 404
    assert (await client.get("/api/documents/abc")).status_code == 422
