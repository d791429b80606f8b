"""`/api/sources`: synced sources (folders, S3 buckets), admins only: declare, list, sync now
(a background job with progress), read the history, remove (docs/sources.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from backend.api.deps import AdminDep, ContainerDep
from backend.api.openapi import problem_responses
from backend.api.source_schemas import (
    SourceIn,
    SourceOut,
    SourceRemovedOut,
    SyncJobOut,
    SyncRunOut,
)
from use_cases.sources.manage import AddSourceRequest

router = APIRouter(prefix="/api/sources", tags=["sources"])

Name = Annotated[
    str,
    Path(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="The source's name.",
    ),
]
JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("", response_model=list[SourceOut], summary="Every source with its last and next sync")
async def list_sources(container: ContainerDep, admin: AdminDep) -> list[SourceOut]:
    return [SourceOut.of(view) for view in await container.sources.sources.list_sources()]


@router.post(
    "",
    response_model=SourceOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422),
    summary="Declare a source (a folder, an S3 prefix); a scheduled one is synced at once",
)
async def add_source(
    body: SourceIn, container: ContainerDep, admin: AdminDep, response: Response
) -> SourceOut:
    request = AddSourceRequest.of_options(
        body.name,
        folder=body.folder,
        s3=body.s3,
        url=body.url,
        every=body.every,
        collection=body.collection,
    )
    view = await container.sources.sources.add(admin, request)
    response.headers["Location"] = f"/api/sources/{view.spec.name}"
    return SourceOut.of(view)


@router.get(
    "/{name}", response_model=SourceOut, responses=problem_responses(404), summary="One source"
)
async def get_source(name: Name, container: ContainerDep, admin: AdminDep) -> SourceOut:
    return SourceOut.of(await container.sources.sources.show(name))


@router.delete(
    "/{name}",
    response_model=SourceRemovedOut,
    responses=problem_responses(404, 409),
    summary="Remove a source and (unless keep_documents) its documents",
)
async def remove_source(
    name: Name,
    container: ContainerDep,
    admin: AdminDep,
    keep_documents: Annotated[
        bool, Query(description="Keep its documents in the knowledge base.")
    ] = False,
) -> SourceRemovedOut:
    removed = await container.sources.sources.remove(admin, name, keep_documents=keep_documents)
    return SourceRemovedOut(name=name, documents_removed=removed)


@router.post(
    "/{name}/sync",
    response_model=SyncJobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(404, 503),
    summary="Sync now, as a background job (the same job while one is queued or running)",
)
async def sync_source(
    name: Name, container: ContainerDep, admin: AdminDep, response: Response
) -> SyncJobOut:
    job = await container.sources.queue_sync.execute(name, created_by=admin.user_id)
    response.headers["Location"] = f"/api/sources/{name}/jobs/{job.id}"
    return SyncJobOut.of(job)


@router.get(
    "/{name}/jobs/{job_id}",
    response_model=SyncJobOut,
    responses=problem_responses(404),
    summary="A sync job's status and progress (items decided)",
)
async def get_sync_job(
    name: Name, job_id: JobId, container: ContainerDep, admin: AdminDep
) -> SyncJobOut:
    return SyncJobOut.of(await container.sources.get_sync_job.execute(name, job_id))


@router.get(
    "/{name}/history",
    response_model=list[SyncRunOut],
    responses=problem_responses(404),
    summary="The source's syncs, newest first, with their counts and errors",
)
async def source_history(
    name: Name,
    container: ContainerDep,
    admin: AdminDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[SyncRunOut]:
    return [SyncRunOut.of(run) for run in await container.sources.sources.sync_history(name, limit)]
