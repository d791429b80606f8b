"""FastAPI dependencies: the container, and (later) the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from backend.bootstrap import Container


def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


ContainerDep = Annotated[Container, Depends(get_container)]


def current_user_id(
    x_user_id: Annotated[
        str | None, Header(max_length=64, description="Caller identity (until auth exists).")
    ] = None,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
) -> str:
    """The caller's identity. The one place a later authentication issue replaces."""
    return (x_user_id or user_id or DEFAULT_USER).strip() or DEFAULT_USER


DEFAULT_USER = "default"
UserDep = Annotated[str, Depends(current_user_id)]
