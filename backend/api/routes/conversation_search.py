"""A conversation's summary: read, regenerate, edit (`use_cases/conversations/summaries.py`).
Chat search is `GET /api/search?scope=chats` (`routes/search.py`)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.conversation_search_schemas import SummaryEditIn, SummaryOut, SummaryRegenerateIn
from backend.api.deps import ActingUserDep, CallerDep, ContainerDep
from backend.api.openapi import problem_responses
from backend.api.rate_limit import RateLimited

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


@router.get(
    "/{chat_id}/summary",
    response_model=SummaryOut,
    responses=problem_responses(404),
    summary="A conversation's stored summary (404 until one is made with POST)",
)
async def get_summary(
    chat_id: str, container: ContainerDep, user: ActingUserDep, caller: CallerDep
) -> SummaryOut:
    return SummaryOut.of(
        await container.conversation_search.conversation_summaries.get(user, chat_id, caller)
    )


@router.post(
    "/{chat_id}/summary",
    response_model=SummaryOut,
    responses=problem_responses(404, 422, 502, 503, 504),
    dependencies=[RateLimited],
    summary="Make (or remake) a conversation's summary",
)
async def regenerate_summary(
    chat_id: str,
    container: ContainerDep,
    user: ActingUserDep,
    caller: CallerDep,
    body: SummaryRegenerateIn | None = None,
) -> SummaryOut:
    model = body.model if body is not None else None
    summaries = container.conversation_search.conversation_summaries
    return SummaryOut.of(await summaries.regenerate(user, chat_id, model, caller))


@router.patch(
    "/{chat_id}/summary",
    response_model=SummaryOut,
    responses=problem_responses(404, 422),
    summary="Replace a conversation's summary text (marks it edited)",
)
async def edit_summary(
    chat_id: str, body: SummaryEditIn, container: ContainerDep, user: ActingUserDep
) -> SummaryOut:
    return SummaryOut.of(
        await container.conversation_search.conversation_summaries.edit(
            user, chat_id, body.new_text
        )
    )
