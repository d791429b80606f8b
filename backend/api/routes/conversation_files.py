"""Files attached to a chat: upload, list, metadata, download, delete (the chat's owner only;
docs/conversation-files.md)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Path, Response, UploadFile

from backend.api.conversation_files_schemas import AttachedOut, ChatFileOut
from backend.api.deps import ActingUserDep, ContainerDep
from backend.api.openapi import problem_responses
from backend.api.rate_limit import RateLimited
from use_cases.conversations.files import AttachRequest, FileContent

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

ChatId = Annotated[str, Path(max_length=64, description="The chat (conversation) id.")]
FileId = Annotated[str, Path(max_length=64, description="The file id (32 hex digits).")]
FileField = Annotated[
    UploadFile,
    File(description="The file: Markdown, text, HTML, PDF, or a PNG, JPEG, GIF or WebP image."),
]

_UPLOADED = {
    200: {"model": AttachedOut, "description": "The chat already held these bytes."},
    **problem_responses(404),
    413: {
        "description": "Over CHAT_FILE_MAX_BYTES, more than MAX_DOCUMENT_CHUNKS chunks, or an "
        "image of more pixels than decoding may cost (`input_too_costly`)."
    },
    415: {"description": "Not a supported type, or binary content (`unsupported_document`)."},
    422: {"description": "No file name, no text in the file, or a broken image."},
}


@router.post(
    "/{chat_id}/files",
    response_model=AttachedOut,
    status_code=201,
    responses={201: {"description": "A new file of the chat."}, **_UPLOADED},
    dependencies=[RateLimited],
    summary="Attach a file to a chat; its passages are searched by that chat's turns only",
)
async def attach_file(
    chat_id: ChatId,
    file: FileField,
    container: ContainerDep,
    user: ActingUserDep,
    response: Response,
) -> AttachedOut:
    data = await file.read(container.conversation_files.attach_file.read_limit)
    outcome = await container.conversation_files.attach_file.execute(
        AttachRequest(user, chat_id, file.filename or "", data)
    )
    response.status_code = 201 if outcome.created else 200
    return AttachedOut.attached(outcome)


@router.get(
    "/{chat_id}/files",
    response_model=list[ChatFileOut],
    responses=problem_responses(404),
    summary="The chat's attached files, oldest first",
)
async def list_files(
    chat_id: ChatId, container: ContainerDep, user: ActingUserDep
) -> list[ChatFileOut]:
    return [
        ChatFileOut.of(f)
        for f in await container.conversation_files.list_files.execute(user, chat_id)
    ]


@router.get(
    "/{chat_id}/files/{file_id}",
    response_model=ChatFileOut,
    responses=problem_responses(404),
    summary="One attached file's metadata",
)
async def get_file(
    chat_id: ChatId, file_id: FileId, container: ContainerDep, user: ActingUserDep
) -> ChatFileOut:
    return ChatFileOut.of(
        await container.conversation_files.get_file.execute(user, chat_id, file_id)
    )


@router.get(
    "/{chat_id}/files/{file_id}/content",
    response_class=Response,
    responses={
        200: {"description": "The file's bytes, as an attachment.", "content": {"*/*": {}}},
        **problem_responses(404),
    },
    summary="Download an attached file",
)
async def download_file(
    chat_id: ChatId, file_id: FileId, container: ContainerDep, user: ActingUserDep
) -> Response:
    return file_response(
        await container.conversation_files.read_file.execute(user, chat_id, file_id)
    )


@router.delete(
    "/{chat_id}/files/{file_id}",
    status_code=204,
    responses=problem_responses(404),
    summary="Delete an attached file (its bytes and its passages)",
)
async def delete_file(
    chat_id: ChatId, file_id: FileId, container: ContainerDep, user: ActingUserDep
) -> Response:
    await container.conversation_files.remove_file.execute(user, chat_id, file_id)
    return Response(status_code=204)


def file_response(content: FileContent) -> Response:
    """The file's exact bytes, as a download of the type its bytes showed (never shown
    inline; every response also carries `X-Content-Type-Options: nosniff`)."""
    return Response(
        content=content.data,
        media_type=content.file.media_type,
        headers={"Content-Disposition": content_disposition(content.file.name)},
    )


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII fallback name (quotes, backslashes and anything outside
    printable ASCII replaced by `_`) and the exact name as RFC 5987 `filename*`."""
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\;' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
