"""The FastAPI application: lifespan builds the container, routes stay thin."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from loguru import logger
from starlette.routing import BaseRoute

from backend import __version__
from backend.api.compat import COMPAT_ROUTERS
from backend.api.compression import install_compression
from backend.api.deps import admin_caller, current_caller
from backend.api.docs_pages import install_docs
from backend.api.errors import UnhandledErrorMiddleware, install_error_handlers
from backend.api.key_before_body import KeyBeforeBodyMiddleware
from backend.api.limits import BodySizeLimitMiddleware, BodyTimeoutMiddleware
from backend.api.mcp_server.http import router as mcp_router
from backend.api.mcp_server.http import serving_mcp
from backend.api.middleware import RequestLogMiddleware
from backend.api.openai_api import OpenAIErrorsMiddleware, install_openai_errors
from backend.api.openai_api import router as openai_router
from backend.api.openapi import install_openapi
from backend.api.origins import SiteGuardMiddleware
from backend.api.rate_limit import MonotonicClock, build_rate_limiter, enforce_rate_limit
from backend.api.routes import (
    advice,
    audit,
    chat,
    cleaning,
    collections,
    confidence,
    conversation_drafts,
    conversation_files,
    conversation_import,
    conversation_search,
    datasets,
    discipline,
    documents,
    evaluation,
    feedback,
    health,
    jobs,
    library,
    metrics,
    model_defaults,
    oidc,
    playground,
    prompts,
    search,
    session,
    sources,
    tables,
    users,
)
from backend.api.routes.web import install_web_app
from backend.api.security import SecurityHeadersMiddleware, install_cors
from backend.api.telemetry import (
    TelemetryMiddleware,
    instrument_agents,
    stop_instrumenting_agents,
)
from backend.bootstrap import Container, bootstrap, prepare_to_serve
from backend.config import Settings
from backend.exposure import check_bind, log_auth_status
from backend.extras import check_extras
from backend.logging import configure_logging
from backend.memory import trim_periodically
from backend.stores import storage_label
from services.clock import SystemClock

DESCRIPTION = """
Grounded, cited answers over your own documents and tables.

Every endpoint but `/health`, `/api/auth/status` (and the unconfigured `/api/auth/login`
and `/callback`) and these docs needs an API key (`Authorization: Bearer KEY` or
`X-API-Key: KEY`; create one with `almanac keys create`) when AUTH_ENABLED=true. Users may
chat, ask for advice, search and read documents; admins may also change documents, read the
audit log and manage the system prompts and default models. The web app at `/` is public
too (its data comes from the API with the caller's key).

Every error is an RFC 9457 problem (`application/problem+json`): `type`, `code` (stable,
machine-readable), `title`, `status`, `detail`, `instance`, and `errors` for invalid fields;
under `/v1`, the OpenAI-compatible API, errors are OpenAI's (`{"error": {message, type, param,
code}}`), so OpenAI's SDKs raise their own exceptions.
"""

#: Routers anyone may call (`/health`, signing in and out, `/api/auth/status|login|callback`).
#: Every other router requires a caller (an API key when
#: AUTH_ENABLED=true); the docs (/docs, /redoc, their assets under /static/docs, and
#: /openapi.json, see `docs_pages.py`) and the web app (`/` and its files under /app, see
#: `routes/web.py`) are public too.
PUBLIC_ROUTERS = (
    health.router,
    session.sign_in_router,
    oidc.router,
)
PROTECTED_ROUTERS = (
    health.details_router,
    session.router,
    search.router,
    documents.router,
    collections.router,
    jobs.router,
    tables.router,
    chat.router,
    audit.router,
    users.router,
    prompts.router,
    model_defaults.router,
    discipline.router,
    feedback.router,
    confidence.router,
    advice.router,
    evaluation.router,
    playground.router,
    library.router,
    datasets.router,
    cleaning.router,
    conversation_drafts.router,
    conversation_files.router,
    conversation_search.router,
    conversation_import.router,
    sources.router,
    metrics.router,
    openai_router,  # /v1: the OpenAI-compatible API (backend/api/openai_api/)
    mcp_router,
)
#: Almanac's own API is PROTECTED_ROUTERS (and PUBLIC_ROUTERS); the source documents' routes
#: (backend/api/compat/, docs/seeds.md) come after them, when COMPAT_ROUTES is on, so that
#: the conversation backend's `GET /api/conversations/{chat_id}` never shadows Almanac's own
#: `/api/conversations/...` paths.

#: Error statuses an operation documents because it depends on these dependencies.
STATUSES_BY_DEPENDENCY: dict[Callable[..., Any], Collection[int]] = {
    current_caller: (401,),
    admin_caller: (403,),
    enforce_rate_limit: (429,),
}


#: Threads of the event loop's default executor in a server (`asyncio.to_thread`).
IO_THREADS = 32


def create_app(
    settings: Settings | None = None,
    container: Container | None = None,
    *,
    clock: MonotonicClock | None = None,
) -> FastAPI:
    """Build the app. Pass a ready `container` (tests) or let the lifespan bootstrap one;
    `clock` times the rate limit (tests pass one they advance)."""
    settings = settings or (container.settings if container else Settings())
    check_extras(settings)  # a backend whose extra is missing: refused now, naming it

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        built = container or bootstrap(settings)
        app.state.container = built
        if owned:
            # Quick blocking work (store reads and writes) gets threads of its own: CPU-heavy
            # answering runs on the answer pool, so these threads mostly wait on I/O, and the
            # default few (CPU count + 4) would queue a health check behind busy turns.
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="io")
            )
            prepare_to_serve(built)  # the sample if empty; the vector index into memory
        traced = instrument_agents(built.observability)
        log_auth_status(settings, await built.access.authenticate.usable_keys())
        resumed = (
            await built.evaluation.benchmark.resume_unfinished()
        )  # runs a crash or stop cut short
        if resumed:
            logger.info("Resuming evaluation runs: {}", ", ".join(resumed))
        resumed = await built.cleaning.cleaning_runs.resume_unfinished()
        if resumed:
            logger.info("Resuming cleaning runs: {}", ", ".join(resumed))
        # Before the first request: a dead process's answers never read `streaming` here.
        await _sweep_once(built)
        logger.info("Almanac {} ready ({})", __version__, storage_label(settings))
        sweeper = asyncio.create_task(_sweep_abandoned_turns(built))
        trimmer = asyncio.create_task(trim_periodically())  # backend/memory.py
        try:
            async with serving_mcp(app, built):  # `/mcp`: backend/api/mcp_server/http.py
                yield
        finally:
            for task in (sweeper, trimmer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Unfinished runs stay `running` and resume (another replica, or the next start).
            if owned:
                built.close()  # the job worker first: its runs stop, their jobs are handed back
            else:
                await built.evaluation.benchmark.close()
            app.state.rate_limiter.close()
            if traced:
                stop_instrumenting_agents()

    app = FastAPI(
        title="Almanac",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    if container is not None:
        app.state.container = container  # usable without running the lifespan (tests)
    app.state.rate_limiter = build_rate_limiter(settings, clock or SystemClock())
    _install_middleware(app, settings)
    install_error_handlers(app)
    install_openai_errors(app)
    _install_routes(app, settings)
    install_docs(app)
    install_web_app(app)
    install_openapi(app, STATUSES_BY_DEPENDENCY, shared=_SCHEMAS[settings.server.compat_routes])
    return app


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    # Added innermost first: the log line and request id wrap everything.
    app.add_middleware(UnhandledErrorMiddleware)
    # Inside the size limit (a declared oversize body is 413 whoever sends it), before any
    # body is read: a request without a usable key never holds its connection for its body.
    app.add_middleware(
        KeyBeforeBodyMiddleware, protected=protected_routes(settings.server.compat_routes)
    )
    app.add_middleware(BodySizeLimitMiddleware, settings=settings)
    app.add_middleware(BodyTimeoutMiddleware, settings=settings)
    # Inside CORS: a listed origin's browser may read the refusal.
    app.add_middleware(SiteGuardMiddleware, settings=settings)
    # Around every refusal above: /v1's errors in OpenAI's shape (backend/api/openai_api/).
    app.add_middleware(OpenAIErrorsMiddleware)
    install_cors(app, settings)
    app.add_middleware(SecurityHeadersMiddleware)
    install_compression(app)
    app.add_middleware(TelemetryMiddleware)
    app.add_middleware(RequestLogMiddleware)


def _install_routes(app: FastAPI, settings: Settings) -> None:
    """Almanac's own routes, then the source documents' (COMPAT_ROUTES, on by default: the
    one place the setting is read), from the process's route table."""
    app.router.routes.extend(route_table(compat=settings.server.compat_routes))


@functools.cache
def route_table(*, compat: bool) -> tuple[BaseRoute, ...]:
    """Almanac's API routes, as `include_router` makes them, built once per process and
    shared by every app made in it (apps differ by their settings, middleware and state, never
    by their routes). FastAPI builds an included router's operations (each one's dependencies,
    parameter models and handler) the first time a request meets them, once per app: ~0.3 s
    of CPU for Almanac's ~170 operations, paid by each of the thousands of apps a test run
    makes (a server makes one). The routes hold no app: a handler reaches its app's container
    through the request. Dependencies are not overridden per app (`app.dependency_overrides`
    does not reach these routes)."""
    table = APIRouter()
    for router in PUBLIC_ROUTERS:
        table.include_router(router)
    protected = PROTECTED_ROUTERS + (COMPAT_ROUTERS if compat else ())
    for router in protected:
        table.include_router(router, dependencies=[Depends(current_caller)])
    return tuple(table.routes)


def protected_routes(compat: bool) -> tuple[BaseRoute, ...]:
    """The routes of `route_table` that depend on `current_caller` (all but the public
    routers' routes, which come first)."""
    public = APIRouter()
    for router in PUBLIC_ROUTERS:
        public.include_router(router)
    return route_table(compat=compat)[len(public.routes) :]


#: The OpenAPI description of each route table, by COMPAT_ROUTES (`install_openapi`'s
#: `shared`): every app with the same routes describes them alike, and generating it takes ~1 s.
_SCHEMAS: dict[bool, dict[str, Any]] = {True: {}, False: {}}


def main_app() -> FastAPI:
    """Factory for `uvicorn --factory backend.api.app:main_app`."""
    settings = Settings()
    configure_logging(settings.server.log_level, content=settings.server.log_request_content)
    check_bind(settings.server.host, settings)  # uvicorn's own --host is not visible from here
    return create_app(settings)


#: Seconds between two sweeps for answers a dead process left `streaming`.
SWEEP_INTERVAL_S = 30.0


async def _sweep_abandoned_turns(container: Container) -> None:
    """Every SWEEP_INTERVAL_S after the start's sweep: answers left `streaming` by a process
    that died are marked `interrupted` (`SweepAbandonedTurns`)."""
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        await _sweep_once(container)


async def _sweep_once(container: Container) -> None:
    """One sweep. A failed sweep is logged and tried again next time; it never stops the
    server (nor its start)."""
    try:
        swept = await container.chat.sweep_turns.execute()
    except Exception as exc:  # a database hiccup must not end the loop
        logger.warning("Sweeping abandoned turns failed: {}", exc)
    else:
        if swept:
            logger.info("Marked {} abandoned answer(s) interrupted", swept)


def serve_app() -> FastAPI:
    """Factory for each process of `almanac serve --workers N` (uvicorn imports it by name):
    the settings from the environment, as the parent read them; the parent already checked
    the bind address (with its --insecure-bind) and loaded the sample on a first start."""
    settings = Settings()
    configure_logging(settings.server.log_level, content=settings.server.log_request_content)
    return create_app(settings)
