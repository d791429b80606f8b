"""Document 001's API (the prompt playground), where it is not Almanac's own: `POST
/api/v1/playground/run`, the document's path for the playground, answered by Almanac's
`POST /api/playground/run` handler (routes/playground.py). The document's projects, use
cases, prompts, versions, datasets and evaluation runs under `/api/v1` are Almanac's own
prompt library (routes/library.py, datasets.py, evaluation.py), with the document's fields.
See docs/seeds.md."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.openapi import problem_responses
from backend.api.playground_schemas import PlaygroundOut
from backend.api.rate_limit import RateLimited
from backend.api.routes import playground

router = APIRouter(tags=["prompt playground (document 001)"])

router.add_api_route(
    "/api/v1/playground/run",
    playground.run_playground,
    methods=["POST"],
    response_model=PlaygroundOut,
    responses=problem_responses(404, 422),
    dependencies=[RateLimited],
    summary="Try a prompt on one question with several models (`POST /api/playground/run`); "
    "admins only",
)
