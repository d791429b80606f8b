"""A chat's latest messages read a page at a time, for the use cases that need only its end
(answering the last question again, the model of its last answer, a draft's window): an
imported chat may hold hundreds of thousands of messages, and none of these reads the whole.

Rules:
- Pages are read backwards from the chat's end (`HistoryStore.page_messages`, one indexed
  range read each) until `enough` says the messages read so far suffice, or the chat's start
  is reached; the result is in conversation order.
- `first_messages` reads the chat's first ones (`after=0`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from use_cases.chat.domain import Message
from use_cases.chat.ports import HistoryStore

__all__ = ["PAGE", "first_messages", "latest_messages"]

#: Messages per page read.
PAGE = 200


def latest_messages(
    history: HistoryStore,
    chat_id: str,
    enough: Callable[[Sequence[Message]], bool],
    *,
    page: int = PAGE,
) -> list[Message]:
    """The chat's last messages, as many pages as `enough` needs (module docstring)."""
    read: list[Message] = []
    before: int | None = None
    while True:
        found = history.page_messages(chat_id, limit=page, before=before)
        read = found.messages + read
        if found.earlier is None or enough(read):
            return read
        before = found.earlier


def first_messages(history: HistoryStore, chat_id: str, count: int) -> list[Message]:
    """The chat's first `count` messages (fewer in a shorter chat)."""
    return history.page_messages(chat_id, limit=count, after=0).messages
