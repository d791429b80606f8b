"""Conversation summaries and chat search over HTTP (`/api/conversations/{id}/summary`,
`GET /api/search?scope=chats`): the offline extractive summary for real, the OpenAI
map-reduce path with HTTP mocked by respx (httpcore2), and search that finds a paraphrase
through vectors but never another user's chat. One container for the module (chats are seeded
straight into the history store; each test uses its own chat ids)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
from pydantic_ai import models as ai_models

from backend.bootstrap import Container, bootstrap
from services.conversations.search_index import bm25_ranking
from services.offline.summary import split_sentences
from tests.conftest import FixedClock, asgi_client, issue_key, make_settings
from tests.respx_httpcore2 import HTTPCore2Mocker  # noqa: F401 - registers the mocker
from use_cases.chat.domain import MessageRole, NewMessage

COMPLETIONS = "https://api.openai.com/v1/chat/completions"
OFFSITE = "We moved the quarterly offsite to Lisbon."
#: A paraphrase sharing no word stem with OFFSITE (BM25 alone cannot find it).
PARAPHRASE = "relocating the team retreat to Portugal"


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    settings = make_settings(
        tmp_path_factory.mktemp("conversations"),
        auth_enabled=True,
        openai_api_key="sk-test",
        allowed_models="offline-extractive,openai:gpt-4.1-mini",
        default_model="offline-extractive",
        provider_max_retries=0,
        summary_chunk_tokens=200,
    )
    built = bootstrap(settings, clock=FixedClock())
    history = built.adapters.history
    for user in ("ana", "bob", "cy"):
        history.ensure_user(user)
    yield built
    built.close()


@pytest.fixture(scope="module")
def keys(container: Container) -> dict[str, dict[str, str]]:
    async def issue() -> dict[str, dict[str, str]]:
        return {
            "ana": await issue_key(container, "ana"),
            "bob": await issue_key(container, "bob"),
            "cy": await issue_key(container, "cy"),
            "admin": await issue_key(container, "root", role="admin"),
        }

    return asyncio.run(issue())


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(container) as http:
        yield http


def sentences(message: Any) -> list[str]:
    return split_sentences(message.content)


def seed(container: Container, chat_id: str, user: str, *turns: str, title: str = "") -> None:
    history = container.adapters.history
    history.get_or_create_chat(chat_id, user, title or turns[0])
    for n, text in enumerate(turns):
        role: MessageRole = "user" if n % 2 == 0 else "assistant"
        model = "offline-extractive" if role == "assistant" else None
        history.append_message(chat_id, NewMessage(role=role, content=text, model=model))


async def test_a_summary_is_made_offline_read_edited_and_goes_stale(
    container: Container, keys: dict[str, dict[str, str]], client: httpx.AsyncClient
) -> None:
    seed(
        container,
        "sum-1",
        "ana",
        "Where will the quarterly offsite be held this year?",
        f"{OFFSITE} The venue is booked for the second week of March. Flights are booked by "
        "the travel desk. Hotel rooms are shared.",
        "Who pays for the dinners during the offsite?",
        "The company pays for every dinner of the offsite. Drinks are not covered.",
    )
    ana = keys["ana"]
    url = "/api/conversations/sum-1/summary"
    assert (await client.get(url, headers=ana)).status_code == 404  # none made yet

    made = await client.post(url, headers=ana)
    assert made.status_code == 200, made.text
    summary = made.json()
    assert summary["model"] == "offline-extractive" and not summary["edited"]
    assert summary["message_count"] == 4 and not summary["stale"]
    said = {s for m in container.adapters.history.list_messages("sum-1") for s in sentences(m)}
    picked = split_sentences(summary["text"])
    assert 2 <= len(picked) <= 5 and set(picked) <= said  # extractive: its own sentences
    assert picked[0].startswith("Where will the quarterly offsite")  # in conversation order
    assert len(summary["text"]) <= container.settings.conversation_search.summary_max_chars
    assert (await client.get(url, headers=ana)).json() == summary

    edited = await client.patch(url, headers=ana, json={"text": "Offsite: Lisbon, March."})
    assert edited.status_code == 200
    assert edited.json()["edited"] and edited.json()["text"] == "Offsite: Lisbon, March."
    assert edited.json()["created_at"] == summary["created_at"]

    seed_more = container.adapters.history
    seed_more.append_message("sum-1", NewMessage(role="user", content="And the agenda?"))
    assert (await client.get(url, headers=ana)).json()["stale"] is True

    remade = await client.post(url, headers=ana, json={"model": "offline-extractive"})
    assert remade.json()["message_count"] == 5 and not remade.json()["edited"]


async def test_someone_elses_summary_answers_as_a_missing_chat(
    container: Container, keys: dict[str, dict[str, str]], client: httpx.AsyncClient
) -> None:
    seed(container, "sum-2", "ana", "A private question about my salary review.")
    url = "/api/conversations/sum-2/summary"
    assert (await client.post(url, headers=keys["ana"])).status_code == 200
    for method, body in (("GET", None), ("POST", None), ("PATCH", {"text": "mine now"})):
        answer = await client.request(method, url, headers=keys["bob"], json=body)
        assert answer.status_code == 404, (method, answer.text)
        assert answer.json()["detail"] == "No chat with id sum-2."
    missing = await client.get("/api/conversations/nope/summary", headers=keys["bob"])
    assert missing.json()["detail"] == "No chat with id nope."
    acting = await client.get(url, headers=keys["admin"], params={"user_id": "ana"})
    assert acting.status_code == 200  # an admin acting for the owner
    assert (await client.get(url, headers=keys["ana"])).json()["edited"] is False


async def test_bad_summary_requests_get_problems_and_change_nothing(
    container: Container, keys: dict[str, dict[str, str]], client: httpx.AsyncClient
) -> None:
    seed(container, "sum-3", "ana", "Short chat about printers.")
    url = "/api/conversations/sum-3/summary"
    ana = keys["ana"]
    assert (await client.patch(url, headers=ana, json={"text": "x"})).status_code == 404
    unknown = await client.post(url, headers=ana, json={"model": "openai:gpt-9"})
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert (await client.patch(url, headers=ana, json={"text": ""})).status_code == 422
    assert (await client.get(url, headers=ana)).status_code == 404
    container.adapters.history.get_or_create_chat("sum-empty", "ana", "Empty")
    empty = await client.post("/api/conversations/sum-empty/summary", headers=ana)
    assert empty.status_code == 422 and "no messages" in empty.json()["detail"]


def _completion(text: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4.1-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        },
    )


async def test_a_long_conversation_is_summarised_by_map_reduce_with_the_chat_model(
    container: Container,
    keys: dict[str, dict[str, str]],
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 12 messages of ~300 characters (~75 tokens) under a 200-token budget: 6 map chunks of
    # 2 messages, then one reduce over the 6 short partial summaries.
    turns = [f"Message {n}: " + "the migration plan needs another review. " * 7 for n in range(12)]
    seed(container, "sum-long", "ana", *turns)
    seen: list[dict[str, Any]] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return _completion(f"Partial summary {len(seen)}.")

    monkeypatch.setattr(ai_models, "ALLOW_MODEL_REQUESTS", True)
    with respx.mock(using="httpcore2", assert_all_called=False) as router:
        router.post(COMPLETIONS).mock(side_effect=reply)
        made = await client.post(
            "/api/conversations/sum-long/summary",
            headers=keys["ana"],
            json={"model": "openai:gpt-4.1-mini"},
        )
    assert made.status_code == 200, made.text
    assert made.json()["model"] == "openai:gpt-4.1-mini"
    assert len(seen) == 7  # 6 maps + 1 reduce
    assert made.json()["text"] == "Partial summary 7."
    last = seen[-1]["messages"]
    assert "Partial summary 1." in last[-1]["content"]
    assert "Partial summary 6." in last[-1]["content"]
    assert "Message 0:" in seen[0]["messages"][-1]["content"]
    assert "summarise part of a conversation" in seen[0]["messages"][0]["content"]
    assert "partial summaries" in seen[-1]["messages"][0]["content"]

    with respx.mock(using="httpcore2", assert_all_called=False) as router:
        router.post(COMPLETIONS).mock(return_value=httpx.Response(500, json={"error": {}}))
        failed = await client.post(
            "/api/conversations/sum-long/summary",
            headers=keys["ana"],
            json={"model": "openai:gpt-4.1-mini"},
        )
    assert failed.status_code in (502, 503)
    assert "Traceback" not in failed.text
    kept = await client.get("/api/conversations/sum-long/summary", headers=keys["ana"])
    assert kept.json()["text"] == "Partial summary 7."  # a failed run wrote nothing


async def test_chat_search_finds_a_paraphrase_but_never_another_users_chat(
    container: Container, keys: dict[str, dict[str, str]], client: httpx.AsyncClient
) -> None:
    seed(container, "find-cy", "cy", "Travel notes", OFFSITE, title="Travel notes")
    seed(container, "find-bob", "bob", "Travel notes", OFFSITE, title="Travel notes")
    seed(container, "find-other", "cy", "Can I deploy to production on Friday?")
    assert bm25_ranking(PARAPHRASE, [OFFSITE]) == []  # no shared stem: vectors must find it

    found = await client.get(
        "/api/search", headers=keys["cy"], params={"scope": "chats", "q": PARAPHRASE}
    )
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["scope"] == "chats" and body["query"] == PARAPHRASE
    first = body["hits"][0]
    assert (first["chat_id"], first["matched"], first["snippet"]) == ("find-cy", "message", OFFSITE)
    assert first["message_id"] and first["status"] == "complete"
    every = {hit["chat_id"] for hit in body["hits"]}
    assert "find-bob" not in every and "find-other" not in every

    words = await client.get(
        "/api/search", headers=keys["bob"], params={"scope": "chats", "q": "Lisbon offsite"}
    )
    assert [hit["chat_id"] for hit in words.json()["hits"]] == ["find-bob"]
    acting = await client.get(
        "/api/search",
        headers=keys["admin"],
        params={"scope": "chats", "q": "Lisbon offsite", "user_id": "bob"},
    )
    assert [hit["chat_id"] for hit in acting.json()["hits"]] == ["find-bob"]
    refused = await client.get(
        "/api/search",
        headers=keys["cy"],
        params={"scope": "chats", "q": "Lisbon", "user_id": "bob"},
    )
    assert refused.status_code == 403


async def test_chat_search_filters_sorts_and_pages(
    container: Container, keys: dict[str, dict[str, str]], client: httpx.AsyncClient
) -> None:
    history = container.adapters.history
    seed(container, "page-a", "ana", "Budget for the kiosk rollout", title="Kiosk alpha")
    seed(container, "page-b", "ana", "Kiosk rollout dates", "In May.", title="Kiosk beta")
    history.get_or_create_chat("page-c", "ana", "Kiosk gamma")
    asked = {"scope": "chats", "q": "kiosk rollout"}
    ana = keys["ana"]

    by_title = await client.get(
        "/api/search", headers=ana, params={**asked, "sort_by": "title", "limit": 2}
    )
    body = by_title.json()
    assert [h["title"] for h in body["hits"]] == ["Kiosk alpha", "Kiosk beta"]
    assert body["total"] >= 3 and body["limit"] == 2
    paged = await client.get(
        "/api/search",
        headers=ana,
        params={**asked, "sort_by": "title", "sort_dir": "desc", "offset": 1, "limit": 1},
    )
    assert [h["title"] for h in paged.json()["hits"]] == ["Kiosk beta"]
    empty = await client.get("/api/search", headers=ana, params={**asked, "status": "empty"})
    assert [h["chat_id"] for h in empty.json()["hits"]] == ["page-c"]
    assert empty.json()["hits"][0]["matched"] == "title"
    bad = await client.get("/api/search", headers=ana, params={**asked, "status": "lost"})
    assert bad.status_code == 422


async def test_document_search_is_unchanged_by_the_chat_scope(
    keys: dict[str, dict[str, str]], client: httpx.AsyncClient
) -> None:
    ana = keys["ana"]
    plain = await client.get("/api/search", headers=ana, params={"q": "passwords"})
    scoped = await client.get(
        "/api/search", headers=ana, params={"q": "passwords", "scope": "documents"}
    )
    assert plain.status_code == scoped.status_code == 200
    assert plain.json() == scoped.json()
    assert set(plain.json()) == {"query", "limit", "offset", "category", "reranked", "hits"}
