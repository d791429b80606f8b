"""The service's health.

Rules:
- `GET /health` is public: load balancers and probes call it without a key. With
  authentication on it says only `status` and `version`: what the knowledge base holds
  (document counts per category, the embedding model) is not for anonymous callers.
  With authentication off (development) it says everything, as `/health/details` does.
- `GET /health/details` is the whole report (knowledge-base statistics and problems); admins
  only, like the other operator routes.
"""

from __future__ import annotations

from fastapi import APIRouter

from backend import __version__
from backend.api.deps import AdminDep, ContainerDep
from backend.api.schemas import HealthDetailsOut, HealthOut, KnowledgeBaseOut
from backend.bootstrap import Container

router = APIRouter(tags=["health"])
details_router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    summary="Service status (with the knowledge-base statistics when authentication is off)",
)
async def health(container: ContainerDep) -> HealthOut:
    details = await _details(container)
    if container.settings.auth.enabled:
        return HealthOut(status=details.status, version=details.version)
    return details


@details_router.get(
    "/health/details",
    response_model=HealthDetailsOut,
    summary="Service status and knowledge-base statistics; admins only",
)
async def health_details(container: ContainerDep, admin: AdminDep) -> HealthDetailsOut:
    return await _details(container)


async def _details(container: Container) -> HealthDetailsOut:
    report = await container.knowledge.check_health.execute()
    return HealthDetailsOut(
        status=report.status,
        version=__version__,
        knowledge_base=KnowledgeBaseOut.of(report.stats, report.configured_embedding.model),
        problems=list(report.problems),
    )
