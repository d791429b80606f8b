"""Document 003's API (the data-cleaning benchmark), as its clients call it: `/api/tasks`,
`/api/benchmark/run`, `/api/results/{run_id}` and `/api/metrics/...`, served by the cleaning
benchmark's use cases (`GET /api/models` is routes/evaluation.py's, shared). Admins only, like
Almanac's own `/api/cleaning/...` routes. See docs/seeds.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from backend.api.cleaning_schemas import BenchmarkRunIn, CleaningRunOut
from backend.api.deps import AdminDep, ContainerDep
from backend.api.openapi import STARTED_RUN, problem_responses
from backend.api.rate_limit import RateLimited
from use_cases.cleaning.tasks import TaskSelection

router = APIRouter(tags=["cleaning benchmark (document 003)"])

Seed = Annotated[int, Query(ge=0, le=2**31 - 1, description="Seed of the error injector.")]
Names = Annotated[list[str] | None, Query(max_length=50)]
RunId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^(clean_[0-9a-f]{12}|latest|latest-completed)$",
        description="A cleaning run's id (`clean_...`), or `latest` / `latest-completed`.",
    ),
]
MetricRunId = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^clean_[0-9a-f]{12}$",
        description="The run (default: the latest completed cleaning run).",
    ),
]
_NOT_FOUND = problem_responses(404)


@router.get(
    "/api/tasks",
    responses=problem_responses(422),
    summary="The cleaning benchmark's tasks (table x dimension x difficulty) of a seed; "
    "admins only",
)
async def list_tasks(
    container: ContainerDep,
    admin: AdminDep,
    seed: Seed = 0,
    table: Names = None,
    dimension: Names = None,
    difficulty: Names = None,
) -> dict[str, Any]:
    selection = TaskSelection(table or (), dimension or (), difficulty or (), seed)
    return {"seed": seed, "tasks": await container.cleaning.cleaning_tasks.list(admin, selection)}


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
    seed: Seed = 0,
) -> dict[str, Any]:
    return await container.cleaning.cleaning_tasks.get(admin, task_id, seed)


@router.post(
    "/api/benchmark/run",
    response_model=CleaningRunOut,
    status_code=202,
    dependencies=[RateLimited],
    responses={**STARTED_RUN, **problem_responses(422)},
    summary="Start a cleaning benchmark run in the background (no body: the offline cleaner on "
    "every task); admins only",
)
async def run_benchmark(
    container: ContainerDep, admin: AdminDep, response: Response, body: BenchmarkRunIn | None = None
) -> CleaningRunOut:
    request = (body or BenchmarkRunIn()).to_request()
    run = await container.cleaning.cleaning_runs.start(admin, request)
    container.cleaning.cleaning_runs.schedule(run.run_id)
    started = CleaningRunOut.of(run)
    response.headers["Location"] = started.results
    return started


@router.get(
    "/api/results/{run_id}",
    responses={200: {"description": "The run export (see docs/cleaning.md)."}, **_NOT_FOUND},
    summary="A cleaning run: `run_id`, `model`, `timestamp`, status, aggregates and "
    "`task_results`; admins only",
)
async def get_results(container: ContainerDep, admin: AdminDep, run_id: RunId) -> dict[str, Any]:
    return await container.cleaning.cleaning_runs.export(admin, run_id)


@router.get(
    "/api/metrics/overview",
    responses=_NOT_FOUND,
    summary="Every model's overall cleaning metrics in a run; admins only",
)
async def metrics_overview(
    container: ContainerDep, admin: AdminDep, run_id: MetricRunId = None
) -> dict[str, Any]:
    return await container.cleaning.cleaning_metrics.overview(admin, run_id)


@router.get(
    "/api/metrics/dimension/{name}",
    responses=_NOT_FOUND,
    summary="Every model's cleaning metrics on one dimension (accuracy, completeness, "
    "consistency, uniqueness); admins only",
)
async def metrics_dimension(
    container: ContainerDep,
    admin: AdminDep,
    name: Annotated[str, Path(min_length=1, max_length=64)],
    run_id: MetricRunId = None,
) -> dict[str, Any]:
    return await container.cleaning.cleaning_metrics.dimension(admin, name, run_id)


@router.get(
    "/api/metrics/{metric}/{model}",
    responses=_NOT_FOUND,
    summary="One cleaning metric family of a model: f1, corruption, drift, reliability, "
    "robustness; admins only",
)
async def metrics_for_model(
    container: ContainerDep,
    admin: AdminDep,
    metric: Literal["f1", "corruption", "drift", "reliability", "robustness"],
    model: Annotated[str, Path(min_length=1, max_length=200, description="A cleaner's id.")],
    run_id: MetricRunId = None,
) -> dict[str, Any]:
    return await container.cleaning.cleaning_metrics.for_model(admin, metric, model, run_id)
