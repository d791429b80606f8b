from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.admin_schemas import AuditPageOut
from backend.api.deps import AdminDep, ContainerDep
from backend.api.schemas import ErrorOut

router = APIRouter(prefix="/api", tags=["admin"])


@router.get(
    "/audit",
    response_model=AuditPageOut,
    responses={code: {"model": ErrorOut} for code in (403, 422)},
    summary="The audit log of admin actions, newest first; admins only",
)
async def audit_log(
    container: ContainerDep,
    admin: AdminDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    action: Annotated[
        str | None,
        Query(max_length=100, description="An action (`key.create`) or a family (`key`)."),
    ] = None,
) -> AuditPageOut:
    page = await container.list_audit.execute(admin, limit=limit, offset=offset, action=action)
    return AuditPageOut.of(page)
