from __future__ import annotations

from fastapi import APIRouter

from backend import __version__
from backend.api.deps import ContainerDep
from backend.api.schemas import HealthOut, KnowledgeBaseOut

router = APIRouter(tags=["health"])


@router.get(
    "/health", response_model=HealthOut, summary="Service status and knowledge-base statistics"
)
async def health(container: ContainerDep) -> HealthOut:
    report = await container.check_health.execute()
    return HealthOut(
        status=report.status,
        version=__version__,
        knowledge_base=KnowledgeBaseOut.of(report.stats, report.configured_embedding.model),
        problems=list(report.problems),
    )
