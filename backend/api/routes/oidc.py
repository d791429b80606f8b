"""Signing a browser in with an OpenID Connect provider (Google by default):
`GET /api/auth/login` sends the browser to the provider; `GET /api/auth/callback` is where
the provider sends it back, signed in with the same session cookie as `POST /api/session`;
`GET /api/auth/status` says whether a request is signed in and whether this sign-in is set up.

Between login and callback, the sign-in's state, nonce and PKCE verifier wait in a cookie of
their own (HttpOnly, SameSite=Lax so the provider's redirect carries it, only sent to the
callback, ten minutes); a sign-in that ends clears it, and one the server cannot read (not
its JSON, or nested past the JSON depth budget of services/budgets.py) counts as none. The
three routes are public. The rules are the use case's (`use_cases/access/oidc.py`).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Security
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials

from backend.api.auth_schemas import AuthStatusOut, AuthUserOut
from backend.api.deps import ContainerDep, api_key_scheme, bearer_scheme, current_caller
from backend.api.openapi import problem_responses
from backend.api.routes.session import set_session_cookie
from services.budgets import loads_bounded
from use_cases.access.oidc import PendingSignIn
from use_cases.shared.errors import InputTooCostly, InvalidRequest, Unauthorized

router = APIRouter(tags=["auth"])

PENDING_COOKIE = "almanac_oidc"
CALLBACK_PATH = "/api/auth/callback"
PENDING_SECONDS = 600


def _redirect_uri(request: Request, container: ContainerDep) -> str:
    settings = container.settings
    if settings.auth.oidc_redirect_uri:
        return settings.auth.oidc_redirect_uri
    if settings.auth.public_url:
        return settings.auth.public_url.rstrip("/") + CALLBACK_PATH
    return str(request.url_for("oidc_callback"))


#: A path on this site: "/" then anything but a second "/" or "\\" (both would make it
#: another site's address), and no control characters or spaces (browsers drop tabs and
#: newlines from a URL, so "/\t/evil.example" would become "//evil.example").
_LOCAL_PATH = re.compile(r"/(?![/\\])[^\x00-\x20\x7f\\]*")


def safe_next(value: str | None) -> str:
    """Where to land after signing in: a path on this site, never another site."""
    if value and _LOCAL_PATH.fullmatch(value):
        return value
    return "/"


_REDIRECTED: dict[int | str, dict[str, Any]] = {
    302: {"description": "To the provider's sign-in page"}
}
_SIGNED_IN: dict[int | str, dict[str, Any]] = {
    303: {"description": "Signed in: to the page the sign-in began for"}
}


@router.get(
    "/api/auth/login",
    status_code=302,
    responses=_REDIRECTED | problem_responses(409, 501, 503),
    summary="Sign in with the OpenID Connect provider (Google): a redirect to it",
)
async def oidc_login(
    request: Request,
    container: ContainerDep,
    next_: Annotated[
        str | None,
        Query(alias="next", max_length=2000, description="A path here to land on afterwards"),
    ] = None,
) -> RedirectResponse:
    pending = await container.access.oidc_sign_in.begin(_redirect_uri(request, container))
    response = RedirectResponse(pending.url, status_code=302)
    kept = {
        "state": pending.state,
        "nonce": pending.nonce,
        "verifier": pending.code_verifier,
        "next": safe_next(next_),
    }
    response.set_cookie(
        PENDING_COOKIE,
        base64.urlsafe_b64encode(json.dumps(kept).encode()).decode(),
        max_age=PENDING_SECONDS,
        path=CALLBACK_PATH,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )
    return response


def _kept(request: Request) -> tuple[PendingSignIn | None, str]:
    raw = request.cookies.get(PENDING_COOKIE)
    if not raw:
        return None, "/"
    try:
        kept = loads_bounded(base64.urlsafe_b64decode(raw.encode()), "The sign-in cookie")
        pending = PendingSignIn("", kept["state"], kept["nonce"], kept["verifier"])
        return pending, safe_next(kept.get("next"))
    except (ValueError, KeyError, TypeError, InputTooCostly):  # not one this server set
        return None, "/"


@router.get(
    CALLBACK_PATH,
    name="oidc_callback",
    status_code=303,
    responses=_SIGNED_IN | problem_responses(400, 401, 403, 409, 501, 503),
    summary="Where the provider sends the browser back: signs it in (the session cookie)",
)
async def oidc_callback(
    request: Request,
    container: ContainerDep,
    code: Annotated[str | None, Query(max_length=4000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> RedirectResponse:
    pending, landing = _kept(request)
    container.access.oidc_sign_in.ready()  # not set up: said before anything about the request
    if error:
        raise Unauthorized(f"The sign-in provider did not sign you in ({error}).")
    if not code or not state:
        raise InvalidRequest("The provider's redirect has no `code` or `state`.")
    started = await container.access.oidc_sign_in.complete(
        redirect_uri=_redirect_uri(request, container), code=code, state=state, kept=pending
    )
    response = RedirectResponse(landing, status_code=303)
    set_session_cookie(response, request, container, started.secret)
    response.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH, httponly=True, samesite="lax")
    return response


# --- the sign-in's status (the web app reads `login_available`) --------------------------


@router.get(
    "/api/auth/status",
    response_model=AuthStatusOut,
    summary="Whether the request is signed in (public)",
)
async def auth_status(
    request: Request,
    container: ContainerDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    api_key: Annotated[str | None, Security(api_key_scheme)] = None,
) -> AuthStatusOut:
    try:
        caller = await current_caller(request, container, bearer, api_key)
    except Unauthorized:
        user = None
    else:
        user = AuthUserOut.of(caller.user_id, caller.role)
    return AuthStatusOut(
        authenticated=user is not None,
        user=user,
        auth_enabled=container.settings.auth.enabled,
        login_available=container.settings.auth.enabled and container.access.oidc_sign_in.set_up,
    )
