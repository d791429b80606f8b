"""`GET /api/me`: who the caller is, so a client (the web app) can show what they may do,
and the wording this deployment gives its question boxes."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.api.deps import CallerDep, ContainerDep

router = APIRouter(tags=["auth"])


class MeOut(BaseModel):
    user_id: str = Field(description="The caller: the key's user, or the default user")
    role: str = Field(description="`user` or `admin`")
    auth_enabled: bool = Field(description="Whether this server checks API keys")
    chat_placeholder: str = Field(
        description="What the web app's question box says before anything is typed "
        "(`UI_CHAT_PLACEHOLDER`: it depends on what the knowledge base holds)"
    )
    advice_placeholder: str = Field(
        description="The same for the advice box (`UI_ADVICE_PLACEHOLDER`)"
    )


@router.get(
    "/api/me", response_model=MeOut, summary="The caller: user, role, whether keys are checked"
)
async def me(caller: CallerDep, container: ContainerDep) -> MeOut:
    return MeOut(
        user_id=caller.user_id,
        role=caller.role,
        auth_enabled=container.settings.auth_enabled,
        chat_placeholder=container.settings.ui_chat_placeholder,
        advice_placeholder=container.settings.ui_advice_placeholder,
    )
