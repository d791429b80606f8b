"""Documents: upload (now or as a background job), replace explicitly, list, read, remove."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from backend.api.deps import (
    SQLITE_MAX_INTEGER,
    AdminDep,
    CallerDep,
    ContainerDep,
    PageLimit,
    PageOffset,
    RowId,
)
from backend.api.filters import FiltersDep
from backend.api.openapi import problem_responses
from backend.api.schemas import (
    ConflictListOut,
    DocumentDetailOut,
    DocumentListOut,
    DocumentTypesOut,
    IngestOut,
    IngestProblemListOut,
    JobOut,
)
from backend.ingest_problems import load_problems
from use_cases.access.domain import Caller
from use_cases.admin.uploads import UploadOutcome, UploadRequest
from use_cases.knowledge.conflicts import MAX_CONFLICTS

router = APIRouter(prefix="/api/documents", tags=["documents"])

# 401, 403: from the caller dependencies; 400 and 500 as for every operation with a body.
_UPLOADED = {
    200: {"model": IngestOut, "description": "Unchanged, or replaced (`status: updated`)."},
    202: {
        "model": JobOut,
        "description": "Large upload: poll the job at its `Location`.",
        "headers": {
            "Location": {
                "description": "The job: `/api/jobs/{id}`.",
                "schema": {"type": "string"},
            }
        },
    },
    **problem_responses(404, 504),
    409: {
        "description": "The name is another document's (`document_exists`: replace it "
        "explicitly), the content is already stored (`duplicate_document`), or the title is "
        "another document's (`title_taken`)."
    },
    413: {
        "description": "The file is over MAX_UPLOAD_BYTES, or it would make more than "
        "MAX_DOCUMENT_CHUNKS chunks (`payload_too_large`)."
    },
    415: {"description": "Not a supported type, or binary content (`unsupported_document`)."},
    422: {
        "description": "Invalid request or document: no file name, no text, a future date "
        "(`future_date`), an unknown `supersedes:`."
    },
    503: {
        "description": "Too many uploads are queued (`service_busy`), or the embedding "
        "provider is unavailable."
    },
}
FileField = Annotated[UploadFile, File(description="The document file.")]
CategoryField = Annotated[str | None, Form(max_length=100)]
CollectionField = Annotated[
    str | None,
    Form(
        max_length=100,
        description="The collection to put it in (`almanac collections create`); without "
        "it a new document goes to the default collection every user reads, and a replaced "
        "one keeps its own. An unknown name is refused (422).",
    ),
]
ReplaceField = Annotated[
    int | None,
    Form(
        ge=1,
        le=SQLITE_MAX_INTEGER,
        description="Id of the document this upload replaces. Without it, an upload whose "
        "name is taken by a document with other content is refused (409).",
    ),
]


@router.post(
    "",
    response_model=IngestOut | JobOut,
    status_code=201,
    responses={201: {"description": "A new document (`status: added`)."}, **_UPLOADED},
    summary="Upload a document (Markdown, text, HTML or PDF); admins only",
)
async def upload_document(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    file: FileField,
    category: CategoryField = None,
    replace: ReplaceField = None,
    collection: CollectionField = None,
) -> IngestOut | JobOut:
    return await _upload(container, admin, response, file, category, replace, collection)


@router.put(
    "/{document_id}",
    response_model=IngestOut | JobOut,
    responses=_UPLOADED,
    summary="Replace a document's content (same id and source); admins only",
)
async def replace_document(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    document_id: RowId,
    file: FileField,
    category: CategoryField = None,
    collection: CollectionField = None,
) -> IngestOut | JobOut:
    return await _upload(container, admin, response, file, category, document_id, collection)


async def _upload(
    container: ContainerDep,
    admin: Caller,
    response: Response,
    file: UploadFile,
    category: str | None,
    replace: int | None,
    collection: str | None = None,
) -> IngestOut | JobOut:
    data = await file.read(container.admin.upload_document.read_limit)
    outcome = await container.admin.upload_document.execute(
        admin, UploadRequest(file.filename or "", data, category, replace, collection)
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
    return IngestOut.of(item, outcome.result.document, outcome.result.answers_job)


@router.get("", response_model=DocumentListOut, summary="List documents")
async def list_documents(
    container: ContainerDep,
    caller: CallerDep,
    filters: FiltersDep,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
    category: Annotated[str | None, Query(max_length=100)] = None,
) -> DocumentListOut:
    page = await container.knowledge.list_documents.execute(
        limit=limit, offset=offset, category=category, caller=caller, filters=filters
    )
    return DocumentListOut.of(page)


@router.get(
    "/types",
    response_model=DocumentTypesOut,
    summary="The file types a document upload accepts",
    description="The web app's upload form offers these; the document loaders decide.",
)
async def document_types(container: ContainerDep) -> DocumentTypesOut:
    return DocumentTypesOut(extensions=list(container.admin.upload_document.file_types))


#: Seconds a client polling a conflict scan under way should wait between requests.
CONFLICT_SCAN_RETRY_S = 5


@router.get(
    "/conflicts",
    response_model=ConflictListOut,
    responses=problem_responses(422),  # 401, 403: from the caller dependencies
    summary="Current documents that state different values for the same thing; admins only",
    description="Answers at once with the latest background scan of the knowledge base; "
    "when the knowledge base changed since (or no scan ran yet), `status` is `scanning`, a "
    "scan starts, and a `Retry-After` header says when to ask again.",
)
async def list_conflicts(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_CONFLICTS, description=f"Conflicts listed (1 to {MAX_CONFLICTS})."),
    ] = 50,
) -> ConflictListOut:
    listing = await container.knowledge.list_conflicts.execute(admin, limit)
    if listing.status == "scanning":
        response.headers["Retry-After"] = str(CONFLICT_SCAN_RETRY_S)
    return ConflictListOut.of(listing)


@router.get(
    "/problems",
    response_model=IngestProblemListOut,  # 401, 403: from the caller dependencies
    summary="Files of the ingested folders that are not in the knowledge base; admins only",
    description="Each file the last ingest of its folder failed to read, refused (duplicate, "
    "conflict) or skipped (a type not read), with the reason. Temporary and lock files are "
    "ignored, not listed.",
)
async def list_problems(container: ContainerDep, admin: AdminDep) -> IngestProblemListOut:
    problems = load_problems(container.settings.storage.data_dir)
    return IngestProblemListOut.model_validate(
        {"problems": [asdict(problem) for problem in problems]}
    )


@router.get(
    "/{document_id}",
    response_model=DocumentDetailOut,
    responses=problem_responses(404),
    summary="One document with its sections",
)
async def get_document(
    container: ContainerDep, caller: CallerDep, document_id: RowId
) -> DocumentDetailOut:
    detail = await container.knowledge.get_document.execute(document_id, caller)
    return DocumentDetailOut.of_detail(detail)


@router.delete(
    "/{document_id}",
    status_code=204,
    responses=problem_responses(404),  # 401, 403: from the caller dependencies
    summary="Remove a document; admins only",
)
async def delete_document(container: ContainerDep, admin: AdminDep, document_id: RowId) -> Response:
    await container.admin.admin_remove_document.execute(admin, document_id)
    return Response(status_code=204)
