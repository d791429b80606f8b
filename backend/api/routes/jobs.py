"""Background jobs (large uploads): poll one for its status, progress and result.

A job is shown to the admin who created it and to admins; to anyone else it is a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from backend.api.deps import CallerDep, ContainerDep
from backend.api.schemas import JobOut

router = APIRouter(prefix="/api/jobs", tags=["documents"])

JobId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The job id from the upload's answer (its `Location`).",
    ),
]


@router.get(
    "/{job_id}",
    response_model=JobOut,
    responses={  # 401: from the caller dependency
        404: {"description": "No such job (or no longer kept), or not yours"}
    },
    summary="A background job: status, progress (chunks), result or error",
)
async def get_job(container: ContainerDep, caller: CallerDep, job_id: JobId) -> JobOut:
    return JobOut.of(await container.admin.get_job.execute(caller, job_id))
