"""The FastAPI application: lifespan builds the container, routes stay thin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from loguru import logger

from backend import __version__
from backend.api.errors import install_error_handlers
from backend.api.middleware import RequestLogMiddleware
from backend.api.routes import chat, documents, health, jobs, search
from backend.bootstrap import Container, bootstrap, load_sample_data_if_empty
from backend.config import Settings
from backend.logging import configure_logging

DESCRIPTION = """
Grounded, cited answers over your own documents and tables.

Errors always have the shape `{"type": "...", "detail": ...}`.
"""


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
    for module in (health, search, documents, jobs, chat):
        app.include_router(module.router)
    return app


def main_app() -> FastAPI:
    """Factory for `uvicorn --factory backend.api.app:main_app`."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)
