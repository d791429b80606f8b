"""Searching the knowledge base.

Rules: the query is stripped and must hold 1 to 1,000 characters; `limit` is 1 to 50 and
`offset` 0 to 500 (pages past the end are empty, not errors). Retrieval runs in a worker
thread: it embeds the query and reads SQLite. `reranked` says what happened to this search,
not what is configured: true only when the reranker ordered its hits (they carry a
`rerank_score`); false when it is off, and when it failed and the fused order was kept.
The search reads what its `caller` may read (use_cases/knowledge/scope.py), narrowed by
its `filters`, inside the retriever; without a caller (the CLI and benchmarks, which run
with the data directory's owner's rights) every collection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial

from use_cases.access.domain import Caller
from use_cases.knowledge.collections import ResolveReadScope, read_scope
from use_cases.knowledge.domain import SearchPage
from use_cases.knowledge.ports import Retriever
from use_cases.knowledge.scope import EVERYTHING, DocumentFilter
from use_cases.shared.errors import InvalidRequest

MAX_QUERY_CHARS = 1000
MAX_LIMIT = 50
MAX_OFFSET = 500


@dataclass(frozen=True)
class SearchRequest:
    query: str
    limit: int | None = None
    offset: int = 0
    category: str | None = None
    caller: Caller | None = None
    filters: DocumentFilter | None = None


class SearchKnowledgeBase:
    """Hybrid search with paging; the retriever does the ranking, within the caller's scope."""

    def __init__(
        self, retriever: Retriever, *, default_limit: int, scopes: ResolveReadScope | None = None
    ) -> None:
        self._retriever = retriever
        self._default_limit = default_limit
        self._scopes = scopes

    async def execute(self, request: SearchRequest) -> SearchPage:
        query = request.query.strip()
        if not query:
            raise InvalidRequest("The query is empty: give some words to search for.")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidRequest(f"The query is longer than {MAX_QUERY_CHARS} characters.")
        limit = request.limit if request.limit is not None else self._default_limit
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}.")
        if not 0 <= request.offset <= MAX_OFFSET:
            raise InvalidRequest(f"offset must be between 0 and {MAX_OFFSET}.")
        category = (request.category or "").strip() or None
        scope = await read_scope(self._scopes, request.caller, request.filters)
        search = (
            self._retriever.search
            if scope == EVERYTHING
            else partial(self._retriever.search, scope=scope)
        )
        hits = await asyncio.to_thread(search, query, request.offset + limit, category)
        return SearchPage(
            query=query,
            hits=tuple(hits[request.offset : request.offset + limit]),
            limit=limit,
            offset=request.offset,
            category=category,
            reranked=any(hit.scores.rerank_score is not None for hit in hits),
        )
