"""A key in the logs is redacted by its shape, not by the name it came under: an Almanac API key
or a Bearer token in any query parameter, header or path leaves no trace in the log, at the
most verbose level with content logging on (LOG_REQUEST_CONTENT), where uvicorn logs each
request's raw query string as well as ours. With content logging off (the default), what a
query string says is not logged at all, at any level."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from loguru import logger
from uvicorn.middleware.message_logger import MessageLoggerMiddleware

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.logging import configure_logging
from use_cases.access.domain import CLI_ADMIN


@contextmanager
def _logged_at_trace(*, content: bool) -> Iterator[list[str]]:
    """Every line logged with the server's own set-up at LOG_LEVEL=TRACE."""
    lines: list[str] = []
    configure_logging("TRACE", content=content)
    sink = logger.add(lines.append, level="TRACE", format="{level} {name} {message}")
    try:
        yield lines
    finally:
        logger.remove(sink)
        configure_logging("WARNING")


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every line logged at LOG_LEVEL=TRACE with LOG_REQUEST_CONTENT=true: all there is."""
    with _logged_at_trace(content=True) as lines:
        yield lines


async def test_a_key_under_any_parameter_or_header_name_is_not_logged(
    auth_container: Container, logs: list[str]
) -> None:
    created = await auth_container.access.create_key.execute(CLI_ADMIN, user_id="ana", role="user")
    other = await auth_container.access.create_key.execute(CLI_ADMIN, user_id="bob", role="user")
    key, token = created.secret, other.secret
    # What uvicorn puts in front of the app when its log level is TRACE.
    app: Any = MessageLoggerMiddleware(create_app(container=auth_container))  # type: ignore[arg-type]  # one ASGI app, typed apart by uvicorn, Starlette, httpx
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        response = await http.get(
            "/chats",
            params={"foo": key, "q": f"Bearer {token}", "limit": "5"},
            headers={"X-Whatever": key, "Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        missing = await http.get(f"/api/documents/{token}", headers={"X-API-Key": key})
        assert missing.status_code == 422  # not a document id; the path is logged all the same

    log = "\n".join(logs)
    assert "GET /chats?foo=alm_REDACTED" in log and "limit=5" in log, log
    assert "GET /api/documents/alm_REDACTED" in log
    assert "Started scope=" in log  # uvicorn's trace lines were captured too
    for secret in (key, token, key[4:20], token[4:20]):
        assert secret not in log, "an API key leaked into the logs"


async def test_a_request_cannot_write_a_log_line_of_its_own(
    auth_container: Container, logs: list[str]
) -> None:
    app: Any = MessageLoggerMiddleware(create_app(container=auth_container))  # type: ignore[arg-type]  # one ASGI app, typed apart by uvicorn, Starlette, httpx
    forged = "2026-11-27 04:00:01.000 | WARNING | backend.api | FORGED"
    session = "ses_" + "Qz9-_k" * 7 + "Y"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        path = "/chats/x%0a" + forged.replace(" ", "%20") + "/messages"
        assert (await http.get(path)).status_code == 401  # no key: refused, and still logged
        response = await http.get(
            "/chats",
            params={"almanac_session": session, "q": "a\r\nb"},
            headers={"X-Note": "c\x1bd", "Cookie": f"almanac_session={session}"},
        )
        assert response.status_code == 401

    assert any("FORGED" in line for line in logs)  # the request was logged...
    for record in logs:  # ...but every record stays on one line, and no secret is in it
        line = record.removesuffix("\n")  # the sink's own end of line
        assert "\n" not in line and "\r" not in line and "\x1b" not in line, line
        assert session[4:20] not in line
    assert any("/chats/x\\n2026-11-27" in line for line in logs)


@pytest.mark.parametrize("content", [False, True])
async def test_what_people_search_for_and_ask_is_logged_only_with_content_logging(
    container: Container, content: bool
) -> None:
    """Off (the default), a search's query string is logged as its length and the question's
    words nowhere, at the most verbose level; on, both are (so this test can fail)."""
    planted = "zebrafinch-salary-of-jane"
    app: Any = MessageLoggerMiddleware(create_app(container=container))  # type: ignore[arg-type]  # one ASGI app, typed apart by uvicorn, Starlette, httpx
    transport = httpx.ASGITransport(app=app)
    with _logged_at_trace(content=content) as lines:
        async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
            params = {"q": planted, "meta": f"owner:{planted}", "limit": "3"}
            response = await http.get("/api/search", params=params)
            assert response.status_code == 200, response.text
            query = response.request.url.query.decode()
            asked = await http.post("/chat", json={"message": f"What does {planted} earn?"})
            assert asked.status_code == 200, asked.text

    log = "\n".join(lines)
    assert "POST /chat -> 200" in log, log
    if content:
        assert f"GET /api/search?{query} -> 200" in log, log
        assert "absent ['zebrafinch" in log, log  # the offline model's reasoning
        assert "Started scope=" in log and "zebrafinch" in log  # uvicorn's ASGI messages
    else:
        assert "zebrafinch" not in log, "a search term or a question was logged"
        assert "owner" not in log  # nor a filter's key
        assert f"GET /api/search?[{len(query)} chars] -> 200" in log, log
