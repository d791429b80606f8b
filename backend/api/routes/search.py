from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from backend.api.conversation_search_schemas import ChatSearchOut
from backend.api.deps import CallerDep, ContainerDep
from backend.api.filters import FiltersDep
from backend.api.openapi import problem_responses
from backend.api.schemas import SearchOut
from use_cases.conversations.search import ChatSearchRequest
from use_cases.conversations.search_ports import CHAT_STATUSES
from use_cases.knowledge.search import MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS, SearchRequest

router = APIRouter(prefix="/api", tags=["search"])

#: Hits of a chat search when `limit` is not given.
DEFAULT_CHAT_HITS = 20


@router.get(
    "/search",
    response_model=SearchOut | ChatSearchOut,
    summary="Hybrid search (BM25 + vectors, fused with RRF) of documents, or of your chats",
    description="`scope=documents` (default): the knowledge base's passages (`SearchOut`). "
    "`scope=chats`: the caller's chats, by their titles, summaries and messages, one hit "
    "per chat (`ChatSearchOut`; see docs/conversation-summaries-search.md).",
    responses=problem_responses(409, 422, 503, 504),
)
async def search(
    request: Request,
    container: ContainerDep,
    caller: CallerDep,
    filters: FiltersDep,
    q: Annotated[
        str,
        Query(
            min_length=1, max_length=MAX_QUERY_CHARS, examples=["How often must passwords change?"]
        ),
    ],
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_LIMIT,
            description=f"Hits (1 to {MAX_LIMIT}; default FINAL_RESULTS_LIMIT for documents, "
            f"{DEFAULT_CHAT_HITS} for chats).",
        ),
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description=f"Hits to skip (0 to {MAX_OFFSET}).")
    ] = 0,
    category: Annotated[str | None, Query(max_length=100, examples=["policies"])] = None,
    scope: Annotated[
        Literal["documents", "chats"],
        Query(description="What to search: the knowledge base (default) or your chats."),
    ] = "documents",
    status: Annotated[
        Literal["complete", "streaming", "interrupted", "failed", "empty"] | None,
        Query(
            description="Chats only: keep the chats whose last message has this status "
            f"({', '.join(CHAT_STATUSES)}: no message)."
        ),
    ] = None,
    sort_by: Annotated[
        Literal["relevance", "updated_at", "created_at", "title"],
        Query(description="Chats only: the order of the hits."),
    ] = "relevance",
    sort_dir: Annotated[
        Literal["asc", "desc"] | None,
        Query(description="Chats only: default asc for title, desc otherwise."),
    ] = None,
    user_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Chats only: an admin may search this user's chats (audited).",
        ),
    ] = None,
) -> SearchOut | ChatSearchOut:
    if scope == "chats":
        route = request.scope.get("route")
        via = f"GET {getattr(route, 'path', request.url.path)}"
        user = await container.access.act_for.execute(caller, user_id, via=via)
        found = await container.conversation_search.search_chats.execute(
            ChatSearchRequest(
                user,
                q,
                reader=caller,
                status=status,
                sort_by=sort_by,
                sort_dir=sort_dir,
                limit=limit or DEFAULT_CHAT_HITS,
                offset=offset,
            )
        )
        return ChatSearchOut.of(found)
    page = await container.knowledge.search.execute(
        SearchRequest(q, limit, offset, category, caller=caller, filters=filters)
    )
    return SearchOut.of(page)
