from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from backend.api.deps import AdminDep, ContainerDep, PageLimit, PageOffset, RowId
from backend.api.openapi import problem_responses
from backend.api.schemas import DocumentDetailOut, DocumentListOut, IngestOut
from services.loaders import SUPPORTED_EXTENSIONS
from use_cases.errors import InvalidRequest, PayloadTooLarge, UnsupportedDocument
from use_cases.ingest import IngestRequest, IngestSource

router = APIRouter(prefix="/api/documents", tags=["documents"])


@router.post(
    "",
    response_model=IngestOut,
    status_code=201,
    responses=problem_responses(409, 415, 503, 504),  # 401, 403: from the caller dependencies
    summary="Upload a document (Markdown, text, HTML or PDF); admins only",
)
async def upload_document(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    file: Annotated[UploadFile, File(description="The document file.")],
    category: Annotated[str | None, Form(max_length=100)] = None,
) -> IngestOut:
    name = (file.filename or "").strip().replace("\\", "/").rsplit("/", 1)[-1]
    if not name:
        raise InvalidRequest("The upload has no file name; the type is taken from it.")
    if not container.loader.supports(name):
        raise UnsupportedDocument(
            f"{name}: unsupported file type; supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}."
        )
    limit = container.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"{name} is larger than the {limit:,}-byte upload limit.")
    source = IngestSource(source=f"upload:{name}", name=name, read=lambda: data)
    report = await container.admin_ingest.execute(
        admin,
        IngestRequest(
            sources=[source], category=(category or "").strip() or None, raise_errors=True
        ),
    )
    item = report.items[0]
    if item.status == "unchanged":
        response.status_code = 200
    assert item.document_id is not None
    detail = await container.get_document.execute(item.document_id)
    return IngestOut.of(item, detail.document)


@router.get("", response_model=DocumentListOut, summary="List documents")
async def list_documents(
    container: ContainerDep,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
    category: Annotated[str | None, Query(max_length=100)] = None,
) -> DocumentListOut:
    page = await container.list_documents.execute(limit=limit, offset=offset, category=category)
    return DocumentListOut.of(page)


@router.get(
    "/{document_id}",
    response_model=DocumentDetailOut,
    responses=problem_responses(404),
    summary="One document with its sections",
)
async def get_document(container: ContainerDep, document_id: RowId) -> DocumentDetailOut:
    return DocumentDetailOut.of_detail(await container.get_document.execute(document_id))


@router.delete(
    "/{document_id}",
    status_code=204,
    responses=problem_responses(404),
    summary="Remove a document; admins only",
)
async def delete_document(container: ContainerDep, admin: AdminDep, document_id: RowId) -> Response:
    await container.admin_remove_document.execute(admin, document_id)
    return Response(status_code=204)
