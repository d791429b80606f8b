"""Background jobs (large uploads): poll one for its status, progress and result."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import ContainerDep
from backend.api.schemas import ErrorOut, JobOut

router = APIRouter(prefix="/api/jobs", tags=["documents"])


@router.get(
    "/{job_id}",
    response_model=JobOut,
    responses={404: {"model": ErrorOut}},
    summary="A background job: status, progress (chunks), result or error",
)
async def get_job(container: ContainerDep, job_id: str) -> JobOut:
    return JobOut.of(await container.get_job.execute(job_id))
