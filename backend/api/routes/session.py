"""`GET /api/me`: who the caller is, so a client (the web app) can show what they may do,
and the wording this deployment gives its question boxes; `POST /api/session` and
`DELETE /api/session`: a browser signs in once with its key (an HttpOnly, SameSite=Strict
session cookie, Secure over HTTPS, valid in every tab for SESSION_HOURS) and out again (the
session ends on the server). Scripts keep sending the key itself."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from backend.api.deps import SESSION_COOKIE, CallerDep, ContainerDep
from backend.api.openapi import problem_responses

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
        auth_enabled=container.settings.auth.enabled,
        chat_placeholder=container.settings.web.ui_chat_placeholder,
        advice_placeholder=container.settings.web.ui_advice_placeholder,
    )


# --- signing in and out (public: the key comes in the body, the session in its cookie) -------

sign_in_router = APIRouter(tags=["auth"])


class SignInIn(BaseModel):
    model_config = {"extra": "forbid"}

    key: str = Field(min_length=1, max_length=200, description="An API key (1 to 200 characters).")


class SignInOut(BaseModel):
    user_id: str
    role: str
    expires_at: datetime = Field(description="When the sign-in ends (SESSION_HOURS from now).")


def set_session_cookie(
    response: Response, request: Request, container: ContainerDep, secret: str
) -> None:
    """The browser's sign-in (by key here, or with an OpenID provider in `oidc.py`)."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=container.settings.auth.session_hours * 3600,
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """The browser forgets its sign-in (the cookie `set_session_cookie` set)."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


@sign_in_router.post(
    "/api/session",
    response_model=SignInOut,
    responses=problem_responses(401, 409),
    summary="Sign a browser in: exchange an API key for an HttpOnly session cookie",
)
async def sign_in(
    body: SignInIn, request: Request, response: Response, container: ContainerDep
) -> SignInOut:
    started = await container.access.start_session.execute(body.key)
    set_session_cookie(response, request, container, started.secret)
    return SignInOut(
        user_id=started.caller.user_id, role=started.caller.role, expires_at=started.expires_at
    )


@sign_in_router.delete(
    "/api/session",
    status_code=204,
    summary="Sign the browser out: its session ends on the server and the cookie is cleared",
)
async def sign_out(request: Request, container: ContainerDep) -> Response:
    await container.access.end_session.execute(request.cookies.get(SESSION_COOKIE))
    response = Response(status_code=204)
    clear_session_cookie(response, request)
    return response
