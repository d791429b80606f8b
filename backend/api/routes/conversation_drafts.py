"""Project drafts of a conversation: draft, update by turn or edit, versions, export
(docs/conversation-drafts.md), and the draft chat: its stored turns and a turn streamed as
Server-Sent Events, in the conversation backend document's shape (docs/seeds.md, "002"),
which the web app's draft page uses."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from loguru import logger

from backend.api.conversation_backend_schemas import (
    DraftChatIn,
    DraftChatMessageOut,
    DraftChatOut,
    DraftChatResponseOut,
)
from backend.api.conversation_drafts_schemas import (
    DraftCreateIn,
    DraftEditIn,
    DraftTurnIn,
    DraftTurnOut,
    DraftVersionOut,
    DraftVersionPageOut,
    ProjectDraftOut,
)
from backend.api.deps import (
    SQLITE_MAX_INTEGER,
    ActingUserDep,
    CallerDep,
    ContainerDep,
    PageLimit,
    PageOffset,
)
from backend.api.openapi import problem_responses
from backend.api.rate_limit import RateLimited
from backend.api.routes.conversation_files import ChatId
from backend.api.streams import SSE_HEADERS, ClosingStreamingResponse, started
from use_cases.conversations.draft_chat import DraftChatEvent
from use_cases.conversations.drafts import (
    DraftRequest,
    DraftTurnRequest,
    EditDraftRequest,
)

router = APIRouter(prefix="/api/conversations/{chat_id}/project-draft", tags=["project drafts"])

VersionNumber = Annotated[
    int,
    Path(ge=1, le=SQLITE_MAX_INTEGER, description="The version number (1 to 2^63-1)."),
]
_MODEL_RUN = problem_responses(404, 409, 422, 502, 503, 504)


@router.post(
    "",
    status_code=201,
    response_model=ProjectDraftOut,
    responses=_MODEL_RUN,
    dependencies=[RateLimited],
    summary="Draft a project from the conversation (a new, active version)",
)
async def draft_project(
    chat_id: str,
    container: ContainerDep,
    user: ActingUserDep,
    caller: CallerDep,
    body: DraftCreateIn | None = None,
) -> ProjectDraftOut:
    body = body or DraftCreateIn()
    state = await container.conversation_drafts.draft_project.execute(
        DraftRequest(user, chat_id, model=body.model, note=body.note, reader=caller)
    )
    return ProjectDraftOut.of(state)


@router.get(
    "",
    response_model=ProjectDraftOut,
    responses=problem_responses(404),
    summary="The conversation's project draft: its active version",
)
async def project_draft(
    chat_id: str, container: ContainerDep, user: ActingUserDep, caller: CallerDep
) -> ProjectDraftOut:
    return ProjectDraftOut.of(
        await container.conversation_drafts.draft_versions.active(user, chat_id, caller)
    )


@router.patch(
    "",
    response_model=ProjectDraftOut,
    responses=problem_responses(404, 409, 422),
    summary="Edit the draft: the fields given replace the active version's (a new version)",
)
async def edit_project_draft(
    chat_id: str, body: DraftEditIn, container: ContainerDep, user: ActingUserDep
) -> ProjectDraftOut:
    state = await container.conversation_drafts.edit_draft.execute(
        EditDraftRequest(user, chat_id, body.changes(), note=body.note)
    )
    return ProjectDraftOut.of(state)


@router.post(
    "/turns",
    response_model=DraftTurnOut,
    responses=_MODEL_RUN,
    dependencies=[RateLimited],
    summary="Ask for changes in words; each change the model applies is a new version",
)
async def draft_turn(
    chat_id: str, body: DraftTurnIn, container: ContainerDep, user: ActingUserDep
) -> DraftTurnOut:
    result = await container.conversation_drafts.update_draft.execute(
        DraftTurnRequest(user, chat_id, body.message, model=body.model)
    )
    return DraftTurnOut.of(result)


@router.get(
    "/versions",
    response_model=DraftVersionPageOut,
    responses=problem_responses(404),
    summary="The draft's versions, newest first",
)
async def draft_versions(
    chat_id: str,
    container: ContainerDep,
    user: ActingUserDep,
    caller: CallerDep,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> DraftVersionPageOut:
    page = await container.conversation_drafts.draft_versions.versions(
        user, chat_id, limit=limit, offset=offset, reader=caller
    )
    return DraftVersionPageOut.of(chat_id, page)


@router.get(
    "/versions/{number}",
    response_model=DraftVersionOut,
    responses=problem_responses(404),
    summary="One version of the draft",
)
async def draft_version(
    chat_id: str,
    number: VersionNumber,
    container: ContainerDep,
    user: ActingUserDep,
    caller: CallerDep,
) -> DraftVersionOut:
    return DraftVersionOut.of(
        await container.conversation_drafts.draft_versions.version(user, chat_id, number, caller)
    )


@router.post(
    "/versions/{number}/activate",
    response_model=ProjectDraftOut,
    responses=problem_responses(404),
    summary="Make a version the active one (moves the pointer; the move is recorded)",
)
async def activate_draft_version(
    chat_id: str, number: VersionNumber, container: ContainerDep, user: ActingUserDep
) -> ProjectDraftOut:
    return ProjectDraftOut.of(
        await container.conversation_drafts.draft_versions.activate(user, chat_id, number)
    )


@router.get(
    "/export",
    responses={
        200: {
            "content": {"text/markdown": {}, "application/json": {}},
            "description": "The draft as a file (Content-Disposition: attachment).",
        },
        **problem_responses(404),
    },
    summary="Download the active version (or `version`) as Markdown or JSON",
)
async def export_project_draft(
    chat_id: str,
    container: ContainerDep,
    user: ActingUserDep,
    caller: CallerDep,
    format: Annotated[
        Literal["markdown", "json"], Query(description="markdown (default) or json.")
    ] = "markdown",
    version: Annotated[
        int | None,
        Query(ge=1, le=SQLITE_MAX_INTEGER, description="A version (1 to 2^63-1); default active."),
    ] = None,
) -> Response:
    exported = await container.conversation_drafts.draft_versions.export(
        user, chat_id, format, version, caller
    )
    return Response(
        exported.text,
        media_type=f"{exported.media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )


# --- the draft chat (the conversation backend's shape; the web app's draft page uses it) ---


@router.get(
    "/chat",
    response_model=DraftChatOut,
    responses=problem_responses(404),
    summary="The draft chat's stored messages, oldest first",
)
async def draft_chat(chat_id: ChatId, container: ContainerDep, user: ActingUserDep) -> DraftChatOut:
    messages = await container.conversation_drafts.draft_chat.messages(user, chat_id)
    return DraftChatOut(
        conversation_id=chat_id, messages=[DraftChatMessageOut.of(m) for m in messages]
    )


@router.post(
    "/chat/stream",
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses(404, 422)},
    dependencies=[RateLimited],
    summary="A turn of the draft chat, streamed (SSE: status, content, project_updated, "
    "conversation_locked, error, done); the exchange is stored",
)
async def draft_chat_stream(
    chat_id: ChatId, body: DraftChatIn, container: ContainerDep, user: ActingUserDep
) -> Response:
    # bad input or an unknown chat: a problem, not a stream
    events = await started(
        container.conversation_drafts.draft_chat.stream(
            DraftTurnRequest(user, chat_id, body.message, body.model)
        )
    )
    return ClosingStreamingResponse(
        _draft_chat_sse(events), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def _draft_chat_sse(
    events: AsyncGenerator[DraftChatEvent, None],
) -> AsyncGenerator[str, None]:
    try:
        async for event in events:
            yield _sse(event)
    except Exception:  # a bug: logged with its traceback, the client gets an error event
        logger.exception("Draft chat stream failed")
        yield _data(
            {"type": "error", "message": "The turn failed unexpectedly.", "code": "internal_error"}
        )
    finally:
        await events.aclose()


def _sse(event: DraftChatEvent) -> str:
    """One event as the document shows it: `data: {"type": ..., ...}`."""
    payload: dict[str, Any] = {"type": event.kind}
    if event.status is not None:
        payload["status"] = event.status
    if event.content is not None:
        payload["content"] = event.content
    if event.state is not None:
        payload["project_draft"] = ProjectDraftOut.of(event.state).model_dump(mode="json")
    if event.error is not None:
        payload |= {"message": event.error.detail, "code": event.error.type}
    if event.reply is not None:
        payload["response"] = DraftChatResponseOut.of(event.reply).model_dump(mode="json")
    return _data(payload)


def _data(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
