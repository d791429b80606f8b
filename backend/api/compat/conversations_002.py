"""Document 002's conversation backend, as its clients call it (docs/seeds.md, "002"): the
conversations at `/api/conversations/...`, the signed-in user, sign-out and session cleanup
at `/api/auth/...` and chat search at `/api/search/`. A thin adapter: each route calls the
use case the chat routes (`/chats`), the file, summary, import and search routes call, and
answers the document's field names beside Almanac's (`conversation_backend_schemas.py`).
The paths the document shares with Almanac (`/{id}/files`, `/{id}/summary`,
`/{id}/project-draft/...`, `/api/auth/login|callback|status`) are Almanac's own routes,
whose answers carry the document's fields too."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from backend.api.auth_schemas import AuthUserOut
from backend.api.conversation_backend_schemas import (
    ConversationDetailOut,
    ConversationOut,
    ConversationPageOut,
    ConversationUpdateIn,
    TrackedProjectOut,
)
from backend.api.conversation_import_schemas import ImportedChatOut, SlackThreadIn
from backend.api.conversation_search_schemas import ChatSearchOut, SummaryOut
from backend.api.deps import (
    SESSION_COOKIE,
    ActingUserDep,
    AdminDep,
    CallerDep,
    ContainerDep,
    PageLimit,
    PageOffset,
)
from backend.api.message_pages import (
    DEFAULT_MESSAGE_PAGE,
    MessageAfter,
    MessageBefore,
    MessageLimit,
    link_header,
)
from backend.api.openapi import problem_responses
from backend.api.routes.conversation_files import ChatId, FileId, file_response
from backend.api.routes.conversation_import import slack_import
from backend.api.routes.search import DEFAULT_CHAT_HITS
from backend.api.routes.session import clear_session_cookie
from use_cases.conversations.search import ChatSearchRequest
from use_cases.knowledge.search import MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS

router = APIRouter(tags=["conversations (document 002)"])

_CONVERSATIONS = "/api/conversations"


# --- conversations ------------------------------------------------------------------------


@router.get(
    _CONVERSATIONS,
    response_model=ConversationPageOut,
    summary="Your conversations (chats), most recently active first, a page at a time",
)
@router.get(
    _CONVERSATIONS + "/",
    response_model=ConversationPageOut,
    operation_id="list_conversations_with_slash",
    summary="The same (the document's path: `GET /` under `/api/conversations`)",
)
async def list_conversations(
    container: ContainerDep,
    user: ActingUserDep,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> ConversationPageOut:
    page = await container.chat.chats.list(user, limit=limit, offset=offset)
    after = offset + limit
    more = len(page) == limit and bool(await container.chat.chats.list(user, limit=1, offset=after))
    locked = await container.conversation_drafts.draft_chat.locked([chat.id for chat in page])
    return ConversationPageOut(
        conversations=[ConversationOut.of(chat, is_locked=chat.id in locked) for chat in page],
        limit=limit,
        offset=offset,
        has_more=more,
    )


@router.get(
    _CONVERSATIONS + "/{chat_id}",
    response_model=ConversationDetailOut,
    responses=problem_responses(404),
    summary="A conversation and a page of its messages (`imported_chat`: its last ones "
    "unless `before`/`after` says)",
)
async def get_conversation(
    chat_id: ChatId,
    request: Request,
    response: Response,
    container: ContainerDep,
    user: ActingUserDep,
    caller: CallerDep,
    limit: MessageLimit = DEFAULT_MESSAGE_PAGE,
    before: MessageBefore = None,
    after: MessageAfter = None,
) -> ConversationDetailOut:
    transcript = await container.chat.chats.page(
        user, chat_id, limit=limit, before=before, after=after, reader=caller
    )
    locked = await container.conversation_drafts.draft_chat.locked([chat_id])
    response.headers.update(link_header(request, transcript))
    return ConversationDetailOut.of_transcript(transcript, is_locked=chat_id in locked)


@router.patch(
    _CONVERSATIONS + "/{chat_id}",
    response_model=ConversationOut,
    responses=problem_responses(404, 422),
    summary="Rename a conversation (as `PATCH /chats/{id}`)",
)
async def rename_conversation(
    chat_id: ChatId, body: ConversationUpdateIn, container: ContainerDep, user: ActingUserDep
) -> ConversationOut:
    chat = await container.chat.chats.rename(user, chat_id, body.title)
    locked = await container.conversation_drafts.draft_chat.locked([chat_id])
    return ConversationOut.of(chat, is_locked=chat_id in locked)


@router.delete(
    _CONVERSATIONS + "/{chat_id}",
    status_code=204,
    responses=problem_responses(404),
    summary="Delete a conversation, its files, summary and draft (as `DELETE /chats/{id}`)",
)
async def delete_conversation(
    chat_id: ChatId, container: ContainerDep, user: ActingUserDep
) -> Response:
    await container.chat.chats.delete(user, chat_id)
    return Response(status_code=204)


@router.get(
    _CONVERSATIONS + "/{chat_id}/imported_chat_summary",
    response_model=SummaryOut,
    responses=problem_responses(404),
    summary="The conversation's summary (made on import; as `GET .../summary`)",
)
async def imported_chat_summary(
    chat_id: ChatId, container: ContainerDep, user: ActingUserDep, caller: CallerDep
) -> SummaryOut:
    return SummaryOut.of(
        await container.conversation_search.conversation_summaries.get(user, chat_id, caller)
    )


# --- files ----------------------------------------------------------------------------------


@router.get(
    _CONVERSATIONS + "/files/{file_id}/download",
    response_class=Response,
    responses={
        200: {"description": "The file's bytes, as an attachment.", "content": {"*/*": {}}},
        **problem_responses(404),
    },
    summary="Download a file by its id alone (its bytes, not a signed URL)",
)
async def download_file(file_id: FileId, container: ContainerDep, user: ActingUserDep) -> Response:
    return file_response(await container.conversation_files.read_file.execute(user, None, file_id))


@router.post(
    _CONVERSATIONS + "/import-slack",
    response_model=ImportedChatOut,
    status_code=201,
    responses={200: {"description": "Imported before"}, **problem_responses(403, 422)},
    summary="Import a Slack thread; admin (service) keys only (as `POST .../import/slack`)",
    operation_id="import_slack_thread_002",
)
async def import_slack(
    body: SlackThreadIn, container: ContainerDep, caller: CallerDep, response: Response
) -> ImportedChatOut:
    return await slack_import(
        body, container, caller, response, path="/api/conversations/import-slack"
    )


# --- the tracked project ---------------------------------------------------------------------


@router.post(
    _CONVERSATIONS + "/{chat_id}/project",
    response_model=TrackedProjectOut,
    status_code=201,
    responses=problem_responses(404, 409, 501, 502, 503),
    summary="Create the project in the tracker from the active draft; locks the conversation",
)
async def create_project(
    chat_id: ChatId, container: ContainerDep, user: ActingUserDep
) -> TrackedProjectOut:
    return TrackedProjectOut.of(
        await container.conversation_drafts.tracked_projects.create(user, chat_id)
    )


@router.get(
    _CONVERSATIONS + "/{chat_id}/project",
    response_model=TrackedProjectOut,
    responses=problem_responses(404, 501),
    summary="The conversation's project in the tracker",
)
async def get_project(
    chat_id: ChatId, container: ContainerDep, user: ActingUserDep
) -> TrackedProjectOut:
    return TrackedProjectOut.of(
        await container.conversation_drafts.tracked_projects.get(user, chat_id)
    )


# --- search ---------------------------------------------------------------------------------


@router.get(
    "/api/search/",
    response_model=ChatSearchOut,
    responses=problem_responses(422, 503, 504),
    summary="Search your conversations (`GET /api/search?scope=chats`)",
)
async def search_conversations(
    container: ContainerDep,
    user: ActingUserDep,
    caller: CallerDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_CHAT_HITS,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    status: Annotated[
        Literal["complete", "streaming", "interrupted", "failed", "empty"] | None, Query()
    ] = None,
    sort_by: Annotated[Literal["relevance", "updated_at", "created_at", "title"], Query()] = (
        "relevance"
    ),
    sort_dir: Annotated[Literal["asc", "desc"] | None, Query()] = None,
) -> ChatSearchOut:
    found = await container.conversation_search.search_chats.execute(
        ChatSearchRequest(
            user,
            q,
            reader=caller,
            status=status,
            sort_by=sort_by,
            sort_dir=sort_dir,
            limit=limit,
            offset=offset,
        )
    )
    return ChatSearchOut.of(found)


# --- sign-in (/api/auth) --------------------------------------------------------------------


class LogoutOut(BaseModel):
    message: str
    signed_out: bool = Field(description="Whether a sign-in (session cookie) was ended.")


class CleanupOut(BaseModel):
    message: str
    deleted: int = Field(description="Sessions removed: expired or signed out.")


@router.get("/api/auth/me", response_model=AuthUserOut, summary="The signed-in user")
async def auth_me(caller: CallerDep) -> AuthUserOut:
    return AuthUserOut.of(caller.user_id, caller.role)


@router.post(
    "/api/auth/logout",
    response_model=LogoutOut,
    summary="Sign out: the session ends on the server, its cookie is cleared",
)
async def logout(request: Request, container: ContainerDep) -> Response:
    ended = await container.access.end_session.execute(request.cookies.get(SESSION_COOKIE))
    message = "Signed out." if ended else "No sign-in to end: API keys stay valid until revoked."
    body = LogoutOut(message=message, signed_out=ended)
    response = Response(body.model_dump_json(), media_type="application/json")
    clear_session_cookie(response, request)
    return response


@router.delete(
    "/api/auth/cleanup",
    response_model=CleanupOut,
    responses=problem_responses(403),
    summary="Admin: remove expired and signed-out sessions",
)
async def cleanup(container: ContainerDep, admin: AdminDep) -> CleanupOut:
    deleted = await container.access.cleanup_sessions.execute(admin)
    return CleanupOut(message=f"Removed {deleted} expired or ended sessions.", deleted=deleted)
