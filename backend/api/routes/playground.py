"""`POST /api/playground/run`: one question, one prompt, several models; admins only. Document
001's `POST /api/v1/playground/run` is this handler too (backend/api/compat/playground_001.py)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import AdminDep, ContainerDep
from backend.api.openapi import problem_responses
from backend.api.playground_schemas import PlaygroundIn, PlaygroundOut
from backend.api.rate_limit import RateLimited

router = APIRouter(tags=["admin"])


@router.post(
    "/api/playground/run",
    response_model=PlaygroundOut,
    # 404: an unknown prompt type or version; 422: a variable without a value, a model that
    # is not allowed, a bad question or template. A model that fails is its row's `error`.
    responses=problem_responses(404, 422),
    dependencies=[RateLimited],
    summary="Try a prompt version or template on one question with several models, side by "
    "side (nothing is stored); admins only",
)
async def run_playground(
    container: ContainerDep, admin: AdminDep, body: PlaygroundIn
) -> PlaygroundOut:
    return PlaygroundOut.of(await container.evaluation.playground.run(admin, body.to_request()))
