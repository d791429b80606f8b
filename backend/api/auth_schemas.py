"""HTTP shapes of the signed-in caller: `GET /api/auth/status` (routes/oidc.py) and document
002's `GET /api/auth/me` (compat/conversations_002.py). Almanac's keys name a user, not an
account: the name is the user id and there is no e-mail address."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AuthUserOut(BaseModel):
    id: str = Field(description="The user id (the API key's user).")
    user_id: str
    name: str = Field(description="The user id: Almanac keeps no display name.")
    email: str | None = Field(description="Null: Almanac's keys carry no e-mail address.")
    role: Literal["user", "admin"]
    is_active: bool = Field(description="True: a revoked key is refused before this answers.")

    @classmethod
    def of(cls, caller_id: str, role: Literal["user", "admin"]) -> AuthUserOut:
        return cls(
            id=caller_id, user_id=caller_id, name=caller_id, email=None, role=role, is_active=True
        )


class AuthStatusOut(BaseModel):
    authenticated: bool
    user: AuthUserOut | None
    auth_enabled: bool = Field(description="Whether this server checks API keys.")
    login_available: bool = Field(
        description="Whether `GET /api/auth/login` signs in: an OpenID Connect provider is set "
        "up (OIDC_CLIENT_ID) and keys are checked."
    )
