"""A chat page's cursors are always ones the server accepts: a page with no messages (before
the first, past the last) has null cursors and no `Link`, and every cursor a page names, or a
`Link` points at, is followed with a 200 on both routes that page a chat
(`GET /chats/{id}/messages`, `GET /api/conversations/{id}`).

The probe that found it: `?before=0` answered `"later": -1` with a `Link` to `after=-1`, and
`?after=2147483647` answered `"earlier": 2147483648`; following either was a 422."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, asgi_client, make_settings
from use_cases.chat.domain import MAX_POSITION, MessagePage
from use_cases.chat.manage_chats import ManageChats
from use_cases.chat.ports import HistoryStore
from use_cases.conversations.import_domain import ImportedConversation, ImportedMessage

COUNT = 7


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, str]]:
    container = bootstrap(make_settings(tmp_path_factory.mktemp("cursors")), clock=FixedClock())
    messages = tuple(
        ImportedMessage("user" if n % 2 else "assistant", f"Line {n}") for n in range(1, COUNT + 1)
    )
    conversation = ImportedConversation("claude", "cursors-1", "Seven lines", messages)
    user = container.settings.auth.default_user_id
    outcome = container.adapters.history.import_conversation(user, conversation)
    try:
        yield container, outcome.chat.id
    finally:
        container.close()


def _paths(chat_id: str) -> list[tuple[str, str]]:
    return [
        (f"/chats/{chat_id}/messages", "messages"),
        (f"/api/conversations/{chat_id}", "imported_chat"),
    ]


@pytest.mark.parametrize(
    "params",
    [{"before": 0}, {"before": 1}, {"after": MAX_POSITION}, {"after": COUNT}],
    ids=["before=0", "before=first", "after=2147483647", "after=last"],
)
async def test_an_empty_page_has_null_cursors_and_no_link(
    chat: tuple[Container, str], params: dict[str, int]
) -> None:
    container, chat_id = chat
    async with asgi_client(container) as http:
        for path, field in _paths(chat_id):
            response = await http.get(path, params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body[field] == []
            assert (body["earlier"], body["later"]) == (None, None), (path, params, body)
            assert "link" not in response.headers, (path, params)


async def test_every_cursor_and_link_a_page_names_is_followed_with_a_200(
    chat: tuple[Container, str],
) -> None:
    """From every starting cursor (each edge, and each position), each cursor in the body and
    each `Link` is followed: none is refused."""
    container, chat_id = chat
    starts: list[dict[str, int]] = [{}]
    for n in (0, 1, 2, COUNT - 1, COUNT, COUNT + 1, MAX_POSITION):
        starts += [{"before": n}, {"after": n}]
    async with asgi_client(container) as http:
        for path, _field in _paths(chat_id):
            for start in starts:
                response = await http.get(path, params={"limit": 2, **start})
                assert response.status_code == 200, (path, start, response.text)
                body = response.json()
                for name, cursor in (("before", body["earlier"]), ("after", body["later"])):
                    if cursor is None:
                        continue
                    params = {"limit": 2, name: cursor}
                    again = await http.get(path, params=params)
                    assert again.status_code == 200, (path, start, params, again.text)
                for link in response.links.values():
                    again = await http.get(link["url"])
                    assert again.status_code == 200, (path, start, link, again.text)
                    assert again.json()["earlier"] != -1 and again.json()["later"] != -1


class _OutOfRange:
    """The real history store, but its pages name cursors a request may not."""

    def __init__(self, history: HistoryStore) -> None:
        self._history = history

    def __getattr__(self, name: str) -> object:
        return getattr(self._history, name)

    def page_messages(self, chat_id: str, **kwargs: Any) -> MessagePage:
        page = self._history.page_messages(chat_id, **kwargs)
        return replace(page, earlier=-1, later=MAX_POSITION + 1)


async def test_cursors_from_any_store_are_kept_in_the_range_a_request_may_name(
    chat: tuple[Container, str],
) -> None:
    """The use case keeps the rule whatever store reads the page: a cursor outside 0 to
    2^31-1 is dropped rather than handed to a client to follow."""
    container, chat_id = chat
    manage = ManageChats(_OutOfRange(container.adapters.history))  # type: ignore[arg-type]  # a proxy of the real store
    user = container.settings.auth.default_user_id
    page = await manage.page(user, chat_id, limit=2, after=2)
    assert [m.content for m in page.messages] == ["Line 3", "Line 4"]
    assert (page.earlier, page.later) == (None, None)
