"""`GET /metrics`: the Prometheus scrape (admins only when authentication is on, like the
other operator routes). See docs/operations.md for a scrape configuration."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from backend.api.deps import AdminDep, ContainerDep

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    summary="Prometheus metrics of this process; admins only",
)
async def metrics(container: ContainerDep, admin: AdminDep) -> Response:
    exposition = container.observability.metrics.exposition()
    return Response(exposition, media_type=CONTENT_TYPE_LATEST)
