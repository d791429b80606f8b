"""FastAPI dependencies: the container, (later) the caller's identity, and the bounds of
integer parameters.

Every integer path or query parameter is bounded (`ge`/`le`): an unbounded Python int reaching
SQLite raises OverflowError past 64 bits, which would be a 500 instead of a 422.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request

from backend.bootstrap import Container

SQLITE_MAX_INTEGER = 2**63 - 1
MAX_PAGE_SIZE = 500
MAX_PAGE_OFFSET = 1_000_000

RowId = Annotated[int, Path(ge=1, le=SQLITE_MAX_INTEGER, description="The id (1 or more).")]
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]
PageOffset = Annotated[
    int, Query(ge=0, le=MAX_PAGE_OFFSET, description="Items to skip (0 to 1,000,000).")
]


def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


ContainerDep = Annotated[Container, Depends(get_container)]


def current_user_id(
    container: ContainerDep,
    x_user_id: Annotated[
        str | None, Header(max_length=64, description="Caller identity (until auth exists).")
    ] = None,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
) -> str:
    """The caller's identity. The one place a later authentication issue replaces.

    Without one it is DEFAULT_USER_ID, the user the CLI acts as without `--user`.
    """
    default = container.settings.default_user_id
    return (x_user_id or user_id or default).strip() or default


UserDep = Annotated[str, Depends(current_user_id)]
