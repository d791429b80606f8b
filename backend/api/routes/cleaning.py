"""Data-cleaning benchmarks: clean tables, tasks and runs, a run's export and report, and
the metrics of a run (admins). The data-cleaning benchmark API's paths for it (`/api/tasks`,
`/api/benchmark/run`, `/api/results/{run_id}`, `/api/metrics/...`) are backend/api/compat/
cleaning_003.py's, which registers these handlers there. See docs/cleaning.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import HTMLResponse

from backend.api.cleaning_schemas import CleaningRunIn, CleaningRunListOut, CleaningRunOut
from backend.api.deps import AdminDep, ContainerDep, PageLimit, PageOffset
from backend.api.downloads import download_csv, download_json, report_page
from backend.api.openapi import STARTED_RUN, problem_responses
from backend.api.rate_limit import RateLimited
from backend.bootstrap import Container
from use_cases.access.domain import Caller
from use_cases.cleaning.runs import CleaningRunRequest
from use_cases.cleaning.tasks import TaskSelection
from use_cases.evaluation.runs import rows_to_csv

router = APIRouter(tags=["cleaning"])

Names = Annotated[list[str] | None, Query(max_length=50)]
CleaningRunId = Annotated[
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
    "/api/cleaning/tables",
    summary="The clean tables cleaning tasks are built from (source, licence, version); "
    "admins only",
)
async def list_cleaning_tables(container: ContainerDep, admin: AdminDep) -> dict[str, Any]:
    return {"tables": await container.cleaning.cleaning_tasks.list_tables(admin)}


@router.get(
    "/api/cleaning/tasks",
    responses=problem_responses(422),
    summary="The cleaning tasks of a seed (table x dimension x difficulty, with the number of "
    "injected errors); admins only",
)
async def list_cleaning_tasks(
    container: ContainerDep,
    admin: AdminDep,
    table: Names = None,
    dimension: Names = None,
    difficulty: Names = None,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    selection = TaskSelection(table or (), dimension or (), difficulty or (), seed)
    return {"seed": seed, "tasks": await container.cleaning.cleaning_tasks.list(admin, selection)}


@router.post(
    "/api/cleaning/runs",
    response_model=CleaningRunOut,
    status_code=202,
    dependencies=[RateLimited],
    responses={
        **STARTED_RUN,
        **problem_responses(422),
    },
    summary="Start a cleaning benchmark run in the background; admins only",
)
async def start_cleaning_run(
    container: ContainerDep, admin: AdminDep, body: CleaningRunIn, response: Response
) -> CleaningRunOut:
    return await start_run(container, admin, body.to_request(), response)


async def start_run(
    container: Container,
    admin: Caller,
    request: CleaningRunRequest,
    response: Response,
    *,
    results: str = "/api/cleaning/runs/{run_id}",
) -> CleaningRunOut:
    """A run stored, then scheduled in the background; `Location` is where to poll it."""
    run = await container.cleaning.cleaning_runs.start(admin, request)
    container.cleaning.cleaning_runs.schedule(run.run_id)
    started = CleaningRunOut.of(run, results=results)
    response.headers["Location"] = started.results
    return started


@router.get(
    "/api/cleaning/runs",
    response_model=CleaningRunListOut,
    summary="Cleaning runs, newest first; admins only",
)
async def list_cleaning_runs(
    container: ContainerDep, admin: AdminDep, limit: PageLimit = 50, offset: PageOffset = 0
) -> CleaningRunListOut:
    runs = await container.cleaning.cleaning_runs.list(admin, limit=limit, offset=offset)
    return CleaningRunListOut(runs=[CleaningRunOut.of(r) for r in runs])


@router.get(
    "/api/cleaning/runs/{run_id}",
    responses={200: {"description": "The run export (see docs/cleaning.md)."}, **_NOT_FOUND},
    summary="A cleaning run: status, progress, aggregates and task results; admins only",
)
async def get_cleaning_run(
    container: ContainerDep, admin: AdminDep, run_id: CleaningRunId
) -> dict[str, Any]:
    return await container.cleaning.cleaning_runs.export(admin, run_id)


@router.get(
    "/api/cleaning/runs/{run_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "The run export (JSON), or its task results as CSV.",
            "content": {"application/json": {}, "text/csv": {}},
        },
        **_NOT_FOUND,
    },
    summary="Download a cleaning run as JSON (the export) or CSV (one line per task result); "
    "admins only",
)
async def export_cleaning_run(
    container: ContainerDep,
    admin: AdminDep,
    run_id: CleaningRunId,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> Response:
    export = await container.cleaning.cleaning_runs.export(admin, run_id)
    if format == "json":
        return download_json(export)
    return download_csv(export["run_id"], rows_to_csv(export["task_results"]))


@router.get(
    "/api/cleaning/runs/{run_id}/report",
    response_class=HTMLResponse,
    responses={
        200: {"description": "The run's self-contained HTML report.", "content": {"text/html": {}}},
        **_NOT_FOUND,
    },
    summary="The HTML report of a cleaning run (F1, corruption, drift per dimension and "
    "model); admins only",
)
async def cleaning_run_report(
    container: ContainerDep, admin: AdminDep, run_id: CleaningRunId
) -> HTMLResponse:
    return report_page(await container.cleaning.cleaning_report.execute(admin, run_id))


@router.post(
    "/api/cleaning/runs/{run_id}/cancel",
    response_model=CleaningRunOut,
    responses=problem_responses(404, 409),
    summary="Cancel a queued or running cleaning run: no task starts after it, the run says "
    "`cancelled`; admins only, audited",
)
async def cancel_cleaning_run(
    container: ContainerDep, admin: AdminDep, run_id: CleaningRunId
) -> CleaningRunOut:
    return CleaningRunOut.of(await container.cleaning.cleaning_runs.cancel(admin, run_id))


@router.delete(
    "/api/cleaning/runs/{run_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(404, 409),
    summary="Delete a finished cleaning run and its results (a queued or running one: cancel "
    "it first); admins only, audited",
)
async def delete_cleaning_run(
    container: ContainerDep, admin: AdminDep, run_id: CleaningRunId
) -> Response:
    await container.cleaning.cleaning_runs.delete(admin, run_id)
    return Response(status_code=204)


@router.get(
    "/api/cleaning/metrics/overview",
    responses=_NOT_FOUND,
    summary="Every model's overall cleaning metrics in a run; admins only",
)
async def cleaning_metrics_overview(
    container: ContainerDep, admin: AdminDep, run_id: MetricRunId = None
) -> dict[str, Any]:
    return await container.cleaning.cleaning_metrics.overview(admin, run_id)


@router.get(
    "/api/cleaning/metrics/dimension/{name}",
    responses=_NOT_FOUND,
    summary="Every model's cleaning metrics on one dimension (accuracy, completeness, "
    "consistency, uniqueness); admins only",
)
async def cleaning_metrics_dimension(
    container: ContainerDep,
    admin: AdminDep,
    name: Annotated[str, Path(min_length=1, max_length=64)],
    run_id: MetricRunId = None,
) -> dict[str, Any]:
    return await container.cleaning.cleaning_metrics.dimension(admin, name, run_id)


@router.get(
    "/api/cleaning/metrics/{metric}/{model}",
    responses=_NOT_FOUND,
    summary="One cleaning metric family of a model: f1, corruption, drift, reliability, "
    "robustness; admins only",
)
async def cleaning_metrics_for_model(
    container: ContainerDep,
    admin: AdminDep,
    metric: Literal["f1", "corruption", "drift", "reliability", "robustness"],
    model: Annotated[str, Path(min_length=1, max_length=200, description="A cleaner's id.")],
    run_id: MetricRunId = None,
) -> dict[str, Any]:
    return await container.cleaning.cleaning_metrics.for_model(admin, metric, model, run_id)
