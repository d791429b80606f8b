"""Data-cleaning benchmarks: clean tables, tasks and runs (admins). A run's results are at
`GET /api/results/{run_id}` and its metrics at `/api/metrics/{metric}/{model}?kind=cleaning`
(routes/evaluation.py). See docs/cleaning.md."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from backend.api.cleaning_schemas import CleaningRunIn, CleaningRunListOut, CleaningRunOut
from backend.api.deps import AdminDep, ContainerDep, PageLimit, PageOffset
from backend.api.openapi import STARTED_RUN, problem_responses
from backend.api.rate_limit import RateLimited
from use_cases.cleaning.tasks import TaskSelection

router = APIRouter(tags=["cleaning"])

Names = Annotated[list[str] | None, Query(max_length=50)]


@router.get(
    "/api/cleaning/tables",
    summary="The clean tables cleaning tasks are built from (source, licence, version); "
    "admins only",
)
async def list_cleaning_tables(container: ContainerDep, admin: AdminDep) -> dict[str, Any]:
    return {"tables": await container.cleaning_tasks.list_tables(admin)}


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
    return {"seed": seed, "tasks": await container.cleaning_tasks.list(admin, selection)}


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
    run = await container.cleaning_runs.start(admin, body.to_request())
    container.cleaning_runs.schedule(run.run_id)
    response.headers["Location"] = f"/api/results/{run.run_id}"
    return CleaningRunOut.of(run)


@router.get(
    "/api/cleaning/runs",
    response_model=CleaningRunListOut,
    summary="Cleaning runs, newest first; admins only",
)
async def list_cleaning_runs(
    container: ContainerDep, admin: AdminDep, limit: PageLimit = 50, offset: PageOffset = 0
) -> CleaningRunListOut:
    runs = await container.cleaning_runs.list(admin, limit=limit, offset=offset)
    return CleaningRunListOut(runs=[CleaningRunOut.of(r) for r in runs])
