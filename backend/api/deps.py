"""FastAPI dependencies: the container, and (later) the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from backend.bootstrap import Container


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
