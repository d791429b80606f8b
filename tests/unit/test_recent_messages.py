"""The use cases that need only a chat's end read it a page at a time (use_cases/chat/
recent.py), never the whole chat: answering the last question again, the model of the last
answer, a draft's window. Each gets what the whole chat would have given it."""

from __future__ import annotations

import random

import pytest

from tests.fakes import InMemoryHistoryStore
from use_cases.chat.domain import NewMessage
from use_cases.chat.recent import PAGE, first_messages, latest_messages
from use_cases.conversations.drafts import conversation_window, window_messages


class CountingStore(InMemoryHistoryStore):
    """The fake store, counting page reads and refusing whole-chat reads."""

    def __init__(self) -> None:
        super().__init__()
        self.pages = 0

    def page_messages(self, chat_id, *, limit, before=None, after=None):
        self.pages += 1
        return super().page_messages(chat_id, limit=limit, before=before, after=after)

    def list_messages(self, chat_id, *, limit=None):
        if limit is None:
            raise AssertionError("the whole chat was read")
        return super().list_messages(chat_id, limit=limit)


def _chat(store: InMemoryHistoryStore, contents: list[tuple[str, str]]) -> str:
    chat = store.get_or_create_chat(None, "u1", contents[0][1] or "chat")
    for role, content in contents:
        store.append_message(chat.id, NewMessage(role, content))  # type: ignore[arg-type]  # roles as the test lists them
    return chat.id


def test_the_last_question_of_a_long_chat_is_found_on_its_last_page() -> None:
    store = CountingStore()
    turns = [("user" if n % 2 == 0 else "assistant", f"m{n}") for n in range(5 * PAGE)]
    chat_id = _chat(store, turns)
    read = latest_messages(store, chat_id, lambda ms: any(m.role == "user" for m in ms))
    assert store.pages == 1
    assert [m.content for m in read] == [f"m{n}" for n in range(4 * PAGE, 5 * PAGE)]


def test_pages_are_read_back_until_enough_or_the_chat_s_start() -> None:
    store = CountingStore()
    turns = [("user", "question")] + [("assistant", f"a{n}") for n in range(2 * PAGE + 5)]
    chat_id = _chat(store, turns)
    read = latest_messages(store, chat_id, lambda ms: any(m.role == "user" for m in ms))
    assert store.pages == 3
    assert read[0].content == "question" and len(read) == len(turns)
    assert [m.content for m in first_messages(store, chat_id, 2)] == ["question", "a0"]
    never = latest_messages(store, chat_id, lambda ms: False)
    assert [m.content for m in never] == [c for _, c in turns]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("max_chars", [40, 400, 4_000, 400_000])
def test_a_draft_s_window_from_pages_is_the_window_of_the_whole_chat(
    seed: int, max_chars: int
) -> None:
    draw = random.Random(seed)
    length = draw.choice([1, 3, PAGE - 1, PAGE + 1, 3 * PAGE + 7])
    turns = [
        (
            draw.choice(["user", "assistant"]),
            "" if draw.random() < 0.1 else "x" * draw.randint(1, 60),
        )
        for _ in range(length)
    ]
    turns[0] = ("user", "the project: " + "y" * draw.randint(0, 30))
    whole_store, paged_store = InMemoryHistoryStore(), CountingStore()
    whole = whole_store.list_messages(_chat(whole_store, turns))
    paged = window_messages(paged_store, _chat(paged_store, turns), max_chars)
    assert [m.content for m in conversation_window(paged, max_chars)] == [
        m.content for m in conversation_window(whole, max_chars)
    ]
