"""A long chat read a page at a time (memory bounded like CPU): a 200,000-message
chat's pages are each the limit's size, chain to both ends without gaps or repeats, and cost
the server a few MiB each where the whole list cost hundreds; the limit's default and maximum
and the cursors are checked (422 problems, never a 500); the conversation backend's route
keeps its shape; the Markdown export streams the whole chat in order.

The long chat is made once for the module, through the store's import (as an export's
conversation is stored): ~7 s of wall time and ~3 s of CPU on a 2-core machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, asgi_client, make_settings
from tests.memory_peak import MiB, tree_peak
from use_cases.conversations.import_domain import ImportedConversation, ImportedMessage

LONG = 200_000
#: A page's read costs the server a few MiB (0 to 5 measured); the whole 200,000-message list
#: read at once cost ~450 MiB (and a 500,000-message one +1.0 to 1.4 GiB).
PAGE_MEMORY = 40 * MiB


def line(n: int) -> str:
    return f"Line {n}"


@pytest.fixture(scope="module")
def long_chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, str]]:
    container = bootstrap(make_settings(tmp_path_factory.mktemp("long")), clock=FixedClock())
    messages = tuple(
        ImportedMessage("user" if n % 2 else "assistant", line(n)) for n in range(1, LONG + 1)
    )
    conversation = ImportedConversation("claude", "long-1", "A long chat", messages)
    user = container.settings.auth.default_user_id
    outcome = container.adapters.history.import_conversation(user, conversation)
    assert outcome.messages == LONG
    try:
        yield container, outcome.chat.id
    finally:
        container.close()


async def read(http: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    response = await http.get(path, params=params or None)  # {} would drop a query in `path`
    assert response.status_code == 200, response.text
    return response


def numbers(messages: list[dict[str, Any]]) -> list[int]:
    return [int(m["content"].removeprefix("Line ")) for m in messages]


async def test_each_page_of_a_long_chat_has_the_limits_size_and_costs_little_memory(
    long_chat: tuple[Container, str],
) -> None:
    container, chat_id = long_chat
    path = f"/chats/{chat_id}/messages"
    async with asgi_client(container) as http:
        # Uncompressed: the first zstd response of a process keeps ~50 MiB whatever its size
        # (measured alike on any 0.4 MB answer), which is not what a page costs.
        http.headers["Accept-Encoding"] = "identity"
        default = (await read(http, path)).json()  # also warms the app up before measuring
        assert numbers(default["messages"]) == list(range(LONG - 99, LONG + 1))
        assert (default["earlier"], default["later"]) == (LONG - 99, None)
        for params, first in (
            ({"after": 0}, 1),
            ({"before": LONG // 2}, LONG // 2 - 1000),
            ({"after": LONG // 2}, LONG // 2 + 1),
            ({}, LONG - 999),
        ):
            with tree_peak(os.getpid()) as peak:
                page = (await read(http, path, limit=1000, **params)).json()
            assert numbers(page["messages"]) == list(range(first, first + 1000)), params
            assert peak.growth < PAGE_MEMORY, (params, str(peak))


async def test_pages_chain_by_their_links_to_both_ends_without_gaps_or_repeats(
    long_chat: tuple[Container, str],
) -> None:
    container, chat_id = long_chat
    path = f"/chats/{chat_id}/messages"
    async with asgi_client(container) as http:
        # From the first page on, by `Link: rel="next"`, across the first 3,000 messages...
        response = await read(http, path, after=0, limit=1000)
        assert "prev" not in response.links and response.json()["earlier"] is None
        seen: list[int] = []
        while len(seen) < 3000:
            seen += numbers(response.json()["messages"])
            response = await read(http, response.links["next"]["url"])
        assert seen == list(range(1, 3001))
        # ...and back from the last page, by `earlier`, across the last 3,000.
        body = (await read(http, path, limit=1000)).json()
        assert body["later"] is None
        seen = []
        while len(seen) < 2500:
            seen[:0] = numbers(body["messages"])
            body = (await read(http, path, limit=1000, before=body["earlier"])).json()
        assert seen == list(range(LONG - 2999, LONG + 1))
        # The whole chat, chained page by page (`ManageChats.pages`): the export's order.
        async with http.stream("GET", f"/chats/{chat_id}/export") as exported:
            assert exported.status_code == 200
            assert exported.headers["content-type"].startswith("text/markdown")
            text = (await exported.aread()).decode()
        bodies = [chunk.split("\n\n", 2)[1].strip() for chunk in text.split("\n## ")[1:]]
        assert bodies == [line(n) for n in range(1, LONG + 1)]


async def test_the_limit_has_a_default_and_a_maximum_and_bad_cursors_are_422_problems(
    long_chat: tuple[Container, str],
) -> None:
    container, chat_id = long_chat
    path = f"/chats/{chat_id}/messages"
    async with asgi_client(container) as http:
        assert len((await read(http, path)).json()["messages"]) == 100
        over = await http.get(path, params={"limit": 1001})
        assert over.status_code == 422 and "1000" in over.json()["detail"], over.text
        for params in (
            {"limit": 0},
            {"before": "abc"},
            {"after": "1.5"},
            {"before": -1},
            {"after": 2**31},
            {"before": "9" * 40},
            {"before": 5, "after": 3},
        ):
            response = await http.get(
                path, params=params or None
            )  # {} would drop a query in `path`
            assert response.status_code == 422, (params, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["detail"], params


async def test_document_002s_conversation_keeps_its_shape_a_page_at_a_time(
    long_chat: tuple[Container, str],
) -> None:
    container, chat_id = long_chat
    async with asgi_client(container) as http:
        response = await read(http, f"/api/conversations/{chat_id}")
        detail = response.json()
        assert {"id", "url", "title", "import_date", "is_locked", "imported_chat"} <= set(detail)
        assert numbers(detail["imported_chat"]) == list(range(LONG - 99, LONG + 1))
        assert {m["role"] for m in detail["imported_chat"]} == {"user", "assistant"}
        assert (detail["earlier"], detail["later"]) == (LONG - 99, None)
        assert response.links["prev"]["url"].endswith(f"before={LONG - 99}")
        start = (await read(http, f"/api/conversations/{chat_id}", after=0, limit=3)).json()
        assert numbers(start["imported_chat"]) == [1, 2, 3]
        assert (start["earlier"], start["later"]) == (None, 3)


async def test_a_short_chat_is_whole_on_one_page_with_no_links(tmp_path: Path) -> None:
    container = bootstrap(make_settings(tmp_path), clock=FixedClock())
    try:
        async with asgi_client(container) as http:
            sent = await http.post("/chat", json={"message": "How often are passwords rotated?"})
            chat_id = sent.json()["chat_id"]
            response = await read(http, f"/chats/{chat_id}/messages")
        body = response.json()
        assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
        assert (body["earlier"], body["later"]) == (None, None)
        assert "link" not in response.headers
    finally:
        container.close()
