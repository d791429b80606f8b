"""The FastAPI application: lifespan builds the container, routes stay thin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from loguru import logger

from backend import __version__
from backend.api.deps import current_caller
from backend.api.errors import install_error_handlers
from backend.api.middleware import RequestLogMiddleware
from backend.api.routes import audit, chat, documents, health, search
from backend.api.schemas import ErrorOut
from backend.bootstrap import Container, bootstrap, load_sample_data_if_empty
from backend.config import Settings
from backend.exposure import check_bind, log_auth_status
from backend.logging import configure_logging

DESCRIPTION = """
Grounded, cited answers over your own documents and tables.

Every endpoint but `/health` and these docs needs an API key (`Authorization: Bearer KEY` or
`X-API-Key: KEY`; create one with `almanac keys create`) when AUTH_ENABLED=true. Users may
chat, search and read documents; admins may also change documents and read the audit log.

Errors always have the shape `{"type": "...", "detail": ...}`.
"""

#: Routers anyone may call. Every other router requires a caller (an API key when
#: AUTH_ENABLED=true); the FastAPI docs routes (/docs, /openapi.json, /redoc) are public too.
PUBLIC_ROUTERS = (health.router,)
PROTECTED_ROUTERS = (search.router, documents.router, chat.router, audit.router)


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """Build the app. Pass a ready `container` (tests) or let the lifespan bootstrap one."""
    settings = settings or (container.settings if container else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        built = container or bootstrap(settings)
        app.state.container = built
        if owned:
            load_sample_data_if_empty(built)
            built.retriever.warm_up()  # load the resident vector index before the first query
        log_auth_status(settings, await built.authenticate.usable_keys())
        logger.info("Almanac {} ready (knowledge DB {})", __version__, settings.knowledge_db_path)
        try:
            yield
        finally:
            if owned:
                built.close()

    app = FastAPI(
        title="Almanac",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    if container is not None:
        app.state.container = container  # usable without running the lifespan (tests)
    app.add_middleware(RequestLogMiddleware)
    install_error_handlers(app)
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    unauthorized = {"model": ErrorOut, "description": "No, an unknown or a revoked API key"}
    for router in PROTECTED_ROUTERS:
        app.include_router(
            router, dependencies=[Depends(current_caller)], responses={401: unauthorized}
        )
    return app


def main_app() -> FastAPI:
    """Factory for `uvicorn --factory backend.api.app:main_app`."""
    settings = Settings()
    configure_logging(settings.log_level)
    check_bind(settings.host, settings)  # uvicorn's own --host is not visible from here
    return create_app(settings)
