"""The service's health.

Rules:
- `GET /health` is public: load balancers and probes call it without a key. With
  authentication on it says only `status` and `version`: what the knowledge base holds
  (document counts per category, the embedding model) is not for anonymous callers.
  With authentication off (development) it says everything, as `/health/details` does.
- `GET /health/details` is the whole report (knowledge-base statistics and problems); admins
  only, like the other operator routes.
- On PostgreSQL both first ask the database, waiting at most `DATABASE_CHECK_S`: unreachable
  (the server or its pooler down), they answer 503 with `status: unavailable` (and, where the
  problems are shown, why), at once rather than after a request's pool timeout, so that a
  load balancer or probe sees it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend import __version__
from backend.api.deps import AdminDep, ContainerDep
from backend.api.schemas import HealthDetailsOut, HealthOut, KnowledgeBaseOut
from backend.bootstrap import Container
from use_cases.shared.errors import DatabaseUnavailable

#: Seconds `/health` waits for the database to answer before it reports it unreachable.
DATABASE_CHECK_S = 3.0
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "The database (or its pooler) is unreachable: `status: unavailable`."}
}

router = APIRouter(tags=["health"])
details_router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    summary="Service status (with the knowledge-base statistics when authentication is off)",
    responses=UNAVAILABLE,
)
async def health(container: ContainerDep) -> HealthOut | JSONResponse:
    unreachable = await _database_unreachable(container)
    if unreachable is not None:
        return _unavailable(unreachable, show=not container.settings.auth.enabled)
    details = await _details(container)
    if container.settings.auth.enabled:
        return HealthOut(status=details.status, version=details.version)
    return details


@details_router.get(
    "/health/details",
    response_model=HealthDetailsOut,
    summary="Service status and knowledge-base statistics; admins only",
    responses=UNAVAILABLE,
)
async def health_details(
    container: ContainerDep, admin: AdminDep
) -> HealthDetailsOut | JSONResponse:
    unreachable = await _database_unreachable(container)
    if unreachable is not None:
        return _unavailable(unreachable, show=True)
    return await _details(container)


async def _database_unreachable(container: Container) -> str | None:
    """Why the database cannot be reached now, or None when it answers (or is SQLite)."""
    ping = container.observability.database_ping
    if ping is None:
        return None
    try:
        await asyncio.to_thread(ping, DATABASE_CHECK_S)
    except DatabaseUnavailable as exc:
        return exc.detail
    return None


def _unavailable(reason: str, *, show: bool) -> JSONResponse:
    body: dict[str, object] = {"status": "unavailable", "version": __version__}
    if show:
        body["problems"] = [reason]
    return JSONResponse(body, status_code=503)


async def _details(container: Container) -> HealthDetailsOut:
    report = await container.knowledge.check_health.execute()
    return HealthDetailsOut(
        status=report.status,
        version=__version__,
        knowledge_base=KnowledgeBaseOut.of(report.stats, report.configured_embedding.model),
        problems=list(report.problems),
    )
