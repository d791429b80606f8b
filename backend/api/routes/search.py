from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import ContainerDep
from backend.api.openapi import problem_responses
from backend.api.schemas import SearchOut
from use_cases.knowledge.search import MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS, SearchRequest

router = APIRouter(prefix="/api", tags=["search"])


@router.get(
    "/search",
    response_model=SearchOut,
    summary="Hybrid search (BM25 + vectors, fused with RRF)",
    responses=problem_responses(409, 422, 503, 504),
)
async def search(
    container: ContainerDep,
    q: Annotated[
        str,
        Query(
            min_length=1, max_length=MAX_QUERY_CHARS, examples=["How often must passwords change?"]
        ),
    ],
    limit: Annotated[
        int | None,
        Query(
            ge=1, le=MAX_LIMIT, description=f"Hits (1 to {MAX_LIMIT}; default FINAL_RESULTS_LIMIT)."
        ),
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description=f"Hits to skip (0 to {MAX_OFFSET}).")
    ] = 0,
    category: Annotated[str | None, Query(max_length=100, examples=["policies"])] = None,
) -> SearchOut:
    page = await container.search.execute(SearchRequest(q, limit, offset, category))
    return SearchOut.of(page)
