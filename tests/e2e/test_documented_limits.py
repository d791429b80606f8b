"""Every bound a client reads is the bound the server keeps: the numbers in the OpenAPI
parameter and field descriptions and in docs/api.md agree with the schema's own `minimum`,
`maximum`, `minLength`, ... and the server accepts a value at each bound of a query parameter
and refuses one past it (once, `GET /chats?limit=500` was documented and refused)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from backend.config import PROJECT_ROOT

SQLITE_MAX = 2**63 - 1
#: A whole number ("500", "1,000,000", "2^63-1"), not part of a decimal ("0.7-0.8").
_NUMBER = r"(?<![\d.])(2\^63-1|\d(?:[\d,]*\d)?)(?!\.\d)"
_RANGE = re.compile(rf"{_NUMBER}\s*(?:-|–|to)\s*{_NUMBER}")
_AT_MOST = re.compile(rf"\b(?:at most|up to)\s+{_NUMBER}", re.I)
_OR_MORE = re.compile(rf"{_NUMBER}\s+or more\b")
#: The schema keywords that bound a value, by its JSON type.
_BOUND_KEYS = {
    "integer": ("minimum", "maximum"),
    "number": ("minimum", "maximum"),
    "string": ("minLength", "maxLength"),
    "array": ("minItems", "maxItems"),
}
#: Path parameters filled with values that exist, so a request reaches the query's checks.
_PATH_VALUES = {"prompt_type": "chat", "task_id": "answers", "table": "directory"}


def _number(text: str) -> int:
    return SQLITE_MAX if text == "2^63-1" else int(text.replace(",", ""))


def documented_bounds(text: str) -> tuple[int | None, int | None] | None:
    """The (min, max) a description states: "1 to 500", "0-500", "at most 50", "1 or more"."""
    if match := _RANGE.search(text):
        return _number(match[1]), _number(match[2])
    if match := _AT_MOST.search(text):
        return None, _number(match[1])
    if match := _OR_MORE.search(text):
        return _number(match[1]), None
    return None


def schema_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None]:
    """The (min, max) a schema keeps (through `anyOf: [X, null]`)."""
    for variant in schema.get("anyOf", [schema]):
        keys = _BOUND_KEYS.get(variant.get("type", ""))
        if keys:
            return variant.get(keys[0]), variant.get(keys[1])
    return None, None


def _parameters(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, parameter)
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
    ]


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/openapi.json")).json()


def test_the_parser_reads_the_ways_bounds_are_written() -> None:
    assert documented_bounds("Items to skip (0 to 1,000,000).") == (0, 1_000_000)
    assert documented_bounds("search `limit` 1-50") == (1, 50)
    assert documented_bounds("ids 1 to 2^63-1") == (1, SQLITE_MAX)
    assert documented_bounds("values for the template (at most 50)") == (None, 50)
    assert documented_bounds("The id (1 or more).") == (1, None)
    assert documented_bounds("Items per page.") is None
    assert documented_bounds("The confidence band, e.g. `0.7-0.8`.") is None


async def test_every_described_bound_is_the_schemas_own(openapi: dict[str, Any]) -> None:
    described: list[tuple[str, str, dict[str, Any]]] = [
        (f"{method} {path} {parameter['name']}", parameter.get("description", ""), parameter)
        for method, path, parameter in _parameters(openapi)
    ]
    for name, component in openapi["components"]["schemas"].items():
        for field, schema in component.get("properties", {}).items():
            described.append((f"{name}.{field}", schema.get("description", ""), schema))
    checked = 0
    for where, description, holder in described:
        stated = documented_bounds(description)
        if stated is None:
            continue
        low, high = schema_bounds(holder.get("schema", holder))
        assert stated[0] in (None, low) and stated[1] in (None, high), (
            f"{where}: the description says {description!r}, the schema keeps {low} to {high}"
        )
        checked += 1
    assert checked >= 20, "the descriptions state the bounds of the bounded parameters"


def _limits_row() -> str:
    text = (PROJECT_ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return next(line for line in text.splitlines() if "Integer path and query" in line)


async def test_the_limits_table_of_the_api_docs_is_the_schemas(openapi: dict[str, Any]) -> None:
    row = _limits_row()
    ids = documented_bounds(row.split("ids", 1)[1])
    search = {
        name: documented_bounds(
            row.split(f"search `{name}`" if name == "limit" else f"`{name}`")[1]
        )
        for name in ("limit", "offset")
    }
    listing = row.split("list ", 1)[1]
    lists = {
        "limit": documented_bounds(listing.split("`limit`", 1)[1]),
        "offset": documented_bounds(listing.split("`offset`", 1)[1]),
    }
    operations: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for method, path, parameter in _parameters(openapi):
        operations.setdefault((method, path), {})[parameter["name"]] = parameter
    paged = 0
    for (method, path), parameters in operations.items():
        for name, parameter in parameters.items():
            bounds = schema_bounds(parameter["schema"])
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                assert bounds == ids, (method, path, name)
        # The same bounds at the conversation backend's path.
        if path in ("/api/search", "/api/search/"):
            for name in ("limit", "offset"):
                assert schema_bounds(parameters[name]["schema"]) == search[name], name
        elif {"limit", "offset"} <= set(parameters):
            paged += 1
            for name in ("limit", "offset"):
                assert schema_bounds(parameters[name]["schema"]) == lists[name], (path, name)
    assert paged >= 5  # documents, chats, audit, prompt versions, evaluation runs and tasks


async def test_the_server_accepts_each_bound_of_a_query_parameter_and_refuses_past_it(
    client: httpx.AsyncClient, openapi: dict[str, Any]
) -> None:
    checked = []
    for method, path, parameter in _parameters(openapi):
        schema = parameter["schema"]
        if method != "GET" or parameter["in"] != "query":
            continue
        if not any(variant.get("type") == "integer" for variant in schema.get("anyOf", [schema])):
            continue
        url = re.sub(r"\{([^}]+)\}", lambda m: _PATH_VALUES.get(m[1], "1"), path)
        # The other required parameters, each given a value it accepts: for an integer 2, no
        # bound tried here, so two that must differ (a compare's `a` and `b`) do.
        required = {
            other["name"]: "2" if other["schema"].get("type") == "integer" else "password rotation"
            for other in openapi["paths"][path]["get"].get("parameters", [])
            if other["in"] == "query" and other.get("required") and other is not parameter
        }
        low, high = schema_bounds(schema)
        for inside, outside in (
            (low, None if low is None else low - 1),
            (high, None if high is None else high + 1),
        ):
            if inside is None:
                continue
            accepted = await client.get(url, params={**required, parameter["name"]: inside})
            assert accepted.status_code != 422, (path, parameter["name"], inside, accepted.text)
            refused = await client.get(url, params={**required, parameter["name"]: outside})
            assert refused.status_code == 422, (path, parameter["name"], outside)
        checked.append(f"{path} {parameter['name']}")
    assert "/chats limit" in checked and "/api/documents limit" in checked, checked
