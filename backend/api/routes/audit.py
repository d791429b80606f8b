from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.admin_schemas import AuditPageOut
from backend.api.deps import AdminDep, ContainerDep, PageLimit, PageOffset

router = APIRouter(prefix="/api", tags=["admin"])


@router.get(
    "/audit",
    response_model=AuditPageOut,
    summary="The audit log of admin actions, newest first; admins only",
)
async def audit_log(
    container: ContainerDep,
    admin: AdminDep,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
    action: Annotated[
        str | None,
        Query(max_length=100, description="An action (`key.create`) or a family (`key`)."),
    ] = None,
) -> AuditPageOut:
    page = await container.access.list_audit.execute(
        admin, limit=limit, offset=offset, action=action
    )
    return AuditPageOut.of(page)
