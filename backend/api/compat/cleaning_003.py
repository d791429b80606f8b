"""Document 003's API (the data-cleaning benchmark), as its clients call it: `/api/tasks`,
`/api/benchmark/run`, `/api/results/{run_id}` and `/api/metrics/...`. Each path but two is
one of Almanac's own cleaning handlers (routes/cleaning.py) registered again at the
document's path, so both answer the same JSON; `GET /api/tasks/{task_id}` has no Almanac
path, and `POST /api/benchmark/run` takes the document's `model` beside `models`. `GET
/api/models` is Almanac's own (routes/evaluation.py). Admins only, like `/api/cleaning/...`.
See docs/seeds.md."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from backend.api.cleaning_schemas import BenchmarkRunIn, CleaningRunOut
from backend.api.deps import AdminDep, ContainerDep
from backend.api.openapi import STARTED_RUN, problem_responses
from backend.api.rate_limit import RateLimited
from backend.api.routes import cleaning

router = APIRouter(tags=["cleaning benchmark (document 003)"])

RESULTS = "/api/results/{run_id}"
_NOT_FOUND = problem_responses(404)

router.add_api_route(
    "/api/tasks",
    cleaning.list_cleaning_tasks,
    methods=["GET"],
    responses=problem_responses(422),
    summary="The cleaning benchmark's tasks (table x dimension x difficulty) of a seed "
    "(`GET /api/cleaning/tasks`); admins only",
)


@router.get(
    "/api/tasks/{task_id}",
    responses=_NOT_FOUND,
    summary="One cleaning task: its summary, instructions and the dirty table a cleaner gets; "
    "admins only",
)
async def get_task(
    container: ContainerDep,
    admin: AdminDep,
    task_id: Annotated[
        str, Path(min_length=1, max_length=200, examples=["services.accuracy.easy"])
    ],
    seed: Annotated[int, Query(ge=0, le=2**31 - 1, description="Seed of the error injector.")] = 0,
) -> dict[str, Any]:
    return await container.cleaning.cleaning_tasks.get(admin, task_id, seed)


@router.post(
    "/api/benchmark/run",
    response_model=CleaningRunOut,
    status_code=202,
    dependencies=[RateLimited],
    responses={**STARTED_RUN, **problem_responses(422)},
    summary="Start a cleaning benchmark run in the background (no body: the offline cleaner on "
    "every task; `POST /api/cleaning/runs`); admins only",
)
async def run_benchmark(
    container: ContainerDep, admin: AdminDep, response: Response, body: BenchmarkRunIn | None = None
) -> CleaningRunOut:
    request = (body or BenchmarkRunIn()).to_request()
    return await cleaning.start_run(container, admin, request, response, results=RESULTS)


router.add_api_route(
    RESULTS,
    cleaning.get_cleaning_run,
    methods=["GET"],
    responses={200: {"description": "The run export (see docs/cleaning.md)."}, **_NOT_FOUND},
    summary="A cleaning run: `run_id`, `model`, `timestamp`, status, aggregates and "
    "`task_results` (`GET /api/cleaning/runs/{run_id}`); admins only",
)
router.add_api_route(
    "/api/metrics/overview",
    cleaning.cleaning_metrics_overview,
    methods=["GET"],
    responses=_NOT_FOUND,
    summary="Every model's overall cleaning metrics in a run (`GET "
    "/api/cleaning/metrics/overview`); admins only",
)
router.add_api_route(
    "/api/metrics/dimension/{name}",
    cleaning.cleaning_metrics_dimension,
    methods=["GET"],
    responses=_NOT_FOUND,
    summary="Every model's cleaning metrics on one dimension (`GET "
    "/api/cleaning/metrics/dimension/{name}`); admins only",
)
router.add_api_route(
    "/api/metrics/{metric}/{model}",
    cleaning.cleaning_metrics_for_model,
    methods=["GET"],
    responses=_NOT_FOUND,
    summary="One cleaning metric family of a model (`GET "
    "/api/cleaning/metrics/{metric}/{model}`); admins only",
)
