"""Provider keys never appear in responses or logs, even when a provider fails and echoes the
key back in its error, with every logger at its most verbose; nor do Almanac's own API keys,
valid, revoked or unknown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import respx
from loguru import logger
from pydantic_ai import models as ai_models

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from backend.logging import InterceptHandler
from services.knowledge.embedders import CohereEmbedder, OpenAIEmbedder
from tests.conftest import FixedClock, make_settings
from use_cases.access.domain import CLI_ADMIN
from use_cases.shared.content_log import log_content
from use_cases.shared.errors import UpstreamUnavailable

OPENAI_KEY = "sk-test-FAKEOPENAI-7f3a9c2e41b8d650"
COHERE_KEY = "co-test-FAKECOHERE-2b8e6d4f1a9c3e57"
SECRETS = (OPENAI_KEY, COHERE_KEY, OPENAI_KEY[-12:], COHERE_KEY[-12:])
NOISY_LOGGERS = ("openai", "httpx", "httpcore", "httpx2", "httpcore2", "cohere", "pydantic_ai")
QUESTION = {"message": "How often must passwords be rotated?"}
UI_QUESTION = {
    "trigger": "submit-message",
    "id": "ui-secrets",
    "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Passwords?"}]}],
}


def echoing_error(status: int, key: str) -> httpx.Response:
    """A provider error that repeats the key it was sent (some compatible servers do)."""
    message = f"Incorrect API key provided: {key}. Authorization: Bearer {key}"
    return httpx.Response(
        status, json={"error": {"message": message, "type": "invalid_request_error"}}
    )


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Everything logged, through loguru and every stdlib logger at DEBUG, with content logging
    on (LOG_REQUEST_CONTENT: the libraries' DEBUG lines too), formatted with the production
    options (no variable values in tracebacks)."""
    lines: list[str] = []
    log_content(True)
    sink = logger.add(
        lines.append,
        level="TRACE",
        format="{level} {name} {message}\n{exception}",
        backtrace=False,
        diagnose=False,
    )
    root = logging.getLogger()
    handler = InterceptHandler()
    saved = {name: logging.getLogger(name).level for name in ("", *NOISY_LOGGERS)}
    root.addHandler(handler)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
        logger.remove(sink)
        log_content(False)


@pytest.fixture
def container(data_dir: Path) -> Iterator[Container]:
    settings = make_settings(
        data_dir,
        openai_api_key=OPENAI_KEY,
        cohere_api_key=COHERE_KEY,
        reranker_enabled=True,
        provider_max_retries=0,
        provider_timeout=5.0,
        log_level="TRACE",
    )
    built = bootstrap(settings, clock=FixedClock())
    yield built
    built.close()


@pytest.fixture
def providers(
    monkeypatch: pytest.MonkeyPatch, httpcore2_mock: respx.Router
) -> Iterator[respx.Router]:
    """OpenAI (httpcore2) and Cohere (httpx) both answer 401, echoing the key."""
    monkeypatch.setattr(ai_models, "ALLOW_MODEL_REQUESTS", True)
    httpcore2_mock.post("https://api.openai.com/v1/chat/completions").mock(
        return_value=echoing_error(401, OPENAI_KEY)
    )
    httpcore2_mock.post("https://api.openai.com/v1/embeddings").mock(
        return_value=echoing_error(401, OPENAI_KEY)
    )
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as cohere:
        cohere.post(url__regex=r"https://api\.cohere\.com/v2/(rerank|embed)").mock(
            return_value=echoing_error(401, COHERE_KEY)
        )
        yield cohere


@pytest.fixture
async def client(container: Container, providers: respx.Router) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container=container))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        yield http


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a provider key leaked into {where}"


async def test_no_response_or_log_line_contains_a_provider_key(
    client: httpx.AsyncClient, container: Container, logs: list[str]
) -> None:
    calls = [
        ("POST", "/chat", QUESTION, 502),
        ("POST", "/chat/stream", QUESTION, 200),  # the failure arrives in-stream
        ("POST", "/api/chat", UI_QUESTION, 200),
        ("GET", "/api/search?q=password+rotation", None, 200),  # reranker fails: fused order
        ("POST", "/chat", {"message": "hi", "model": "openai:gpt-5-ultra"}, 422),
        ("GET", "/health", None, 200),
        ("GET", "/model", None, 200),
        ("GET", "/api/v1/settings/default-model", None, 200),
        ("GET", "/openapi.json", None, 200),
        ("GET", "/docs", None, 200),
        ("GET", "/chats", None, 200),
        ("GET", "/nope", None, 404),
    ]
    for method, url, body, status in calls:
        response = await client.request(method, url, json=body)
        assert response.status_code == status, (url, response.text)
        assert_no_secret(response.text, f"the body of {method} {url}")
        assert_no_secret(str(response.headers), f"the headers of {method} {url}")

    chat = container.adapters.history.list_chats("default")[0]
    for message in container.adapters.history.list_messages(chat.id):
        assert_no_secret(repr(message), "the stored chat history")
    log = "\n".join(logs)
    assert "401" in log, "the provider failures were exercised and logged"
    assert "Reranker failed" in log
    assert_no_secret(log, "the logs")


def test_settings_and_the_container_never_show_a_key(container: Container) -> None:
    settings = container.settings
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(container)):
        assert_no_secret(text, "a repr")


@pytest.mark.parametrize("provider", ["openai", "cohere"])
def test_embedding_provider_errors_do_not_repeat_the_key(
    providers: respx.Router, logs: list[str], provider: str
) -> None:
    embedder = (
        OpenAIEmbedder(OPENAI_KEY, max_retries=0, timeout=5.0)
        if provider == "openai"
        else CohereEmbedder(COHERE_KEY, timeout=5.0)
    )
    with pytest.raises(UpstreamUnavailable) as failure:
        embedder.embed_query("password rotation")
    assert "401" in failure.value.detail
    assert_no_secret(failure.value.detail, "the error shown to users")
    assert_no_secret("\n".join(logs), "the logs")


async def test_a_key_passed_in_the_query_string_is_redacted_from_the_request_log(
    client: httpx.AsyncClient, logs: list[str]
) -> None:
    await client.get("/health", params={"api_key": OPENAI_KEY, "keyword": "kept"})
    line = next(line for line in logs if "GET /health" in line)
    assert "api_key=REDACTED" in line and "keyword=kept" in line
    assert_no_secret(line, "the request log")


async def test_an_almanac_api_key_appears_in_no_response_or_log_line(
    data_dir: Path, logs: list[str]
) -> None:
    container = bootstrap(
        make_settings(data_dir, auth_enabled=True, log_level="TRACE"), clock=FixedClock()
    )
    try:
        created = await container.access.create_key.execute(CLI_ADMIN, user_id="root", role="admin")
        revoked = await container.access.create_key.execute(CLI_ADMIN, user_id="ana", role="user")
        await container.access.revoke_key.execute(CLI_ADMIN, revoked.key.id)
        unknown = "alm_" + "x" * 43
        secrets = (created.secret, revoked.secret, unknown)
        calls = [
            ("POST", "/chat", {"Authorization": f"Bearer {created.secret}"}, 200),
            ("GET", "/api/audit", {"X-API-Key": created.secret}, 200),
            ("GET", "/chats", {"Authorization": f"Bearer {revoked.secret}"}, 401),
            ("GET", "/chats", {"X-API-Key": unknown}, 401),
            ("GET", f"/chats?api_key={created.secret}", {}, 401),  # not a way to send a key
        ]
        transport = httpx.ASGITransport(app=create_app(container=container))
        async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
            for method, url, headers, status in calls:
                body = QUESTION if method == "POST" else None
                response = await http.request(method, url, json=body, headers=headers)
                assert response.status_code == status, (url, response.text)
                for secret in secrets:
                    assert secret not in response.text and secret not in str(response.headers)
        stored = repr(await container.access.list_keys.execute(CLI_ADMIN))
        stored += repr(await container.access.list_audit.execute(CLI_ADMIN, limit=50, offset=0))
    finally:
        container.close()
    # The test's own HTTP client logs the URLs it requests; the server's lines are the rest.
    log = "\n".join(line for line in logs if not line.startswith("INFO httpx._client "))
    assert "GET /chats" in log and "api_key=REDACTED" in log
    for secret in secrets:
        assert secret not in log, "an API key leaked into the logs"
        assert secret not in stored, "an API key is stored or listed"
