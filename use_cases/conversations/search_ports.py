"""Domain types and ports of conversation summaries and search across chats
(`use_cases/conversations/summaries.py`, `use_cases/conversations/search.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

__all__ = [
    "CHAT_STATUSES",
    "ChatSearchHit",
    "ChatSearchIndex",
    "ChatSearchQuery",
    "ConversationSummary",
    "ExtractiveSummariser",
    "SummaryStore",
]

MatchedField = Literal["title", "summary", "message"]

#: A chat's status in search: its last message's status, or `empty` when it has none.
CHAT_STATUSES = ("complete", "streaming", "interrupted", "failed", "empty")


@dataclass(frozen=True)
class ConversationSummary:
    """The stored summary of one conversation (= chat). `message_count` and
    `last_message_id` say which messages it covered, so a reader can tell it is `stale`
    (the chat has moved on since); `edited` is true once a person has changed the text."""

    chat_id: str
    text: str
    model: str
    edited: bool
    message_count: int
    last_message_id: str | None
    created_at: datetime
    updated_at: datetime
    stale: bool = False


class SummaryStore(Protocol):
    """One summary per chat, in the app database (rows go with their chat)."""

    def get(self, chat_id: str) -> ConversationSummary | None: ...

    def save(self, summary: ConversationSummary) -> ConversationSummary:
        """Insert or replace the chat's summary (its first `created_at` is kept)."""
        ...

    def edit(self, chat_id: str, text: str, at: datetime) -> ConversationSummary | None:
        """Set the text, mark it `edited`; None when the chat has no summary."""
        ...

    def close(self) -> None: ...


class ExtractiveSummariser(Protocol):
    """The offline model's summary: sentences picked from the conversation itself."""

    def summarise(self, texts: Sequence[str], *, max_chars: int) -> str: ...


@dataclass(frozen=True)
class ChatSearchQuery:
    user_id: str
    text: str
    status: str | None = None
    withheld: frozenset[str] = frozenset()
    """The ids of the answers the reader may not be shown (`use_cases/chat/withholding.py`):
    the index reads nothing of them."""
    withheld_summaries: frozenset[str] = frozenset()
    """The chats whose summary is withheld (they hold a withheld answer)."""


@dataclass(frozen=True)
class ChatSearchHit:
    """A chat a search found, by its best-matching item (its title, summary or a message)."""

    chat_id: str
    title: str
    matched: MatchedField
    text: str
    """The whole matched text (the use case cuts the snippet)."""
    message_id: str | None
    score: float
    status: str
    created_at: datetime
    updated_at: datetime


class ChatSearchIndex(Protocol):
    """Hybrid search (BM25 and vectors, fused) over one user's chats: titles, summaries,
    messages. Returns every chat with a matching item, best first, one hit per chat."""

    def search(self, query: ChatSearchQuery) -> list[ChatSearchHit]: ...

    def close(self) -> None: ...
