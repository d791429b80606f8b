"""`DELETE /api/users/{user_id}`: an admin deletes all of one user's data
(`use_cases/admin/erase_user.py` says what goes and what stays)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.api.deps import AdminDep, ContainerDep
from backend.api.openapi import problem_responses

router = APIRouter(prefix="/api", tags=["admin"])


class ErasedUserOut(BaseModel):
    user_id: str
    chats: int = Field(description="Chats deleted, with their messages, files and drafts")
    advice_threads: int = Field(description="Advice threads deleted")
    responses: int = Field(description="Logged responses deleted, with their feedback")
    keys_revoked: int = Field(description="API keys revoked (kept, so the audit log resolves)")


@router.delete(
    "/users/{user_id}",
    response_model=ErasedUserOut,
    responses=problem_responses(404, 409),
    summary="Delete all of one user's data (chats, files, advice, responses; keys revoked); "
    "admins only",
)
async def erase_user(user_id: str, container: ContainerDep, admin: AdminDep) -> ErasedUserOut:
    erased = await container.admin.erase_user.execute(admin, user_id)
    return ErasedUserOut(**erased.__dict__)
