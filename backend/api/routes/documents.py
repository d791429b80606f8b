"""Documents: upload (now or as a background job), replace explicitly, list, read, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from backend.api.deps import ContainerDep
from backend.api.schemas import DocumentDetailOut, DocumentListOut, ErrorOut, IngestOut, JobOut
from use_cases.uploads import UploadOutcome, UploadRequest

router = APIRouter(prefix="/api/documents", tags=["documents"])

_ERRORS = {
    404: {"model": ErrorOut},
    409: {"model": ErrorOut, "description": "The name is taken, or the content is a duplicate."},
    413: {"model": ErrorOut},
    415: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
_UPLOADED = {
    200: {"model": IngestOut, "description": "Unchanged, or replaced (`status: updated`)."},
    202: {"model": JobOut, "description": "Large upload: poll the job at its `Location`."},
    **_ERRORS,
}
FileField = Annotated[UploadFile, File(description="The document file.")]
CategoryField = Annotated[str | None, Form(max_length=100)]


@router.post(
    "",
    response_model=IngestOut | JobOut,
    status_code=201,
    responses=_UPLOADED,
    summary="Upload a document (Markdown, text, HTML or PDF)",
)
async def upload_document(
    container: ContainerDep,
    response: Response,
    file: FileField,
    category: CategoryField = None,
    replace: Annotated[
        int | None,
        Form(
            description="Id of the document this upload replaces. Without it, an upload "
            "whose name is taken by a document with other content is refused (409)."
        ),
    ] = None,
) -> IngestOut | JobOut:
    return await _upload(container, response, file, category, replace)


@router.put(
    "/{document_id}",
    response_model=IngestOut | JobOut,
    responses=_UPLOADED,
    summary="Replace a document's content (same id and source)",
)
async def replace_document(
    container: ContainerDep,
    response: Response,
    document_id: int,
    file: FileField,
    category: CategoryField = None,
) -> IngestOut | JobOut:
    return await _upload(container, response, file, category, document_id)


async def _upload(
    container: ContainerDep,
    response: Response,
    file: UploadFile,
    category: str | None,
    replace: int | None,
) -> IngestOut | JobOut:
    data = await file.read(container.settings.max_upload_bytes + 1)
    outcome = await container.upload_document.execute(
        UploadRequest(file.filename or "", data, category, replace)
    )
    return _encode(outcome, response)


def _encode(outcome: UploadOutcome, response: Response) -> IngestOut | JobOut:
    if outcome.job is not None:
        response.status_code = 202
        response.headers["Location"] = f"/api/jobs/{outcome.job.id}"
        return JobOut.of(outcome.job)
    assert outcome.result is not None
    item = outcome.result.item
    response.status_code = 201 if item.status == "added" else 200
    return IngestOut.of(item, outcome.result.document)


@router.get("", response_model=DocumentListOut, summary="List documents")
async def list_documents(
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    category: Annotated[str | None, Query(max_length=100)] = None,
) -> DocumentListOut:
    page = await container.list_documents.execute(limit=limit, offset=offset, category=category)
    return DocumentListOut.of(page)


@router.get(
    "/{document_id}",
    response_model=DocumentDetailOut,
    responses=_ERRORS,
    summary="One document with its sections",
)
async def get_document(container: ContainerDep, document_id: int) -> DocumentDetailOut:
    return DocumentDetailOut.of_detail(await container.get_document.execute(document_id))


@router.delete("/{document_id}", status_code=204, responses=_ERRORS, summary="Remove a document")
async def delete_document(container: ContainerDep, document_id: int) -> Response:
    await container.remove_document.execute(document_id)
    return Response(status_code=204)
