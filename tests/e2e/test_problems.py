"""Every error of the HTTP API is an RFC 9457 problem document with a stable `code`, and the
OpenAPI description says so for every operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from loguru import logger

from backend.api.problems import PROBLEM_MEDIA_TYPE
from backend.bootstrap import Container

SQLITE_MAX = 2**63 - 1


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG", format="{level} {message}", diagnose=False)
    yield lines
    logger.remove(sink)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "https://almanac.dev/problems/" + code.replace("_", "-")
    assert body["title"] and body["detail"]
    assert body["instance"] == response.request.url.path
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("method", "url", "status", "code", "fragment"),
    [
        ("GET", "/nope", 404, "not_found", "/nope"),
        ("GET", "/api/documents/999999", 404, "not_found", "999999"),
        ("DELETE", "/health", 405, "method_not_allowed", "allowed: GET"),
        ("GET", "/api/search?q=%20", 422, "invalid_request", "empty"),
        ("GET", "/api/documents/abc", 422, "invalid_request", "document_id"),
    ],
)
async def test_errors_are_problem_documents_with_a_stable_code(
    client: httpx.AsyncClient, method: str, url: str, status: int, code: str, fragment: str
) -> None:
    body = assert_problem(await client.request(method, url), status, code)
    assert fragment in body["detail"]


async def test_a_method_not_allowed_names_the_allowed_methods_in_a_header(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put("/chats")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


async def test_validation_problems_list_each_invalid_field(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/search", params={"limit": 0})
    body = assert_problem(response, 422, "invalid_request")
    fields = {error["field"]: error for error in body["errors"]}
    assert set(fields) == {"q", "limit"}
    assert fields["limit"]["loc"] == ["query", "limit"]
    assert "greater than or equal to 1" in fields["limit"]["msg"]
    assert "limit: " in body["detail"] and "q: " in body["detail"]


async def test_a_body_that_is_not_json_is_a_422_saying_so(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/chat", content=b"{not json", headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 422, "invalid_request")
    assert body["errors"][0]["field"] == "body" and "Invalid JSON" in body["detail"]


@pytest.mark.parametrize(
    "url",
    [
        f"/api/documents/{SQLITE_MAX + 1}",
        "/api/documents/99999999999999999999999999",
        "/api/documents?offset=99999999999999999999",
        "/api/documents?limit=99999999999999999999",
        "/api/search?q=x&offset=99999999999999999999",
        "/chats?limit=99999999999999999999",
        "/chats?offset=-99999999999999999999",
    ],
)
async def test_integers_beyond_64_bits_are_a_422_and_log_no_error(
    client: httpx.AsyncClient, log_lines: list[str], url: str
) -> None:
    assert_problem(await client.get(url), 422, "invalid_request")
    if url.startswith("/api/documents/"):
        assert_problem(await client.delete(url), 422, "invalid_request")
    assert not [line for line in log_lines if line.startswith("ERROR")]


async def test_the_largest_sqlite_integer_is_an_ordinary_not_found(
    client: httpx.AsyncClient,
) -> None:
    assert_problem(await client.get(f"/api/documents/{SQLITE_MAX}"), 404, "not_found")


async def test_an_unexpected_failure_is_a_500_naming_the_request_id_logged_once(
    client: httpx.AsyncClient,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
    log_lines: list[str],
) -> None:
    async def broken() -> None:
        raise RuntimeError("disk on fire at /srv/almanac/secret-path")

    monkeypatch.setattr(container.knowledge.check_health, "execute", broken)
    response = await client.get("/health", headers={"x-request-id": "req-42"})
    body = assert_problem(response, 500, "internal_error")
    assert "req-42" in body["detail"]
    assert "disk on fire" not in response.text
    errors = [line for line in log_lines if line.startswith("ERROR")]
    assert len(errors) == 1 and "Unhandled error on GET /health" in errors[0]


async def test_openapi_documents_every_error_response_as_a_problem(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "code",
        "title",
        "status",
        "detail",
    ]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "500" in responses, f"{method} {path}"
            # /v1 is the OpenAI-compatible API: its errors are OpenAI's, never a 413 or 422
            media, component = (
                ("application/json", "OpenAIError")
                if path.startswith("/v1/")
                else (PROBLEM_MEDIA_TYPE, "Problem")
            )
            if path.startswith("/v1/"):
                assert not {"413", "422"} & set(responses), f"{method} {path}"
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == [media], f"{method} {path}"
                    schema = response["content"][media]["schema"]
                    assert schema == {"$ref": f"#/components/schemas/{component}"}


async def test_openapi_bounds_every_integer_parameter_below_sqlite_overflow(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    integers = [
        (path, parameter)
        for path, operations in spec["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["schema"].get("type") == "integer"
        or any(option.get("type") == "integer" for option in parameter["schema"].get("anyOf", []))
    ]
    assert len(integers) >= 8
    for path, parameter in integers:
        schema = parameter["schema"]
        bounded = [schema, *schema.get("anyOf", [])]
        maxima = [s["maximum"] for s in bounded if "maximum" in s]
        minima = [s["minimum"] for s in bounded if "minimum" in s]
        assert maxima and max(maxima) <= SQLITE_MAX, (path, parameter["name"])
        assert minima and min(minima) >= -SQLITE_MAX, (path, parameter["name"])
