"""FastAPI dependencies: the container and the caller.

Every endpoint except the public ones (`/health` and the API docs) depends on
`current_caller`: the app adds it to each protected router, so a new route is protected
unless it is put on a public router on purpose. It reads the API key from
`Authorization: Bearer KEY` (preferred) or `X-API-Key: KEY`, turns it into a `Caller` (401
when missing, unknown or revoked) and leaves it on `request.state.caller` for code that runs
after it (a per-key rate limiter belongs in a dependency listed after it, or reads the state
once the endpoint ran). With AUTH_ENABLED=false the caller is the local admin, whatever is sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from backend.bootstrap import Container
from use_cases.auth import Caller
from use_cases.auth_domain import require_admin

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="An Almanac API key (`almanac keys create`): `Authorization: Bearer alm_...`.",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="The same API key in an `X-API-Key` header, for clients that cannot set "
    "`Authorization`.",
)


def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


ContainerDep = Annotated[Container, Depends(get_container)]


async def current_caller(
    request: Request,
    container: ContainerDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    api_key: Annotated[str | None, Security(api_key_scheme)] = None,
) -> Caller:
    """The authenticated caller of this request (see the module docstring)."""
    secret = bearer.credentials if bearer is not None else api_key
    caller = await container.authenticate.execute(secret)
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def admin_caller(caller: CallerDep) -> Caller:
    """The caller, who must have the admin role (403 otherwise)."""
    require_admin(caller, "This endpoint")
    return caller


AdminDep = Annotated[Caller, Depends(admin_caller)]


def current_user_id(caller: CallerDep) -> str:
    """The caller's user id: whose chats a request reads and writes."""
    return caller.user_id


UserDep = Annotated[str, Depends(current_user_id)]
