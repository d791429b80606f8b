"""`GET /api/me`: who the caller is, so a client (the web app) can show what they may do."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.api.deps import CallerDep, ContainerDep

router = APIRouter(tags=["auth"])


class MeOut(BaseModel):
    user_id: str = Field(description="The caller: the key's user, or the default user")
    role: str = Field(description="`user` or `admin`")
    auth_enabled: bool = Field(description="Whether this server checks API keys")


@router.get(
    "/api/me", response_model=MeOut, summary="The caller: user, role, whether keys are checked"
)
async def me(caller: CallerDep, container: ContainerDep) -> MeOut:
    return MeOut(
        user_id=caller.user_id,
        role=caller.role,
        auth_enabled=container.settings.auth_enabled,
    )
