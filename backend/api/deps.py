"""FastAPI dependencies: the container, the caller, and the bounds of integer parameters.

Every endpoint except the public ones (`/health` and the API docs) depends on
`current_caller`: the app adds it to each protected router, so a new route is protected
unless it is put on a public router on purpose. It reads the API key from
`Authorization: Bearer KEY` (preferred) or `X-API-Key: KEY`, turns it into a `Caller` (401
when missing, unknown or revoked) and leaves it on `request.state.caller` for code that runs
after it (the HTTP server reads it there too: a connection whose request was authenticated is
the last to be closed when a connection cap is full, backend/http_server.py). The rate limit
depends on it (see `rate_limit.py`), so it always runs after it and a refused key costs no
token. With AUTH_ENABLED=false the caller is the local admin, whatever is sent.

A request without a key may carry the web app's session cookie (`SESSION_COOKIE`, set by
`POST /api/session`): it stands for the key it was made with. A cookie-authenticated request
that changes something (any method but GET, HEAD and OPTIONS) must come from this server's
own pages: its `Origin` must be this server's origin (scheme, host and port: `PUBLIC_URL`,
else `OIDC_REDIRECT_URI`'s, else the scheme and Host the request reached it with, never a
client's `X-Forwarded-Host`), or it is refused (403) before it runs, so another site cannot
make a signed-in browser act (SameSite=Strict already keeps the cookie from cross-site
requests; this is the second lock). With authentication off, `origins.SiteGuardMiddleware`
refuses other sites' changes instead.

Every integer path or query parameter is bounded (`ge`/`le`): an unbounded Python int reaching
SQLite raises OverflowError past 64 bits, which would be a 500 instead of a 422.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from backend.api.origins import parse_origin, public_origin, request_origin, show
from backend.bootstrap import Container
from use_cases.access.domain import Caller, require_admin
from use_cases.shared.errors import Forbidden

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

SQLITE_MAX_INTEGER = 2**63 - 1
MAX_PAGE_SIZE = 500
MAX_PAGE_OFFSET = 1_000_000

RowId = Annotated[int, Path(ge=1, le=SQLITE_MAX_INTEGER, description="The id (1 or more).")]
PageLimit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (1 to {MAX_PAGE_SIZE:,}).")
]
PageOffset = Annotated[
    int,
    Query(ge=0, le=MAX_PAGE_OFFSET, description=f"Items to skip (0 to {MAX_PAGE_OFFSET:,})."),
]


def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


#: The web app's session cookie (see `backend/api/routes/session.py`).
SESSION_COOKIE = "almanac_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_caller(
    request: Request,
    container: ContainerDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    api_key: Annotated[str | None, Security(api_key_scheme)] = None,
) -> Caller:
    """The authenticated caller of this request (see the module docstring)."""
    secret = bearer.credentials if bearer is not None else api_key
    cookie = request.cookies.get(SESSION_COOKIE)
    if secret is None and cookie and container.access.authenticate.enabled:
        caller = await container.access.authenticate.execute_session(cookie)
        if request.method not in _SAFE_METHODS:
            require_same_origin(request, container)
    else:
        caller = await container.access.authenticate.execute(secret)
    request.state.caller = caller
    return caller


def require_same_origin(request: Request, container: Container) -> None:
    """403 unless the request's `Origin` is this server's origin: `public_origin` when
    configured, else the scheme and Host the request was sent to (a client's
    `X-Forwarded-Host` does not count: any client can send one)."""
    sent = request.headers.get("origin")
    own = public_origin(container.settings) or request_origin(request.scope)
    if own is None or parse_origin(sent) != own:
        raise Forbidden(
            "A signed-in browser request that changes something must come from this "
            f"server's own pages ({show(own) if own else 'unknown'}; Origin "
            f"{(sent or 'missing')[:200]}); scripts send an API key. Behind a proxy, set "
            "PUBLIC_URL to the address browsers use."
        )


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


async def acting_user_id(
    request: Request,
    container: ContainerDep,
    caller: CallerDep,
    user_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Omit to act as yourself (the API key's user). Only an admin may name "
            "another user, to read or change their chats as the body's `user_id` writes them; "
            "that is recorded in the audit log.",
        ),
    ] = None,
) -> str:
    """Whose chats a read (or a write without a body) acts on: the caller, or the `user_id`
    an admin names, as `user_id` in a chat body does (`ActFor`: audited, 403 for others)."""
    route = request.scope.get("route")
    via = f"{request.method} {getattr(route, 'path', request.url.path)}"
    return await container.access.act_for.execute(caller, user_id, via=via)


ActingUserDep = Annotated[str, Depends(acting_user_id)]


async def chat_reader_id(
    chat_id: str,
    request: Request,
    container: ContainerDep,
    caller: CallerDep,
    user_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Omit to act as yourself; only an admin may name another user "
            "(audited). In development mode (AUTH_ENABLED=false), omitted, the chat is read as "
            "its owner's: there a `user_id` is a claim anyone may "
            "make, and the knowledge assistant's client reads a chat it started with one "
            "without naming it again.",
        ),
    ] = None,
) -> str:
    """`acting_user_id` for reading a chat's messages; with authentication off and no
    `user_id`, the chat's owner (`ManageChats.owner`), audited as acting for them when that
    is not the caller."""
    if user_id is None and not container.settings.auth.enabled:
        user_id = await container.chat.chats.owner(chat_id)
    return await acting_user_id(request, container, caller, user_id)


ChatReaderDep = Annotated[str, Depends(chat_reader_id)]
