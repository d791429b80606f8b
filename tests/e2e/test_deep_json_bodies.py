"""A request body nested past the JSON parser's recursion, in UTF-8 or UTF-16, is a 4xx on
every route that reads JSON (FastAPI's bodies, the Vercel AI stream's), never a 500; and a
`RecursionError` that any reader might still let out is answered 413 by the app's last
net, with one log line and no traceback."""

from __future__ import annotations

import httpx
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container
from tests.conftest import asgi_client

DEPTH = 5_000
DEEP = '["\u2200",' + "[" * DEPTH + "]" * DEPTH + "]"
BODIES = {
    "utf-8": ('{"message": ' + DEEP + "}").encode(),
    "utf-16-le": ('{"message": ' + DEEP + "}").encode("utf-16-le"),
    "utf-16": ('{"message": ' + DEEP + "}").encode("utf-16"),
}


@pytest.mark.parametrize("encoding", list(BODIES))
@pytest.mark.parametrize("path", ["/chat", "/chat/stream", "/api/chat", "/advice"])
async def test_a_deep_body_is_a_4xx_on_routes_that_read_json(
    container: Container, path: str, encoding: str
) -> None:
    async with asgi_client(container) as http:
        response = await http.post(
            path, content=BODIES[encoding], headers={"content-type": "application/json"}
        )
    assert 400 <= response.status_code < 500, (path, encoding, response.status_code)
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_recursion_error_that_escapes_a_route_is_a_413(container: Container) -> None:
    app = create_app(container=container)

    async def nested_reader() -> None:
        raise RecursionError("maximum recursion depth exceeded")

    app.add_api_route("/nested-reader", nested_reader, methods=["GET"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        response = await http.get("/nested-reader")
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "input_too_costly"
    assert "Traceback" not in response.text
