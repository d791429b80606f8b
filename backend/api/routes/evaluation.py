"""The question-answering evaluation under `/api/v1` (admins): a dataset's cases and uploads,
runs over a dataset (`/api/v1/benchmark-runs`), a run's export, report and comparison
(`/api/v1/eval-runs/...`, beside the prompt library's list, start and read of runs in
routes/library.py) and metrics (`/api/v1/eval-metrics/...`); and the models a run may name
(`/api/models`, every caller). `/api/tasks`, `/api/benchmark/run`, `/api/results/{run_id}` and
`/api/metrics/...` are the cleaning benchmark's (backend/api/compat/cleaning_003.py). See
docs/evaluation-runs.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from fastapi.responses import HTMLResponse

from backend.api.deps import AdminDep, CallerDep, ContainerDep, PageLimit, PageOffset
from backend.api.downloads import download_csv, download_json, report_page
from backend.api.eval_schemas import (
    BenchmarkRunIn,
    ModelListOut,
    ModelOut,
    RunStartedOut,
    RunSummaryOut,
    TaskDetailOut,
    TaskOut,
    TaskUploadOut,
)
from backend.api.openapi import STARTED_RUN, problem_responses
from backend.api.rate_limit import RateLimited
from use_cases.evaluation.datasets import DatasetUpload

router = APIRouter(tags=["evaluation"])

DatasetId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$", description="A dataset id.")
]
RunId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^(run_[0-9a-f]{12}|latest|latest-completed)$",
        description="An evaluation run's id (`run_...`), or `latest` / `latest-completed`.",
    ),
]
ModelName = Annotated[str, Path(min_length=1, max_length=200, description="A model id.")]
MetricRunId = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^run_[0-9a-f]{12}$",
        description="The run (default: the latest completed evaluation run).",
    ),
]
_NOT_FOUND = problem_responses(404)
_EXPORT = {
    200: {
        "description": "The run export (JSON; see docs/evaluation-runs.md), or its cases as CSV.",
        "content": {"application/json": {}, "text/csv": {}},
    },
    **_NOT_FOUND,
}


@router.get(
    "/api/v1/datasets/{dataset_id}",
    response_model=TaskDetailOut,
    responses=_NOT_FOUND,
    summary="An evaluation dataset with a page of its cases; admins only",
)
async def get_dataset(
    container: ContainerDep,
    admin: AdminDep,
    dataset_id: DatasetId,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
) -> TaskDetailOut:
    dataset = await container.evaluation.datasets.get(admin, dataset_id)
    return TaskDetailOut.of_dataset(dataset, limit=limit, offset=offset)


@router.post(
    "/api/v1/datasets/upload",
    response_model=TaskUploadOut,
    status_code=201,
    responses={
        200: {"model": TaskUploadOut, "description": "This content is stored already."},
        **problem_responses(415),
        422: {"description": "A case is invalid (the detail names the line and field)."},
    },
    summary="Upload an evaluation dataset (JSONL or CSV); admins only",
)
async def upload_dataset(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    file: Annotated[UploadFile, File(description="A .jsonl or .csv file of cases.")],
    name: Annotated[str | None, Form(max_length=100)] = None,
    description: Annotated[str, Form(max_length=1000)] = "",
) -> TaskUploadOut:
    content = await file.read()
    uploaded = await container.evaluation.datasets.upload(
        admin, DatasetUpload(file.filename or "", content, name, description)
    )
    if not uploaded.created:
        response.status_code = 200
    return TaskUploadOut(**TaskOut.of(uploaded.dataset).model_dump(), created=uploaded.created)


@router.post(
    "/api/v1/benchmark-runs",
    response_model=RunStartedOut,
    status_code=202,
    dependencies=[RateLimited],
    responses={
        **STARTED_RUN,
        422: {
            "description": "Unknown task, a model that is not allowed or usable, an unknown "
            "prompt version or one whose variables a case lacks, a bad assertion."
        },
    },
    summary="Start an evaluation run of a dataset in the background (any prompt type's "
    "version, assertions, perturbations); admins only",
)
async def start_run(
    container: ContainerDep, admin: AdminDep, body: BenchmarkRunIn, response: Response
) -> RunStartedOut:
    record = await container.evaluation.benchmark.start(admin, body.to_request())
    container.evaluation.benchmark.schedule(record.run_id)
    response.headers["Location"] = RunStartedOut.of(record).results
    return RunStartedOut.of(record)


CompareRunId = Annotated[
    str,
    Query(
        min_length=1,
        max_length=64,
        pattern=r"^(run_[0-9a-f]{12}|latest|latest-completed)$",
        description="A run id, or `latest` / `latest-completed`.",
    ),
]


# Declared before `/api/v1/eval-runs/{run_id}` (routes/library.py, its router included after
# this one), which would otherwise take "compare" for a run.
@router.get(
    "/api/v1/eval-runs/compare",
    responses={
        200: {
            "description": "Per model, each metric of run A and run B with `delta`, `relative` "
            "and `verdict` (improved, regressed, unchanged); the warnings, and the fail-on "
            "rules' violations (see docs/evaluation-runs.md)."
        },
        **problem_responses(404, 422),
    },
    summary="Compare two runs metric by metric (run A is the baseline); admins only",
)
async def compare_runs(
    container: ContainerDep,
    admin: AdminDep,
    a: CompareRunId,
    b: CompareRunId,
    fail_on: Annotated[
        str | None,
        Query(
            max_length=1000,
            description='Rules checked on the change from A to B, e.g. "correct<-0.02".',
        ),
    ] = None,
) -> dict[str, Any]:
    report = await container.evaluation.compare_runs.execute(admin, a, b, fail_on)
    return report.as_dict()


@router.post(
    "/api/v1/eval-runs/{run_id}/cancel",
    response_model=RunSummaryOut,
    responses=problem_responses(404, 409),
    summary="Cancel a queued or running evaluation run: no item starts after it, the run says "
    "`cancelled`; admins only, audited",
)
async def cancel_run(container: ContainerDep, admin: AdminDep, run_id: RunId) -> RunSummaryOut:
    return RunSummaryOut.of(await container.evaluation.benchmark.cancel(admin, run_id))


@router.delete(
    "/api/v1/eval-runs/{run_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(404, 409),
    summary="Delete a finished evaluation run and its rows (a queued or running one: cancel it "
    "first); admins only, audited",
)
async def delete_run(container: ContainerDep, admin: AdminDep, run_id: RunId) -> Response:
    await container.evaluation.benchmark.delete(admin, run_id)
    return Response(status_code=204)


@router.get(
    "/api/v1/eval-runs/{run_id}/export",
    response_class=Response,
    responses=_EXPORT,
    summary="Download a run as JSON (the export) or CSV (one line per case); admins only",
)
async def export_results(
    container: ContainerDep,
    admin: AdminDep,
    run_id: RunId,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> Response:
    export = await container.evaluation.benchmark.export(admin, run_id)
    if format == "json":
        return download_json(export)
    csv_text = await container.evaluation.benchmark.export_csv(admin, export["run_id"])
    return download_csv(export["run_id"], csv_text)


@router.get(
    "/api/v1/eval-runs/{run_id}/report",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "The run's self-contained HTML report (figures inline).",
            "content": {"text/html": {}},
        },
        **_NOT_FOUND,
    },
    summary="The HTML report of a run (metrics, reliability, latency, robustness, failures); "
    "admins only",
)
async def results_report(container: ContainerDep, admin: AdminDep, run_id: RunId) -> HTMLResponse:
    html = await container.evaluation.run_report.execute(admin, run_id)
    return report_page(html)


@router.get(
    "/api/models",
    response_model=ModelListOut,
    summary="The models a run or a chat may name, and whether each can be used here",
)
async def list_models(container: ContainerDep, caller: CallerDep) -> ModelListOut:
    models = await container.evaluation.runnable_models.execute()
    return ModelListOut(models=[ModelOut.of(m) for m in models])


@router.get(
    "/api/v1/eval-metrics/overview",
    responses=_NOT_FOUND,
    summary="Headline metrics per model of the latest completed run; admins only",
)
async def metrics_overview(
    container: ContainerDep, admin: AdminDep, run_id: MetricRunId = None
) -> dict[str, Any]:
    return await container.evaluation.run_metrics.overview(admin, run_id)


@router.get(
    "/api/v1/eval-metrics/dimension/{name}",
    responses=_NOT_FOUND,
    summary="Metrics of one dimension per model; admins only",
)
async def metrics_dimension(
    container: ContainerDep,
    admin: AdminDep,
    name: Annotated[str, Path(min_length=1, max_length=64)],
    run_id: MetricRunId = None,
) -> dict[str, Any]:
    return await container.evaluation.run_metrics.dimension(admin, name, run_id)


@router.get(
    "/api/v1/eval-metrics/{metric}/{model}",
    responses=_NOT_FOUND,
    summary="One metric family of a model in an evaluation run: f1, reliability, robustness, "
    "drift, calibration; admins only",
)
async def metrics_for_model(
    container: ContainerDep,
    admin: AdminDep,
    metric: Literal["f1", "reliability", "robustness", "drift", "calibration"],
    model: ModelName,
    run_id: MetricRunId = None,
) -> dict[str, Any]:
    return await container.evaluation.run_metrics.for_model(admin, metric, model, run_id)
