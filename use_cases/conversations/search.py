"""Search across chats: the caller's chats whose title, summary or messages match a query,
by hybrid search (BM25 and vectors fused with RRF, `ChatSearchIndex`).

Rules:
- Only the user's own chats are searched (an admin acting for a user searches that user's);
  the index reads nothing else.
- One hit per chat, by its best-matching item: `matched` says which (`title`, `summary` or
  `message`, with `message_id`), `snippet` is a passage of it around the first query word
  it holds (its start when only the meaning matched).
- `status` keeps the chats whose last message has that status (`complete`, `streaming`,
  `interrupted`, `failed`), or that have no message (`empty`).
- `sort_by`: `relevance` (the fused score; default), `updated_at`, `created_at` or `title`;
  `sort_dir` `asc` or `desc` (default: `asc` for `title`, `desc` otherwise); ties keep the
  relevance order. `limit`/`offset` page the sorted hits; `total` counts them all.
- An answer withheld from the reader (a source it cited is no longer readable to them,
  `use_cases/chat/withholding.py`), and the summary of its chat, are not searched: the index
  leaves them out of both legs, so a page is never shortened afterwards and nothing matches
  on hidden text.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from use_cases.access.domain import Caller
from use_cases.chat.domain import CitedAnswer
from use_cases.chat.manage_chats import snippet_of
from use_cases.chat.ports import HistoryStore
from use_cases.chat.withholding import StoredAnswers
from use_cases.conversations.search_ports import (
    CHAT_STATUSES,
    ChatSearchHit,
    ChatSearchIndex,
    ChatSearchQuery,
)
from use_cases.knowledge.search import MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS
from use_cases.shared.errors import InvalidRequest

__all__ = [
    "MAX_CHAT_SEARCH_CHARS",
    "MAX_CHAT_SEARCH_LIMIT",
    "MAX_CHAT_SEARCH_OFFSET",
    "SORT_FIELDS",
    "ChatSearchPage",
    "ChatSearchRequest",
    "FoundChat",
    "SearchChats",
]

#: The same bounds as document search (`GET /api/search` keeps one set for both scopes).
MAX_CHAT_SEARCH_CHARS = MAX_QUERY_CHARS
MAX_CHAT_SEARCH_LIMIT = MAX_LIMIT
MAX_CHAT_SEARCH_OFFSET = MAX_OFFSET
SORT_FIELDS = ("relevance", "updated_at", "created_at", "title")

SortBy = Literal["relevance", "updated_at", "created_at", "title"]
SortDir = Literal["asc", "desc"]


@dataclass(frozen=True)
class ChatSearchRequest:
    user_id: str
    query: str
    reader: Caller | None = None
    """Who reads (their rights decide what is withheld); None: the chat owner, as a user."""
    status: str | None = None
    sort_by: SortBy = "relevance"
    sort_dir: SortDir | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class FoundChat:
    hit: ChatSearchHit
    snippet: str


@dataclass(frozen=True)
class ChatSearchPage:
    query: str
    total: int
    limit: int
    offset: int
    hits: list[FoundChat]


class SearchChats:
    def __init__(
        self,
        index: ChatSearchIndex,
        history: HistoryStore | None = None,
        answers: StoredAnswers | None = None,
    ) -> None:
        self._index = index
        self._history = history
        self._answers = answers

    async def execute(self, request: ChatSearchRequest) -> ChatSearchPage:
        query = " ".join(request.query.split())
        if not query:
            raise InvalidRequest("q must hold a word to search for.")
        if len(query) > MAX_CHAT_SEARCH_CHARS:
            raise InvalidRequest(f"q has {len(query)} characters; at most {MAX_CHAT_SEARCH_CHARS}.")
        if request.status is not None and request.status not in CHAT_STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(CHAT_STATUSES)}.")
        if request.sort_by not in SORT_FIELDS:
            raise InvalidRequest(f"sort_by must be one of {', '.join(SORT_FIELDS)}.")
        if request.sort_dir not in (None, "asc", "desc"):
            raise InvalidRequest("sort_dir must be asc or desc.")
        if not 1 <= request.limit <= MAX_CHAT_SEARCH_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_CHAT_SEARCH_LIMIT}.")
        if not 0 <= request.offset <= MAX_CHAT_SEARCH_OFFSET:
            raise InvalidRequest(f"offset must be between 0 and {MAX_CHAT_SEARCH_OFFSET}.")
        withheld = await self._withheld(request.user_id, request.reader)
        hits = await asyncio.to_thread(
            self._index.search,
            ChatSearchQuery(
                request.user_id,
                query,
                request.status,
                withheld=frozenset(a.message_id for a in withheld),
                withheld_summaries=frozenset(a.chat_id for a in withheld),
            ),
        )
        ordered = _sorted(hits, request.sort_by, request.sort_dir)
        page = ordered[request.offset : request.offset + request.limit]
        terms = query.split()
        return ChatSearchPage(
            query=query,
            total=len(hits),
            limit=request.limit,
            offset=request.offset,
            hits=[FoundChat(hit, snippet_of(hit.text, terms)) for hit in page],
        )

    async def _withheld(self, user_id: str, reader: Caller | None) -> list[CitedAnswer]:
        """The user's stored answers withheld from `reader`."""
        if self._history is None or self._answers is None:
            return []
        shown = await self._answers.for_reader(user_id, reader)
        if not shown.restricted:
            return []
        cited = await asyncio.to_thread(self._history.cited_answers, user_id)
        hidden = await asyncio.to_thread(shown.withheld, cited)
        return [a for a in cited if a.message_id in hidden]


def _sorted(
    hits: list[ChatSearchHit], by: SortBy, direction: SortDir | None
) -> list[ChatSearchHit]:
    descending = (direction or ("asc" if by == "title" else "desc")) == "desc"
    if by == "relevance":
        return sorted(hits, key=lambda h: h.score, reverse=descending)
    if by == "title":
        return sorted(hits, key=lambda h: h.title.casefold(), reverse=descending)
    return sorted(hits, key=lambda h: getattr(h, by), reverse=descending)
