"""A 405 names every method its path answers, in `Allow` and in the problem's detail, not
only those of the first route the router tried (`DELETE /api/documents` once said `POST`)."""

from __future__ import annotations

import re

import httpx

from backend.api.problems import PROBLEM_MEDIA_TYPE

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_a_405_lists_every_method_of_each_path_that_has_several(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    several = {
        path: {method.upper() for method in operations}
        for path, operations in schema["paths"].items()
        if len(operations) > 1
    }
    assert {"/api/documents", "/api/documents/{document_id}"} <= set(several)
    assert len(several) >= 5, several
    for path, documented in several.items():
        wrong = next(method for method in METHODS if method not in documented)
        response = await client.request(wrong, _concrete(path))
        assert response.status_code == 405, (wrong, path, response.text)
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        allowed = [method.strip() for method in response.headers["allow"].split(",")]
        assert set(allowed) - {"HEAD"} == documented, (path, allowed)
        assert allowed == sorted(allowed, key=METHODS.index), "a stable, conventional order"
        detail = response.json()["detail"]
        assert detail.endswith(f"allowed: {response.headers['allow']}."), detail


async def test_delete_on_the_document_list_names_get_and_post(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/documents")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["detail"] == (
        "DELETE is not allowed on /api/documents; allowed: GET, POST."
    )
