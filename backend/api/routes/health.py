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
    stats = await container.knowledge_stats.execute()
    configured = container.embedder.model
    problems = []
    if stats.embedding and stats.embedding.model != configured:
        problems.append(
            f"The index was built with {stats.embedding.model}; the configured embedder is "
            f"{configured}. Run `almanac reindex`."
        )
    return HealthOut(
        status="degraded" if problems else "ok",
        version=__version__,
        knowledge_base=KnowledgeBaseOut.of(stats, configured),
        problems=problems,
    )
